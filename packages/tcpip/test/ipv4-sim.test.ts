/**
 * Whole stacks over simulated media, in virtual time: two hosts on a SimLink,
 * three across a router, several on a SimSwitch; ping, UDP echo, 8 KB
 * fragmented datagrams under loss, duplication and reordering.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Impairments, PcapWriter, Rng, SimLink, SimNic, SimSwitch, VirtualClock, localMac } from '@pnet/nic';
import { Stack } from '../src';
import { Ipv4Address, formatIpv4, parseIpv4 as ip } from '../src/wire/ipv4-address';
import { parseEthernet } from '../src/wire/ethernet';
import { parseIpv4Header } from '../src/wire/ipv4';

let macs = 1;
function host(clock: VirtualClock, name: string, seed: number, forwarding = false): Stack {
  return new Stack({ clock, rng: new Rng(seed), name, forwarding });
}
function nic(clock: VirtualClock, name: string, mtu = 1500): SimNic {
  return new SimNic({ name, mac: localMac(macs++), clock, mtu });
}

/** Two stacks, A = 192.0.2.1 and B = 192.0.2.2, on one cable. */
function pair(link: { aToB?: Impairments; bToA?: Impairments; delay?: number; seed?: number } = {}) {
  const clock = new VirtualClock();
  const a = host(clock, 'a', 11), b = host(clock, 'b', 22);
  const na = nic(clock, 'a0'), nb = nic(clock, 'b0');
  const cable = new SimLink({ clock, delay: link.delay ?? 1, seed: link.seed ?? 5, aToB: link.aToB, bToA: link.bToA }).connect(na, nb);
  a.addInterface(na, { ip: '192.0.2.1', netmask: 24 });
  b.addInterface(nb, { ip: '192.0.2.2', netmask: 24 });
  a.start(); b.start();
  return { clock, a, b, cable };
}

/** A recognisable datagram: index in the first 4 bytes, then a pattern from a seed. */
function datagram(i: number, size: number): Uint8Array {
  const d = new Rng(1000 + i).fill(new Uint8Array(size));
  new DataView(d.buffer).setUint32(0, i);
  return d;
}

function udpEchoServer(stack: Stack, port = 7): void {
  const s = stack.udp.bind({ port });
  s.on('message', (d, r) => { s.send(d, r.port, r.address); });
}

test('two hosts: ping both ways, RTT is twice the link delay after ARP', async (t) => {
  const { clock, a, b } = pair({ delay: 3 });
  clock.runUntil(10); // the gratuitous ARPs of the configuration are over
  const first = await clock.drive(a.icmp.ping(ip('192.0.2.2')));
  t.is(first.rtt, 12, 'ARP request/reply, then echo request/reply');
  const again = await clock.drive(a.icmp.ping(ip('192.0.2.2')));
  t.is(again.rtt, 6);
  t.is(again.ttl, 64);
  const back = await clock.drive(b.icmp.ping(ip('192.0.2.1'), { size: 1000 }));
  t.deepEqual([back.rtt, back.bytes], [6, 1000]);
  const big = await clock.drive(a.icmp.ping(ip('192.0.2.2'), { size: 8000 }));
  t.is(big.bytes, 8000);
  t.is(b.ip.reassembled, 1);
  t.is(a.ip.reassembled, 1);
  t.is(a.stats.totalDrops(), 0);
  t.is(b.stats.totalDrops(), 0);
});

test('two hosts: UDP echo keeps data and addresses', async (t) => {
  const { clock, a, b } = pair();
  udpEchoServer(b);
  const c = a.udp.bind();
  const got: string[] = [];
  const done = new Promise<void>((res) => c.on('message', (d, r) => { got.push(`${d} ${formatIpv4(r.address)}:${r.port}`); if (got.length === 3) res(); }));
  for (const m of ['one', 'two', 'three']) c.send(m, 7, '192.0.2.2');
  await clock.drive(done);
  t.deepEqual(got, ['one 192.0.2.2:7', 'two 192.0.2.2:7', 'three 192.0.2.2:7']);
});

test('two hosts: 8 KB datagrams under loss, duplication and reordering arrive whole or not at all', (t) => {
  const { clock, a, b, cable } = pair({ aToB: { loss: 0.04, duplicate: 0.05, reorder: 0.3, reorderGap: 3 }, seed: 9 });
  // Which fragments reached B, by IP id (from a tap on the cable).
  const arrived = new Map<number, Set<number>>();
  const ids = new Map<number, number>(); // ip id -> datagram index (first fragment carries it)
  cable.addTap((dir, frame, length) => {
    if (dir !== 'aToB') return;
    const eh = parseEthernet(frame, 0, length);
    if (typeof eh === 'string' || eh.etherType !== 0x0800) return;
    const h = parseIpv4Header(frame, 14, length - 14);
    if (typeof h === 'string' || h.protocol !== 17) return;
    if (!arrived.has(h.id)) arrived.set(h.id, new Set());
    arrived.get(h.id)!.add(h.fragmentOffset);
    if (h.fragmentOffset === 0) ids.set(h.id, new DataView(frame.buffer, frame.byteOffset + 14 + 20 + 8, 4).getUint32(0));
  });
  const received = new Map<number, Uint8Array>();
  let corrupt = 0;
  b.udp.bind({ port: 9 }).on('message', (d) => {
    const i = d.readUInt32BE(0);
    if (received.has(i)) corrupt++; // delivered twice
    if (Buffer.compare(d, Buffer.from(datagram(i, 8000))) !== 0) corrupt++;
    received.set(i, d);
  });
  const c = a.udp.bind({ port: 1 });
  const N = 40;
  for (let i = 0; i < N; i++) clock.schedule(10 + i * 5, () => { c.send(datagram(i, 8000), 9, '192.0.2.2'); });
  clock.runUntil(120_000);
  // Expected: exactly the datagrams all of whose 6 fragments arrived at least once.
  const complete = new Set<number>();
  for (const [id, offs] of arrived) if (offs.size === 6 && ids.has(id)) complete.add(ids.get(id)!);
  t.is(corrupt, 0);
  t.deepEqual([...received.keys()].sort((x, y) => x - y), [...complete].sort((x, y) => x - y));
  const st = cable.channel('aToB').stats;
  t.true(st.droppedLoss > 0 && st.reordered > 0 && st.duplicated > 0, 'the impairments did happen');
  t.true(received.size > N / 3 && received.size < N, `${received.size} of ${N} whole`);
  t.is(b.ip.reassembler.pending, 0);
  t.is(b.ip.reassembler.memoryInUse, 0);
  t.true((b.stats.ipv4.drops['reassembly-timeout'] ?? 0) > 0);
});

test('two hosts: 8 KB UDP echo both ways under reordering and duplication: every datagram comes back intact', async (t) => {
  const imp: Impairments = { reorder: 0.3, reorderGap: 2, duplicate: 0.1, jitter: 1 };
  const { clock, a, b } = pair({ aToB: imp, bToA: imp, seed: 3 });
  udpEchoServer(b);
  // Resolve ARP first: 120 fragments would overflow the bounded queue of an unresolved neighbour.
  await clock.drive(a.icmp.ping(ip('192.0.2.2')));
  const c = a.udp.bind();
  const back = new Map<number, number>();
  let bad = 0;
  const N = 20;
  const done = new Promise<void>((res) => c.on('message', (d) => {
    const i = d.readUInt32BE(0);
    if (Buffer.compare(d, Buffer.from(datagram(i, 8192))) !== 0) bad++;
    back.set(i, (back.get(i) ?? 0) + 1);
    if (back.size === N) res();
  }));
  for (let i = 0; i < N; i++) c.send(datagram(i, 8192), 7, '192.0.2.2');
  await clock.drive(done);
  t.is(bad, 0);
  t.is(back.size, N);
});

/** A (192.0.2.1) -- R (192.0.2.254 | 198.51.100.254) -- C (198.51.100.1); the R-C link has MTU 1000. */
function routed(opts: { leftImpairments?: Impairments; pcap?: PcapWriter } = {}) {
  const clock = new VirtualClock();
  const a = host(clock, 'a', 1), r = host(clock, 'r', 2, true), c = host(clock, 'c', 3);
  const a0 = nic(clock, 'a0'), r0 = nic(clock, 'r0'), r1 = nic(clock, 'r1', 1000), c0 = nic(clock, 'c0', 1000);
  const left = new SimLink({ clock, delay: 1, seed: 7, aToB: opts.leftImpairments, bToA: opts.leftImpairments }).connect(a0, r0);
  const right = new SimLink({ clock, delay: 1 }).connect(r1, c0);
  opts.pcap?.tapLink(left);
  opts.pcap?.tapLink(right);
  a.addInterface(a0, { ip: '192.0.2.1', netmask: 24 });
  r.addInterface(r0, { ip: '192.0.2.254', netmask: 24 });
  r.addInterface(r1, { ip: '198.51.100.254', netmask: 24 });
  c.addInterface(c0, { ip: '198.51.100.1', netmask: 24 });
  a.routes.add({ source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: '192.0.2.254' });
  c.routes.add({ source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: '198.51.100.254' });
  for (const s of [a, r, c]) s.start();
  return { clock, a, r, c };
}

test('router: ping across, TTL decremented, 4000-byte pings refragmented to the smaller MTU', async (t) => {
  const { clock, a, r, c } = routed();
  const p = await clock.drive(a.icmp.ping(ip('198.51.100.1')));
  t.is(p.ttl, 63);
  const big = await clock.drive(a.icmp.ping(ip('198.51.100.1'), { size: 4000 }));
  t.is(big.bytes, 4000);
  t.true(r.ip.fragmented >= 1, 'the router fragmented');
  t.true(c.ip.reassembled >= 1);
  const back = await clock.drive(c.icmp.ping(ip('192.0.2.1'), { size: 4000 }));
  t.is(back.bytes, 4000);
  t.is(r.ip.forwarded > 0, true);
  t.is(a.stats.totalDrops() + c.stats.totalDrops(), 0);
});

test('router: UDP echo of 8 KB datagrams across it under loss and reordering (with retries)', async (t) => {
  const { clock, a, c } = routed({ leftImpairments: { loss: 0.02, reorder: 0.2, reorderGap: 2 } });
  udpEchoServer(c);
  const sock = a.udp.bind();
  const back = new Set<number>();
  let bad = 0;
  sock.on('message', (d) => {
    const i = d.readUInt32BE(0);
    if (Buffer.compare(d, Buffer.from(datagram(i, 8000))) !== 0) bad++;
    back.add(i);
  });
  const N = 10;
  // Resend what has not come back, every 100 ms of virtual time, like a simple client would.
  for (let round = 0; round < 30 && back.size < N; round++) {
    for (let i = 0; i < N; i++) if (!back.has(i)) sock.send(datagram(i, 8000), 7, '198.51.100.1');
    clock.runUntil(clock.now() + 100);
  }
  t.is(bad, 0);
  t.is(back.size, N);
});

test('router: DF over the smaller MTU teaches the path MTU; TTL expiry; unreachable, prohibited and missing routes', async (t) => {
  const { clock, a, r } = routed();
  await clock.drive(a.icmp.ping(ip('198.51.100.1')));
  const df = await clock.drive(a.icmp.ping(ip('198.51.100.1'), { size: 1400, dontFragment: true }).catch((e) => e));
  t.regex(df.message, /Frag needed/);
  t.is(a.ip.pathMtu(ip('198.51.100.1')), 1000);
  await t.throwsAsync(clock.drive(a.icmp.ping(ip('198.51.100.1'), { size: 1400, dontFragment: true })), { message: /Message too long/ });
  t.is((await clock.drive(a.icmp.ping(ip('198.51.100.1'), { size: 1400 }))).bytes, 1400);

  const ttl = await clock.drive(a.icmp.ping(ip('198.51.100.1'), { ttl: 1 }).catch((e) => e));
  t.regex(ttl.message, /Time to live exceeded/);
  t.is(formatIpv4(ttl.from as Ipv4Address), '192.0.2.254');

  r.routes.add({ table: 2, source: '203.0.113.0', sourceNetmask: 25, action: 'unreachable' });
  r.routes.add({ table: 2, source: '203.0.113.128', sourceNetmask: 25, action: 'prohibit' });
  r.routes.add({ table: 2, source: '192.0.2.128', sourceNetmask: 25, action: 'blackhole' });
  const err = async (dst: string) => (await clock.drive(a.icmp.ping(ip(dst), { timeout: 5000 }).catch((e) => e))).message;
  t.regex(await err('203.0.113.5'), /host unreachable/);
  t.regex(await err('203.0.113.200'), /filtered/);
  t.regex(await err('8.8.8.8'), /net unreachable/);
  t.regex(await err('192.0.2.200'), /Destination host unreachable/, 'on-link at A: ARP fails locally');
  // Behind the router, a host that does not answer ARP: the router says host unreachable.
  t.regex(await err('198.51.100.99'), /host unreachable/);
  t.is(r.stats.arp.drops['resolution-failed'], 1);
  t.true(r.icmp.errorsSent >= 5);
});

test('router: with forwarding off, it drops what is not for it', async (t) => {
  const { clock, a, r } = routed();
  r.forwarding = false;
  await t.throwsAsync(clock.drive(a.icmp.ping(ip('198.51.100.1'), { timeout: 1000 })), { message: /timed out/ });
  t.is(r.stats.ipv4.drops['not-for-us'], 1);
  t.is(r.ip.forwarded, 0);
});

test('switch: a broadcast reaches every host; unicast replies come back to the sender only', async (t) => {
  const clock = new VirtualClock();
  const sw = new SimSwitch({ clock });
  const stacks = [1, 2, 3, 4].map((i) => {
    const s = host(clock, `h${i}`, i);
    const n = nic(clock, `h${i}`);
    sw.connect(n);
    s.addInterface(n, { ip: `192.0.2.${i}`, netmask: 24 });
    s.start();
    return s;
  });
  const heard: string[] = [];
  for (const s of stacks.slice(1)) {
    const sock = s.udp.bind({ port: 9999 });
    sock.on('message', (d, r) => { heard.push(`${s.name} ${d}`); sock.send(`ack ${s.name}`, r.port, r.address); });
  }
  const c = stacks[0].udp.bind();
  const acks: string[] = [];
  const done = new Promise<void>((res) => c.on('message', (d) => { acks.push(String(d)); if (acks.length === 3) res(); }));
  c.send('hello all', 9999, '255.255.255.255');
  await clock.drive(done);
  t.deepEqual(heard.sort(), ['h2 hello all', 'h3 hello all', 'h4 hello all']);
  t.deepEqual(acks.sort(), ['ack h2', 'ack h3', 'ack h4']);
});

const TSHARK = ['/usr/bin/tshark', ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'tshark'))].find((p) => fs.existsSync(p));
(TSHARK || process.env.CI === 'true' ? test : test.skip)('router: a pcap of ARP, pings (fragmented, refragmented), UDP, ICMP errors opens in tshark with no malformed packets', async (t) => {
  if (!TSHARK) { t.fail('tshark is required with CI=true'); return; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pnet-ipv4-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'router.pcap');
  const pcap = new PcapWriter({ path: file });
  const { clock, a, r, c } = routed({ pcap });
  udpEchoServer(c);
  await clock.drive(a.icmp.ping(ip('198.51.100.1'), { size: 4000 }));
  await clock.drive(a.icmp.ping(ip('198.51.100.1'), { size: 1400, dontFragment: true }).catch(() => null));
  await clock.drive(a.icmp.ping(ip('198.51.100.1'), { ttl: 1 }).catch(() => null));
  r.routes.add({ source: '203.0.113.0', sourceNetmask: 24, action: 'unreachable' });
  await clock.drive(a.icmp.ping(ip('203.0.113.1')).catch(() => null));
  const sock = a.udp.bind();
  const back = new Promise((res) => sock.on('message', res));
  sock.send(new Uint8Array(3000).fill(1), 7, '198.51.100.1');
  await clock.drive(back);
  sock.send('x', 9, '198.51.100.1');
  clock.runUntil(clock.now() + 100);
  pcap.close();
  const run = (args: string[]) => spawnSync(TSHARK, ['-n', '-r', file, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const all = run(['-T', 'fields', '-e', 'frame.number']);
  t.is(all.status, 0, all.stderr);
  t.true(all.stdout.trim().split('\n').length > 30);
  const expert = run(['-q', '-z', 'expert']).stdout;
  t.deepEqual(expert.split('\n').filter((l) => /malformed|^\s*errors\s*\(/i.test(l)), [], expert);
  const malformed = run(['-Y', '_ws.malformed']);
  t.is(malformed.status, 0, malformed.stderr);
  t.is(malformed.stdout.trim(), '');
  // tshark reassembles what we fragmented and sees the ICMP errors we sent.
  const icmpTypes = new Set(run(['-Y', 'icmp', '-T', 'fields', '-e', 'icmp.type']).stdout.split('\n').flatMap((l) => l.split(',')).filter(Boolean));
  for (const type of ['0', '8', '3', '11']) t.true(icmpTypes.has(type), `ICMP type ${type} in the capture: ${[...icmpTypes]}`);
  t.true(Number(run(['-Y', 'ip.flags.mf == 1', '-T', 'fields', '-e', 'frame.number']).stdout.trim().split('\n').length) > 3);
  const checks = run(['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-Y', 'ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"']);
  t.is(checks.status, 0, checks.stderr);
  t.is(checks.stdout.trim(), '', 'no bad checksums');
  const good = run(['-o', 'ip.check_checksum:TRUE', '-Y', 'ip.checksum.status == "Good"', '-T', 'fields', '-e', 'frame.number']);
  t.true(good.stdout.trim().split('\n').length > 30, 'tshark did verify IP checksums');
});
