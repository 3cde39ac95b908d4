import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { childDone } from '@pnet/nic';
import { boot, PumpedClock, type System, WORLD } from '../src';

/**
 * The embedded world through `boot()` with no options: DHCP, DNS, example.test's
 * httpbin routes over HTTP and HTTPS, echo.test's WebSocket, TCP and UDP echo,
 * listen, ping; its capture (tshark finds nothing malformed), its replay by seed,
 * and a process that shuts it down exits on its own.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pnet-world-test-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let sys: System;
const mainPcap = join(dir, 'session.pcap');

test.before(async () => {
  sys = await boot({ pcap: mainPcap });
});
// A system left running keeps its world's clock pumping: shut everything down even when a test fails.
test.after.always(() => sys?.shutdown());

function json(b: unknown): any {
  return JSON.parse(String(b));
}

test.serial('boot() with no options: a DHCP lease from the router, with gateway and DNS', (t) => {
  const { network } = sys;
  t.deepEqual(network.ipconfig('eth0'), { ip: WORLD.lan.poolStart, netmask: 24, up: true });
  t.true(network.route.list(0)!.some((r) => r.source === '0.0.0.0' && r.sourceNetmask === 0 && r.destination === WORLD.lan.router));
  t.true(sys.clock.now() >= 1000, 'DHCP plus the ARP probe of the new address took at least the probe wait, in virtual time');
});

test.serial('DNS resolves the .test names through the lease\'s server; an unknown name is an error', async (t) => {
  const dns = sys.stack!.dns;
  t.deepEqual((await dns.resolve('example.test')).map(String), [String(ipNum(WORLD.hosts['example.test']))]);
  t.deepEqual((await dns.resolve('echo.test')).map(String), [String(ipNum(WORLD.hosts['echo.test']))]);
  const [h, err] = await sys.network.get('http://nowhere.test/');
  t.is(h, null);
  t.is(err, 'Unknown host');
});

for (const scheme of ['http', 'https'] as const) {
  const base = `${scheme}://example.test`;
  test.serial(`${scheme}: every httpbin route of the contract`, async (t) => {
    const { network } = sys;
    const get = async (path: string, extra: object = {}) => {
      const [h, err] = await network.get({ url: base + path, ...extra });
      t.is(err, undefined, path);
      const body = await h!.read('*a');
      const code = h!.responseCode();
      const headers = h!.responseHeaders();
      h!.close();
      return { code, body: body as Buffer | null, headers };
    };
    const g = await get('/get?x=1');
    t.is(g.code, 200);
    t.like(json(g.body), { args: { x: '1' }, url: `${base}/get?x=1` });
    t.is(json(g.body).origin, WORLD.lan.poolStart);
    const hd = await get('/headers', { headers: { 'X-Probe': 'yes' } });
    t.is(json(hd.body).headers['X-Probe'], 'yes');
    t.is((await get('/status/418')).code, 418);
    t.is((await get('/status/503')).code, 503);
    const r = await get('/redirect/3');
    t.is(r.code, 200);
    t.is(json(r.body).url, `${base}/get`);
    t.is((await get('/redirect/1', { redirect: false })).code, 302);
    const b = await get('/bytes/3000');
    t.is(b.body!.length, 3000);
    const s = await get('/stream/5');
    t.is(String(s.body).trim().split('\n').length, 5);
    t.is(s.headers['transfer-encoding'], 'chunked');
    const [p] = await network.post(`${base}/post`, 'hello');
    t.is(json(await p!.read('*a')).data, 'hello');
    p!.close();
    const [u] = await network.put(`${base}/put`, Buffer.from('bytes'));
    t.is(json(await u!.read('*a')).data, 'bytes');
    u!.close();
    const [d] = await network.delete(`${base}/delete`);
    t.is(d!.responseCode(), 200);
    d!.close();
    const [a] = await network.post({ url: `${base}/anything/x`, headers: { 'Content-Type': 'application/json' } }, '{"k":2}');
    t.like(json(await a!.read('*a')), { method: 'POST', json: { k: 2 } });
    a!.close();
    const [hh] = await network.head(`${base}/get`);
    t.is(hh!.responseCode(), 200);
    t.is(await hh!.read('*a'), null);
    hh!.close();
    const [o] = await network.options(`${base}/anything`);
    t.is(json(await o!.read('*a')).method, 'OPTIONS');
    o!.close();
    const [data, code] = await network.getData(`${base}/bytes/64`);
    t.is(code, 200);
    t.is(data!.length, 64);
  });
}

async function messageEcho(t: import('ava').ExecutionContext, url: string, messages: string[]): Promise<string[]> {
  const { network } = sys;
  const h = network.connect(url) as any;
  await network.pullEvent('handle_status_change', (e) => e.id === h.id && e.status !== 'connecting');
  t.deepEqual(h.status(), ['open'], url);
  const got: string[] = [];
  h.write(...messages);
  while (got.length < messages.length) {
    const v = h.read('*a');
    if (v === null) await network.pullEvent('handle_data_ready', (e) => e.id === h.id);
    else got.push(String(v));
  }
  h.close();
  return got;
}

test.serial('echo.test: WebSocket echo over ws:// and wss://, UDP echo on port 7', async (t) => {
  t.deepEqual(await messageEcho(t, 'ws://echo.test/', ['one', 'two']), ['one', 'two']);
  t.deepEqual(await messageEcho(t, 'wss://echo.test/', ['three']), ['three']);
  t.deepEqual(await messageEcho(t, 'udp://echo.test:7', ['u1', 'u2']), ['u1', 'u2']);
});

test.serial('echo.test: TCP echo on port 7 (RFC 862)', async (t) => {
  const { network } = sys;
  const h = network.connect('tcp://echo.test:7');
  await network.pullEvent('handle_status_change', (e) => e.id === h.id && e.status !== 'connecting');
  t.deepEqual(h.status(), ['open']);
  const payload = Buffer.alloc(20_000, 'x');
  h.write(payload);
  let n = 0;
  while (n < payload.length) {
    const v = h.read('*a') as Buffer | null;
    if (v === null) await network.pullEvent('handle_data_ready', (e) => e.id === h.id);
    else n += v.length;
  }
  t.is(n, payload.length);
  h.close();
});

test.serial('listen: a TCP listener and an HTTP listener on this host answer connections from it', async (t) => {
  const { network } = sys;
  const me = WORLD.lan.poolStart;
  t.is(await network.listen('tcp://0.0.0.0:9000'), 9000);
  const c = network.connect(`tcp://${me}:9000`);
  const [, req] = await network.pullEvent('network_request');
  t.is(req.ip, me);
  await network.pullEvent('handle_status_change', (e) => e.id === c.id && e.status === 'open');
  c.write('to the listener');
  await network.pullEvent('handle_data_ready', (e) => e.id === req.handle.id);
  t.is(String(req.handle.read('*a')), 'to the listener');
  c.close();
  req.handle.close();
  t.true(await network.unlisten('tcp://0.0.0.0:9000'));

  await network.listen('http://0.0.0.0:8080');
  const served = network.pullEvent('network_request').then(([, r]) => {
    r.handle.setResponseCode(201);
    r.handle.write(`you asked ${r.handle.path()}`);
    r.handle.close();
  });
  const [res] = await network.get(`http://${me}:8080/x`);
  await served;
  t.is(res!.responseCode(), 201);
  t.is(String(await res!.read('*a')), 'you asked /x');
  res!.close();
  await network.unlisten('http://0.0.0.0:8080');
});

test.serial('control ping: the router and example.test answer with network_event pongs', async (t) => {
  const { network } = sys;
  network.events(true);
  for (const ip of [WORLD.lan.router, WORLD.hosts['example.test']]) {
    network.control(ip, 'ping');
    const [, e] = await network.pullEvent('network_event', (p) => p.sender === ip);
    t.is(e.messageType, 'pong');
    t.true(e.rtt > 0);
  }
  network.events(false);
});

test.serial('the capture of the whole session opens in tshark with no malformed packet', async (t) => {
  await sys.shutdown();
  const frames = tshark(t, mainPcap);
  if (frames === null) return;
  t.true(frames.total > 50, `${frames.total} frames`);
  t.deepEqual(frames.malformed, []);
  for (const proto of ['dhcp', 'dns', 'tls', 'http', 'websocket', 'icmp']) t.true(frames.protocols.has(proto), proto);
});

/** The same calls in a fresh world; returns the capture's SHA-256. */
async function replay(t: import('ava').ExecutionContext, seed: number): Promise<string> {
  const file = join(dir, `replay-${seed}-${Math.random().toString(36).slice(2)}.pcap`);
  const s = await boot({ seed, pcap: file });
  t.teardown(() => s.shutdown());
  await s.network.getData('http://example.test/bytes/2000');
  const [h] = await s.network.post('http://example.test/post', 'x');
  await h!.read('*a');
  h!.close();
  const ws = s.network.connect('ws://echo.test/');
  await s.network.pullEvent('handle_status_change', (e) => e.id === ws.id && e.status !== 'connecting');
  ws.write('hi');
  await s.network.pullEvent('handle_data_ready', (e) => e.id === ws.id);
  ws.close();
  const u = s.network.connect('udp://echo.test:7');
  if (u.status()[0] === 'connecting') await s.network.pullEvent('handle_status_change', (e) => e.id === u.id && e.status !== 'connecting');
  u.write('d');
  await s.network.pullEvent('handle_data_ready', (e) => e.id === u.id);
  await s.shutdown();
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

test('the same seed writes the same pcap (SHA-256); another seed does not', async (t) => {
  const a = await replay(t, 42);
  const b = await replay(t, 42);
  const c = await replay(t, 43);
  t.is(a, b);
  t.not(a, c);
});

test('real time, and impairments on the host\'s link (10 % loss each way): the same calls work', async (t) => {
  const real = await boot({ time: 'real' });
  t.teardown(() => real.shutdown());
  const [d, code] = await real.network.getData('https://example.test/bytes/1000');
  t.is(code, 200);
  t.is(d!.length, 1000);
  await real.shutdown();
  // Seeded, so the losses fall the same way every run (with some seeds both DNS attempts are lost).
  const lossy = await boot({ seed: 1, impairments: { loss: 0.1 } });
  t.teardown(() => lossy.shutdown());
  const [d2, code2] = await lossy.network.getData('http://example.test/bytes/60000');
  t.is(code2, 200);
  const clean = await boot({ seed: 6 });
  t.teardown(() => clean.shutdown());
  t.deepEqual(d2, (await clean.network.getData('http://example.test/bytes/60000'))[0]);
  await clean.shutdown();
  t.true(lossy.stack!.tcp.stats.oooSegments > 0, 'segments were lost and arrived out of order after their successors');
  await lossy.shutdown();
});

test('a process that shuts the system down exits on its own', async (t) => {
  const script = `
    require(${JSON.stringify(join(ROOT, 'tools/cli/bin/ts-cache.js'))});
    const { boot } = require(${JSON.stringify(join(ROOT, 'packages/libsystem/src'))});
    (async () => {
      const s = await boot();
      const [d, code] = await s.network.getData('https://example.test/get');
      console.log('got', code, d.length > 0);
      await s.shutdown();
      console.log('shut down');
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  // A hang guard, not a speed check: a process that never exits fails here.
  const guard = setTimeout(() => child.kill('SIGKILL'), 170_000);
  const { code, signal } = await childDone(child);
  clearTimeout(guard);
  t.is(signal, null, `the process had to be killed: ${output}`);
  t.is(code, 0, output);
  t.regex(output, /got 200 true\nshut down/);
});

function ipNum(dotted: string): number {
  return dotted.split('.').reduce((a, p) => a * 256 + Number(p), 0);
}

/** Frames in a capture, the numbers of malformed ones and the protocols seen; null (skipped loudly) without tshark. */
function tshark(t: import('ava').ExecutionContext, file: string): { total: number; malformed: string[]; protocols: Set<string> } | null {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.protocols', '-e', '_ws.malformed'], { encoding: 'utf8' });
  if (r.error) {
    if (process.env.CI === 'true') t.fail('tshark is missing');
    else {
      console.error('*** SKIPPING tshark check: tshark is not installed ***');
      t.pass();
    }
    return null;
  }
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  const protocols = new Set<string>();
  const malformed: string[] = [];
  for (const line of lines) {
    const [n, protos, bad] = line.split('\t');
    for (const p of protos.split(':')) protocols.add(p);
    if (bad || /malformed/.test(protos)) malformed.push(n);
  }
  return { total: lines.length, malformed, protocols };
}

test('PumpedClock: runs events when the process is idle, stops when none is pending, never after stop()', async (t) => {
  const clock = new PumpedClock();
  const order: string[] = [];
  const at = (ms: number) => new Promise<void>((res) => clock.schedule(ms, () => { order.push(`event ${ms}`); res(); }));
  const done = Promise.all([at(5000), at(10)]);
  order.push('scheduled');
  t.true(clock.pumping);
  await done;
  t.deepEqual(order, ['scheduled', 'event 10', 'event 5000']);
  t.is(clock.now(), 5000);
  await new Promise((res) => setImmediate(res));
  t.false(clock.pumping, 'nothing pending: no turn queued (no spinning)');
  clock.schedule(6000, () => order.push('late'));
  t.true(clock.pumping, 'scheduling starts it again');
  clock.stop();
  t.false(clock.pumping);
  await new Promise((res) => setImmediate(res));
  t.is(order.length, 3, 'a stopped clock runs nothing');
  t.is(clock.pending, 1);
});
