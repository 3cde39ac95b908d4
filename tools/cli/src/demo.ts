/**
 * `pnpm start`: a narrated tour of Phoenix's `system.network` on pnet, in the
 * embedded world (a DHCP router, DNS for `.test`, `example.test` and
 * `echo.test` on simulated links, in virtual time). Every call is printed with
 * its result and how long it took, in virtual time (what the simulated network
 * took) and on the wall clock (what this machine took to compute it). The
 * whole session is captured to a pcap.
 *
 * Options: --pcap <file> (default: pnet-demo.pcap in the OS temp directory),
 * --seed <n> (default 2026), --real (real time instead of virtual time).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { System } from '@pnet/libsystem';

// `pnpm start` loads this file through the CLI's caching loader (a second start compiles
// nothing); run another way (ts-node), the stack still loads through it.
(require('../bin/ts-cache') as { install(force: boolean): void }).install(true);
const { boot } = require('@pnet/libsystem') as typeof import('@pnet/libsystem');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const say = (s = '') => console.log(s);
let step = 0;

function show(value: unknown, max = 300): string {
  let s: string;
  if (Buffer.isBuffer(value)) s = value.length <= 24 ? `<${value.length} bytes: ${value.toString('hex')}>` : `<${value.length} bytes>`;
  else if (typeof value === 'string') s = JSON.stringify(value);
  else s = JSON.stringify(value);
  s = s.replace(/\s+/g, ' ');
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** A JSON body on one line; other text as is, trimmed. */
function compact(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return JSON.stringify(text.trim());
  }
}

async function main(): Promise<void> {
  const pcapPath = path.resolve(option('pcap', path.join(os.tmpdir(), 'pnet-demo.pcap')));
  const seed = Number(option('seed', '2026'));
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${option('seed', '')}`);
  const time = process.argv.includes('--real') ? 'real' : 'virtual';
  const wallStart = performance.now();

  say(`pnet: Phoenix's system.network on a TypeScript network stack, in the embedded world (${time} time, seed ${seed})`);
  say(`Every line shows the call, its result, and [${time} ms | wall ms] it took.\n`);

  const sys: System = await boot({ time, seed, pcap: pcapPath });
  const { network } = sys;
  const clock = sys.clock;

  /** Runs one call, timing it in virtual and wall time. */
  async function call<T>(label: string, fn: () => T | Promise<T>, describe: (v: T) => string = show): Promise<T> {
    const v0 = clock.now();
    const w0 = performance.now();
    const value = await fn();
    const dv = clock.now() - v0;
    const dw = performance.now() - w0;
    say(`   ${label}`);
    say(`     -> ${describe(value)}   [${dv.toFixed(1)} ms | ${dw.toFixed(1)} ms]`);
    return value;
  }
  const section = (title: string) => say(`\n${++step}. ${title}`);

  section('Booting: this host got its address from the router by DHCP');
  say(`   boot() took ${clock.now().toFixed(1)} ms of virtual time (DISCOVER, OFFER, REQUEST, ACK, then an ARP probe of the address)`);
  await call("network.ipconfig('eth0')", () => network.ipconfig('eth0'));
  await call('network.route.list(0)  (table 0: the lease\'s routes)', () => network.route.list(0),
    (r) => (r ?? []).map((x) => `${x.source}/${x.sourceNetmask} ${x.action}${x.destination ? ' via ' + x.destination : ''}${x.device ? ' dev ' + x.device : ''}`).join('; '));

  section('DNS: names under .test come from the router\'s DNS server');
  const stack = sys.stack!;
  const resolved = await call("stack.dns.resolve('example.test')", () => stack.dns.resolve('example.test') as Promise<number[]>,
    (a) => a.map((x) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.')).join(', '));
  await call("stack.dns.resolve('example.test')  (asked again: from the cache)", () => stack.dns.resolve('example.test') as Promise<number[]>,
    (a) => a.map((x) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.')).join(', '));
  const exampleIp = [resolved[0] >>> 24, (resolved[0] >>> 16) & 255, (resolved[0] >>> 8) & 255, resolved[0] & 255].join('.');

  section('ICMP: ping the router and example.test (replies arrive as network_event; the first packet to example.test waits for the router\'s ARP)');
  network.events(true);
  for (const ip of ['192.0.2.1', exampleIp, exampleIp]) {
    await call(`network.control('${ip}', 'ping'); network.pullEvent('network_event')`, async () => {
      network.control(ip, 'ping');
      const [, e] = await network.pullEvent('network_event', (p) => p.sender === ip);
      return e;
    });
  }
  network.events(false);
  await call("network.arp.list('eth0')  (the router's MAC, learnt on the way)", () => network.arp.list('eth0'));

  section('HTTP: every method against example.test\'s httpbin routes');
  const body = async (h: { read(m: string): Promise<unknown> }) => String(await h.read('*a'));
  for (const [label, fn] of [
    ["network.get('http://example.test/get')", () => network.get('http://example.test/get')],
    ["network.head('http://example.test/get')", () => network.head('http://example.test/get')],
    ["network.options('http://example.test/anything')", () => network.options('http://example.test/anything')],
    ["network.post('http://example.test/post', 'hello=world')", () => network.post({ url: 'http://example.test/post', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 'hello=world')],
    ["network.put('http://example.test/put', '{\"n\":1}')", () => network.put({ url: 'http://example.test/put', headers: { 'Content-Type': 'application/json' } }, '{"n":1}')],
    ["network.delete('http://example.test/delete')", () => network.delete('http://example.test/delete')],
    ["network.get('http://example.test/status/418')  (4xx is data, not an error)", () => network.get('http://example.test/status/418')],
    ["network.get('http://example.test/redirect/2')  (redirects followed)", () => network.get('http://example.test/redirect/2')],
  ] as const) {
    await call(label, async () => {
      const [h, err] = await fn();
      if (!h) return `[null, ${JSON.stringify(err)}]`;
      const text = await body(h);
      const summary = h.responseCode() && text !== 'null' && text.length > 0 ? compact(text) : '(no body)';
      const code = h.responseCode();
      const type = h.responseHeaders()['content-type'] ?? '';
      const allow = h.responseHeaders()['allow'];
      h.close();
      return `${code} ${type}${allow ? ` allow=${allow}` : ''} ${summary}`;
    }, (s) => (s.length > 200 ? `${s.slice(0, 200)}...` : s));
  }
  await call("network.getData('http://example.test/bytes/16')", () => network.getData('http://example.test/bytes/16'),
    (r) => `[${show(r[0])}, ${r[1]}]`);
  await call("network.get('http://example.test/stream/3')  (chunked; read line by line)", async () => {
    const [h, err] = await network.get({ url: 'http://example.test/stream/3', encoding: 'text' });
    if (!h) return [`error ${err}`];
    const lines: string[] = [];
    for (let line = await h.read('*l'); line !== null; line = await h.read('*l')) lines.push(String(line).slice(0, 30) + '...');
    h.close();
    return lines;
  });
  await call("network.get('http://nowhere.test/')  (an unknown name)", async () => {
    const [h, err] = await network.get('http://nowhere.test/');
    return h ? h.responseCode() : `[null, ${JSON.stringify(err)}]`;
  });

  section('HTTPS: the same server over TLS, with a certificate from the world\'s CA (this host trusts it)');
  await call("network.get('https://example.test/get')", async () => {
    const [h, err] = await network.get({ url: 'https://example.test/get', encoding: 'text' });
    if (!h) return `[null, ${JSON.stringify(err)}]`;
    const j = JSON.parse(String(await h.read('*a')));
    const code = h.responseCode();
    h.close();
    return `${code} url=${j.url}`;
  });
  await call("network.getData('https://example.test/anything?q=1')  (resumed TLS session)", async () => {
    const [d, code] = await network.getData('https://example.test/anything?q=1');
    return d ? `${code} method=${JSON.parse(String(d)).method} args=${JSON.stringify(JSON.parse(String(d)).args)}` : `error ${code}`;
  });

  section('WebSocket echo on echo.test (handle events: handle_status_change, handle_data_ready)');
  for (const url of ['ws://echo.test/', 'wss://echo.test/']) {
    await call(`network.connect('${url}'); write('hello over ${url.split(':')[0]}'); read()`, async () => {
      const ws = network.connect(url);
      await network.pullEvent('handle_status_change', (e) => e.id === ws.id && e.status !== 'connecting');
      if (ws.status()[0] !== 'open') return ws.status();
      ws.write(`hello over ${url.split(':')[0]}`);
      await network.pullEvent('handle_data_ready', (e) => e.id === ws.id);
      const got = ws.read('*a');
      ws.close();
      return got;
    });
  }

  section('TCP and UDP echo (RFC 862) on echo.test port 7, through connect');
  await call("network.connect('tcp://echo.test:7'); write('ping over TCP\\n'); read('*l')", async () => {
    const tcp = network.connect('tcp://echo.test:7');
    await network.pullEvent('handle_status_change', (e) => e.id === tcp.id && e.status !== 'connecting');
    if (tcp.status()[0] !== 'open') return tcp.status();
    tcp.write('ping over TCP\n');
    await network.pullEvent('handle_data_ready', (e) => e.id === tcp.id);
    const line = tcp.read('*l');
    const local = tcp.localIP();
    tcp.close();
    return { line: String(line), localIP: local };
  });
  await call("network.connect('udp://echo.test:7'); write('ping over UDP'); read()", async () => {
    const udp = network.connect('udp://echo.test:7');
    if (udp.status()[0] === 'connecting') await network.pullEvent('handle_status_change', (e) => e.id === udp.id && e.status !== 'connecting');
    udp.write('ping over UDP');
    await network.pullEvent('handle_data_ready', (e) => e.id === udp.id);
    const got = String(udp.read('*a'));
    udp.close();
    return got;
  });

  section('Hosting: listen, and a request to ourselves arrives as network_request');
  const port = await call("network.listen('http://0.0.0.0:8080')", () => network.listen('http://0.0.0.0:8080'));
  const me = network.ipconfig('eth0')!.ip as string;
  await call(`network.get('http://${me}:${port}/hello') answered by our own handler`, async () => {
    const served = (async () => {
      const [, req] = await network.pullEvent('network_request');
      const h = req.handle;
      h.setResponseCode(200);
      h.setResponseHeader('Content-Type', 'text/plain');
      h.write(`hi ${req.ip}, you asked for ${h.path()}\n`);
      h.close();
      return req.uri;
    })();
    const [res, err] = await network.get({ url: `http://${me}:${port}/hello`, encoding: 'text' });
    const uri = await served;
    if (!res) return `[null, ${JSON.stringify(err)}]`;
    const text = String(await res.read('*a'));
    const code = res.responseCode();
    res.close();
    return `${code} ${JSON.stringify(text)} (network_request uri ${uri})`;
  });
  await call("network.unlisten('http://0.0.0.0:8080')", () => network.unlisten('http://0.0.0.0:8080'));

  section('Shutting down');
  const stats = stack.stats.all() as Record<string, { rx?: number; tx?: number }>;
  const totals = Object.entries(stats).filter(([, s]) => s && typeof s.rx === 'number').map(([k, s]) => `${k} ${s.rx}/${s.tx}`).join(', ');
  say(`   packets in/out by protocol: ${totals}`);
  const virtualTotal = clock.now();
  await call('system.shutdown()  (releases the lease, closes every server, link and timer)', () => sys.shutdown(), () => 'done');
  say(`\nThe whole session took ${(virtualTotal / 1000).toFixed(3)} s of ${time} time and ${((performance.now() - wallStart) / 1000).toFixed(2)} s on the wall clock`);
  say(`(plus ${(wallStart / 1000).toFixed(1)} s before it, starting Node and loading the TypeScript).`);
  say(`Every frame this host sent and received is in ${pcapPath}`);
  say(`   open it with: tshark -r ${pcapPath}   (or wireshark)`);
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
