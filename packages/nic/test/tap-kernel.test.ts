// TapNic against the real Linux kernel: our frames go into a network namespace the test creates,
// the kernel answers, and its frames come back through our ring. Needs root (skips loudly without;
// fails with CI=true). ARP frames are built by hand here: the tcpip layer is not used.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import {
  formatMac, MacAddress, PcapWriter, readMac, requireRoot, TapNic, TapUnavailableError, TestHost, writeMac, BROADCAST_MAC,
  ZERO_MAC, parseMac,
  childDone,
} from '../src';
import { TSHARK, tsharkVerdict } from './helpers/tshark';

const rootTest = requireRoot(test);
const ROOT = path.resolve(__dirname, '..', '..', '..');
const TS_NODE = require.resolve('ts-node/register/transpile-only');

/** Hang guard for waits on the kernel (not an assertion on speed: a broken exchange fails instead of hanging). */
const GUARD_MS = 120000;

function ipBytes(a: string): number[] {
  return a.split('.').map(Number);
}

/** An ARP frame (Ethernet II + ARP for IPv4), padded to the 60-byte Ethernet minimum. */
function arpFrame(o: { dst: MacAddress; src: MacAddress; op: 1 | 2; senderMac: MacAddress; senderIp: string; targetMac: MacAddress; targetIp: string }): Uint8Array {
  const f = new Uint8Array(60);
  writeMac(f, 0, o.dst);
  writeMac(f, 6, o.src);
  f[12] = 0x08; f[13] = 0x06; // EtherType ARP
  f[14] = 0; f[15] = 1; // hardware: Ethernet
  f[16] = 0x08; f[17] = 0x00; // protocol: IPv4
  f[18] = 6; f[19] = 4;
  f[20] = 0; f[21] = o.op;
  writeMac(f, 22, o.senderMac);
  f.set(ipBytes(o.senderIp), 28);
  writeMac(f, 32, o.targetMac);
  f.set(ipBytes(o.targetIp), 38);
  return f;
}

interface ParsedArp { dst: MacAddress; src: MacAddress; op: number; senderMac: MacAddress; senderIp: string; targetMac: MacAddress; targetIp: string }

function parseArp(f: Uint8Array): ParsedArp | null {
  if (f.length < 42 || f[12] !== 0x08 || f[13] !== 0x06) return null;
  return {
    dst: readMac(f, 0), src: readMac(f, 6), op: (f[20] << 8) | f[21],
    senderMac: readMac(f, 22), senderIp: [...f.subarray(28, 32)].join('.'),
    targetMac: readMac(f, 32), targetIp: [...f.subarray(38, 42)].join('.'),
  };
}

interface Received { frame: Uint8Array; timestamp: number }

/** Drains `nic.rx` on every receive notification, keeping copies of the frames. */
function collect(nic: TapNic): Received[] {
  const got: Received[] = [];
  nic.onReceive(() => {
    for (let v = nic.rx.peek(); v !== null; v = nic.rx.peek()) {
      got.push({ frame: v.data.slice(0, v.length), timestamp: v.timestamp });
      nic.rx.release();
    }
  });
  return got;
}

async function waitUntil<T>(what: string | (() => string), probe: () => T | null | undefined | false): Promise<T> {
  const deadline = Date.now() + GUARD_MS;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting (${GUARD_MS} ms) for: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** GARP for our address, then an ARP request for the kernel's: the kernel learns us, and its reply comes back. */
async function arpExchange(t: import('ava').ExecutionContext, host: TestHost, withPcap: boolean): Promise<void> {
  const nic = host.nic!;
  const us = nic.capabilities.mac;
  const got = collect(nic);
  const pcapPath = path.join(host.dir, 'arp.pcap');
  const pcap = withPcap ? new PcapWriter({ path: pcapPath }) : null;
  pcap?.tapNic(nic);

  // 1. Gratuitous ARP (a request for our own address). With arp_accept=1 the kernel creates an entry from it.
  const garp = arpFrame({ dst: BROADCAST_MAC, src: us, op: 1, senderMac: us, senderIp: host.peerAddress, targetMac: ZERO_MAC, targetIp: host.peerAddress });
  t.true(nic.transmit(garp), 'GARP sent');
  const learned = await waitUntil('the kernel to learn our MAC from the gratuitous ARP', () =>
    host.neighbours().find((n) => n.ip === host.peerAddress && n.mac === us));
  t.is(learned.mac, us);

  // 2. ARP request for the kernel's address; it answers us, and records us (again) as a neighbour.
  const sentAt = nic['clock'].now();
  const req = arpFrame({ dst: BROADCAST_MAC, src: us, op: 1, senderMac: us, senderIp: host.peerAddress, targetMac: ZERO_MAC, targetIp: host.address });
  t.true(nic.transmit(req), 'ARP request sent');
  const reply = await waitUntil(() => `the kernel's ARP reply in our ring (counters ${JSON.stringify(nic.counters)}, kernel ${JSON.stringify(host.kernelStats())})`, () =>
    got.find((r) => parseArp(r.frame)?.op === 2));
  const kernelMac = host.kernelMac();
  const arp = parseArp(reply.frame)!;
  t.is(formatMac(arp.dst), formatMac(us), 'reply is addressed to our MAC');
  t.is(formatMac(arp.src), formatMac(kernelMac), 'reply comes from the kernel interface');
  t.is(arp.senderIp, host.address);
  t.is(formatMac(arp.senderMac), formatMac(kernelMac));
  t.is(arp.targetIp, host.peerAddress);
  t.is(formatMac(arp.targetMac), formatMac(us));
  t.true(reply.timestamp >= sentAt, 'ingress timestamp is on the NIC clock, after the request went out');

  const entry = host.neighbours().find((n) => n.ip === host.peerAddress);
  t.truthy(entry, `kernel neighbour table has ${host.peerAddress}: ${host.nsIp('neigh')}`);
  t.is(entry!.mac, us);
  t.is(host.nsIp('neigh', 'show', host.peerAddress).includes(formatMac(us)), true);

  // Our counters match what crossed, and the kernel saw our two frames.
  const c = nic.counters;
  t.is(c.txPackets, 2);
  t.is(c.txBytes, 120);
  t.is(c.txDrops + c.txErrors, 0);
  t.is(c.rxPackets, got.length);
  t.is(c.rxBytes, got.reduce((s, r) => s + r.frame.length, 0));
  t.is(c.rxErrors + c.rxDrops, 0);
  t.true(host.kernelStats().rxPackets >= 2, 'kernel counted our frames');

  if (pcap) {
    pcap.close();
    t.is(pcap.packets, 2 + got.length);
    if (TSHARK) {
      const verdict = tsharkVerdict(TSHARK, pcapPath);
      t.is(verdict.frames, 2 + got.length);
      t.deepEqual(verdict.problems, [], verdict.expert);
      const ops = spawnSync(TSHARK, ['-n', '-r', pcapPath, '-Y', 'arp', '-T', 'fields', '-e', 'arp.opcode', '-e', 'arp.src.proto_ipv4'], { encoding: 'utf8' });
      t.is(ops.status, 0, ops.stderr);
      const lines = ops.stdout.trim().split('\n');
      t.deepEqual(lines.slice(0, 2), [`1\t${host.peerAddress}`, `1\t${host.peerAddress}`]);
      t.true(lines.includes(`2\t${host.address}`), `tshark sees the kernel's reply: ${ops.stdout}`);
    } else if (process.env.CI === 'true') {
      t.fail('tshark is required with CI=true');
    } else {
      console.warn('\n*** tshark not found: the capture was written but not checked with tshark ***\n');
    }
  }
}

rootTest('main thread: the kernel learns our MAC (GARP, ARP request) and its ARP reply lands in our ring; tshark reads the capture cleanly', async (t) => {
  const host = await TestHost.create(t, { arpAccept: true, label: 'arp' });
  t.is(host.nic!.mode, 'main');
  await arpExchange(t, host, true);
});

rootTest('worker thread: the same exchange through the shared rx and tx rings', async (t) => {
  const host = await TestHost.create(t, { arpAccept: true, label: 'arp-worker', tap: { worker: true } });
  t.is(host.nic!.mode, 'worker');
  t.true(host.nic!.rx.buffer instanceof SharedArrayBuffer);
  await arpExchange(t, host, true);
});

for (const worker of [false, true]) {
  rootTest(`a full receive ring drops (and counts) what does not fit, and keeps the device drained (${worker ? 'worker' : 'main'} mode)`, async (t) => {
    const host = await TestHost.create(t, { label: 'ringfull', tap: { rxSlots: 2, worker } });
    const nic = host.nic!;
    const us = nic.capabilities.mac;
    const tapped: number[] = [];
    nic.addTap((dir, _f, len) => { if (dir === 'rx') tapped.push(len); });
    // Nobody consumes rx: replies pile up in a 2-slot ring.
    for (let i = 0; i < 5; i++) {
      nic.transmit(arpFrame({ dst: BROADCAST_MAC, src: us, op: 1, senderMac: us, senderIp: host.peerAddress, targetMac: ZERO_MAC, targetIp: host.address }));
    }
    await waitUntil(() => `5 replies received or dropped: ${JSON.stringify(nic.counters)}`, () => nic.counters.rxPackets + nic.counters.rxDrops >= 5);
    t.is(nic.counters.rxPackets, 2);
    t.is(nic.counters.rxDrops, 3);
    t.is(nic.rx.size, 2);
    t.deepEqual(tapped, [42, 42], 'taps saw exactly the frames that made it into the ring');
    // Once the consumer makes room, new frames get in again.
    nic.rx.clear();
    nic.transmit(arpFrame({ dst: BROADCAST_MAC, src: us, op: 1, senderMac: us, senderIp: host.peerAddress, targetMac: ZERO_MAC, targetIp: host.address }));
    await waitUntil('one more reply', () => nic.counters.rxPackets + nic.counters.rxDrops >= 6);
    t.is(nic.counters.rxPackets, 3);
    t.is(nic.rx.size, 1);
  });
}

for (const offload of [undefined, false]) {
rootTest(`frames longer than our MTU allows are counted as rx errors, and the ring stays usable (offload ${offload === undefined ? 'by default' : 'off'})`, async (t) => {
  // Our side takes 576-byte IP packets; the kernel side keeps 1500 and pings us with 1000 bytes.
  // With offload (64 KiB slots for GSO frames) the addon still counts a plain frame that long as a giant.
  const host = await TestHost.create(t, { label: offload === undefined ? 'giant' : 'giantp', mtu: 1500, tap: { mtu: 576, offload } });
  const nic = host.nic!;
  t.is(nic.offload, offload === undefined, 'offload is on by default in the main thread');
  const got = collect(nic);
  host.nsIp('neigh', 'replace', host.peerAddress, 'lladdr', formatMac(nic.capabilities.mac), 'dev', host.ifname, 'nud', 'permanent');
  await host.exec(['ping', '-n', '-c', '1', '-W', '1', '-s', '1000', host.peerAddress], { check: false });
  await waitUntil('the oversized echo request to be counted', () => nic.counters.rxErrors >= 1);
  t.is(nic.counters.rxErrors, 1);
  t.is(got.filter((r) => r.frame.length > nic.maxFrameSize).length, 0);
  // A small one still arrives intact.
  await host.exec(['ping', '-n', '-c', '1', '-W', '1', '-s', '100', host.peerAddress], { check: false });
  const echo = await waitUntil('a 142-byte echo request', () => got.find((r) => r.frame.length === 142 && r.frame[23] === 1));
  t.is(echo.frame[12], 0x08);
  t.is(echo.frame[13], 0x00);
});
}

rootTest('link administratively down: transmit drops, received frames are dropped and counted', async (t) => {
  const host = await TestHost.create(t, { label: 'down' });
  const nic = host.nic!;
  const us = nic.capabilities.mac;
  host.nsIp('neigh', 'replace', host.peerAddress, 'lladdr', formatMac(us), 'dev', host.ifname, 'nud', 'permanent');
  nic.setLinkUp(false);
  t.false(nic.transmit(arpFrame({ dst: BROADCAST_MAC, src: us, op: 1, senderMac: us, senderIp: host.peerAddress, targetMac: ZERO_MAC, targetIp: host.address })));
  t.is(nic.counters.txDrops, 1);
  await host.exec(['ping', '-n', '-c', '1', '-W', '1', host.peerAddress], { check: false });
  await waitUntil('the echo request to be dropped', () => nic.counters.rxDrops >= 1);
  t.is(nic.counters.rxPackets, 0);
  t.is(nic.rx.size, 0);
});

for (const worker of [false, true]) {
  rootTest(`the device going away (its namespace deleted) drops carrier (${worker ? 'worker' : 'main'} mode)`, async (t) => {
    const host = await TestHost.create(t, { label: 'gone', tap: { worker } });
    const nic = host.nic!;
    const changes: boolean[] = [];
    nic.onLinkChange((up) => changes.push(up));
    t.true(nic.linkUp);
    spawnSync('ip', ['netns', 'del', host.ns]);
    await waitUntil('carrier to drop', () => !nic.linkUp);
    t.deepEqual(changes, [false]);
    t.truthy(nic.lastError);
    t.false(nic.transmit(new Uint8Array(60)));
    t.is(nic.counters.txDrops, 1);
  });
}

rootTest('kernelMtu sets the kernel-side MTU; close removes the interface', async (t) => {
  const nic = TapNic.open({ mac: parseMac('02:00:00:00:00:42'), mtu: 1400, kernelMtu: true, name: uniqueName('m') });
  t.teardown(() => nic.close());
  const show = JSON.parse(spawnSync('ip', ['-j', 'link', 'show', 'dev', nic.ifname], { encoding: 'utf8' }).stdout) as { mtu: number }[];
  t.is(show[0].mtu, 1400);
  t.is(nic.maxFrameSize, 1418);
  nic.close();
  nic.close(); // idempotent
  await nic.whenClosed;
  t.not(spawnSync('ip', ['link', 'show', 'dev', nic.ifname]).status, 0, 'interface gone after close');
  t.false(nic.linkUp);
  t.false(nic.transmit(new Uint8Array(60)));
});

rootTest('a TapNic opened by name attaches to that interface; a second open of the same name is refused clearly', async (t) => {
  const name = uniqueName('x');
  const a = TapNic.open({ mac: parseMac('02:00:00:00:00:43'), name });
  t.teardown(() => a.close());
  t.is(a.ifname, name);
  const e = t.throws(() => TapNic.open({ mac: parseMac('02:00:00:00:00:44'), name }));
  t.regex(e!.message, /busy|refused/);
});

function runChild(script: string, opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', TS_NODE, '-e', script], {
      cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', ...opts.env }, uid: opts.uid, gid: opts.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    // Hang guard: a child that does not exit on its own is killed, and the test sees the signal.
    const guard = setTimeout(() => child.kill('SIGKILL'), 240000);
    void childDone(child).then(({ code, signal }) => {
      clearTimeout(guard);
      resolve({ code, signal, out });
    });
  });
}

const NIC_SRC = JSON.stringify(path.join(ROOT, 'packages', 'nic', 'src'));

/** Interface names are reused as soon as a device is gone: checks that a device is gone need a name nobody else uses. */
function uniqueName(tag: string): string {
  return `pk${process.pid.toString(36)}${tag}`;
}

for (const worker of [false, true]) {
  rootTest(`clean close (${worker ? 'worker' : 'main'} mode): a child that opens, uses and closes a TAP exits on its own`, async (t) => {
    const r = await runChild(`
      const { TapNic, parseMac } = require(${NIC_SRC});
      const nic = TapNic.open({ mac: parseMac('02:00:00:00:00:51'), worker: ${worker}, name: '${uniqueName(worker ? 'w' : 'c')}' });
      console.log('IF=' + nic.ifname);
      nic.onReceive(() => {});
      nic.transmit(new Uint8Array(60));
      nic.close();
      nic.whenClosed.then(() => console.log('closed'));
    `);
    t.is(r.signal, null, r.out);
    t.is(r.code, 0, r.out);
    t.regex(r.out, /closed/);
    const ifname = /IF=(\S+)/.exec(r.out)![1];
    t.not(spawnSync('ip', ['link', 'show', 'dev', ifname]).status, 0, 'interface gone');
  });

  rootTest(`an open TAP does not keep the process alive (${worker ? 'worker' : 'main'} mode, unref'd by default)`, async (t) => {
    const r = await runChild(`
      const { TapNic, parseMac } = require(${NIC_SRC});
      const nic = TapNic.open({ mac: parseMac('02:00:00:00:00:52'), worker: ${worker} });
      nic.onReceive(() => {});
      console.log('open ' + nic.ifname);
    `);
    t.is(r.signal, null, r.out);
    t.is(r.code, 0, r.out);
    t.regex(r.out, /open pnet\d+/, r.out);
  });
}

test('TapNic.open rejects bad options with clear errors (no root needed)', (t) => {
  t.throws(() => TapNic.open({ mac: parseMac('02:00:00:00:00:01'), name: 'much-too-long-interface-name' }), { instanceOf: RangeError, message: /15 characters/ });
  t.throws(() => TapNic.open({ mac: parseMac('02:00:00:00:00:01'), name: 'a/b' }), { instanceOf: RangeError });
  t.throws(() => TapNic.open({} as never), { instanceOf: TypeError, message: /mac/ });
  t.throws(() => TapNic.open({ mac: parseMac('02:00:00:00:00:01'), worker: true, offload: true }), { instanceOf: RangeError, message: /main thread only/ });
  t.throws(() => TapNic.open({ mac: parseMac('02:00:00:00:00:01'), offload: 'yes' as never }), { instanceOf: TypeError, message: /offload/ });
});

test('without the addon, TapNic.open says it is not built and how to build it', async (t) => {
  const r = await runChild(`
    const { TapNic, TapUnavailableError, parseMac } = require(${NIC_SRC});
    try { TapNic.open({ mac: parseMac('02:00:00:00:00:01') }); console.log('OPENED'); }
    catch (e) { console.log(e instanceof TapUnavailableError, e.code, e.message); }
  `, { env: { PNET_TAP_ADDON: '/nonexistent/pnet_tap.node' } });
  t.is(r.code, 0, r.out);
  t.notRegex(r.out, /OPENED/);
  t.regex(r.out, /^true ENOADDON TapNic unavailable: the native addon is not built \(\/nonexistent\/pnet_tap.node is missing\): run `node packages\/nic\/native\/build.js`/m);
});

rootTest('without root, TapNic.open says it needs root or CAP_NET_ADMIN (child running as nobody)', async (t) => {
  const r = await runChild(`
    const { TapNic, TapUnavailableError, hostSupport, parseMac } = require(${NIC_SRC});
    try { TapNic.open({ mac: parseMac('02:00:00:00:00:01') }); console.log('OPENED'); }
    catch (e) { console.log(e instanceof TapUnavailableError, e.code, e.message); }
    console.log('support', JSON.stringify(hostSupport()));
  `, { uid: 65534, gid: 65534 });
  t.is(r.code, 0, r.out);
  t.notRegex(r.out, /OPENED/);
  t.regex(r.out, /^true (EPERM|EACCES) TapNic unavailable: .*(root or CAP_NET_ADMIN|run as root)/m);
  t.regex(r.out, /support \{"ok":false,"reason":"needs root/);
});

test('TapUnavailableError carries the reason and a code', (t) => {
  const e = new TapUnavailableError('no tun', 'ENOTUN');
  t.is(e.message, 'TapNic unavailable: no tun');
  t.is(e.reason, 'no tun');
  t.is(e.code, 'ENOTUN');
});

rootTest('the addon\'s entry points reject arguments of the wrong kind with their usage (no undefined read as 0)', (t) => {
  const nic = TapNic.open({ mac: parseMac('02:00:00:00:00:53') });
  try {
    const { addon, handle } = nic as unknown as { addon: Record<string, (...a: unknown[]) => unknown>; handle: unknown };
    const usage = (name: string) => ({ instanceOf: TypeError, message: new RegExp(`pnet tap addon: ${name}\\(`) });
    t.throws(() => addon.write(handle, 'not bytes', 10), usage('write'));
    t.throws(() => addon.write(handle, new Uint8Array(64)), usage('write'), 'a missing length');
    t.throws(() => addon.write(handle, new Uint8Array(64), 64, 'big'), usage('write'), 'a gsoSize that is not a number');
    t.throws(() => addon.readBatch(handle, undefined, 4, new Int32Array(4), new Int32Array(3)), usage('readBatch'));
    t.throws(() => addon.readBatch(handle, 0, 4, new Int32Array(4), new Int32Array(2)), usage('readBatch'), 'status too short');
    t.throws(() => addon.readBatch(handle, 0, 4, new Int32Array(4), new Int32Array(3), new Uint8Array(4)), usage('readBatch'));
    t.throws(() => addon.discard(handle), usage('discard'));
    t.throws(() => addon.setRef(handle, 1), usage('setRef'));
    t.throws(() => addon.setCompleteRx(handle), usage('setCompleteRx'));
    t.throws(() => addon.setWireMtu(handle, '1500'), usage('setWireMtu'));
    t.throws(() => addon.completeChecksum(new Uint8Array(60), 61), usage('completeChecksum'), 'length past the array');
    t.throws(() => addon.bindRing(handle, new Uint8Array(64), 0, 64, 64, 1), usage('bindRing'), 'six of seven arguments');
    // The good forms still work: an optional gsoSize left undefined is no gsoSize.
    const frame = new Uint8Array(60);
    frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x53, 0x88, 0xb5]);
    const wrote = addon.write(handle, frame, 60, undefined) as number;
    t.true(wrote === 60 || wrote < 0, `write returned ${wrote}`);
  } finally {
    nic.close();
  }
});
