/**
 * Attacks from a third host on a switched LAN, in virtual time, against real Stacks carrying real traffic:
 * a SYN flood, blind in-window RST/SYN/data injection (RFC 5961), fragment attacks, tiny-MTU ICMP and ARP
 * spoofing of a static entry. Segment-level RFC 5961 cases live in packages/tcpip/test/tcp-rst.test.ts;
 * these check the same defences hold with a live connection and many frames.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Rng } from '@pnet/nic';
import {
  ICMP_DEST_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED, IP_PROTOCOL_ICMP, TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN, ipv4, formatIpv4,
} from '@pnet/tcpip';
import type { TcpConnection, TcpLayer } from '@pnet/tcpip';
import { arpFrame, ethernet, icmp, ipv4 as ipv4Packet, udp } from '@pnet/tcpip/src/testing';
import { A_IP, A_MAC, B_IP, B_MAC, X_IP, X_MAC, lan, runUntil, tcpFrame } from '../src/lan';
import { PatternStream } from '../src/sim-soak';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
v8.setFlagsFromString('--expose-gc');
/** A real full GC, so heap figures are live memory, not garbage waiting to be collected. */
const gc = runInNewContext('gc') as () => void;

/** An echo server on `layer`:port built on TcpConnection (reads everything, writes it back, closes on FIN). */
function echoServer(layer: TcpLayer, port: number, clock: { schedule(at: number, fn: () => void): unknown; now(): number }) {
  const listener = layer.openListener({ port });
  const served: TcpConnection[] = [];
  listener.onAcceptable = () => {
    for (let c = listener.accept(); c; c = listener.accept()) {
      const conn = c;
      served.push(conn);
      const pending: Buffer[] = [];
      const flush = () => {
        while (pending.length) {
          const b = pending[0];
          const n = conn.write(b, 0, b.length);
          if (n === b.length) pending.shift(); else { pending[0] = b.subarray(n); return; }
        }
      };
      conn.events = {
        onData: () => clock.schedule(clock.now(), () => { for (let b = conn.readBuffer(); b; b = conn.readBuffer()) pending.push(b); flush(); }),
        onWritable: () => clock.schedule(clock.now(), flush),
        onEnd: () => clock.schedule(clock.now(), () => { flush(); conn.shutdown(); }),
      };
    }
  };
  return { listener, served };
}

/** A client connection that sends `data` and collects what comes back. */
function echoClient(layer: TcpLayer, port: number, data: Uint8Array, clock: { schedule(at: number, fn: () => void): unknown; now(): number }) {
  const st = { received: [] as Buffer[], bytes: 0, sent: 0, connected: false, closed: false, error: null as string | null, conn: null as TcpConnection | null };
  const pump = () => {
    const c = st.conn!;
    while (st.sent < data.length) { const n = c.write(data, st.sent, data.length - st.sent); if (n === 0) return; st.sent += n; }
  };
  st.conn = layer.open({ host: B_IP, port }, {
    onConnect: () => { st.connected = true; clock.schedule(clock.now(), pump); },
    onWritable: () => clock.schedule(clock.now(), pump),
    onData: () => clock.schedule(clock.now(), () => { for (let b = st.conn!.readBuffer(); b; b = st.conn!.readBuffer()) { st.received.push(b); st.bytes += b.length; } }),
    onClose: (e) => { st.closed = true; st.error = e ? e.code : null; },
  });
  return st;
}

function patternBytes(id: number, n: number): Buffer {
  const src = new PatternStream(id);
  const out = Buffer.alloc(n);
  for (let p = 0; p < n;) { const c = src.at(p); const off = p % c.length; const k = Math.min(c.length - off, n - p); c.copy(out, p, off, off + k); p += k; }
  return out;
}

export const SYN_FLOOD_HEAP_CAP = 64 * 1024 * 1024;

test('SYN flood: 100,000 spoofed SYNs; an established connection keeps echoing 4 MB intact, the SYN queue stays at its cap, heap growth under 64 MiB, all cleaned up', (t) => {
  const w = lan(3);
  // Spoofed sources are off-link: b answers through a router that does not exist (ARP for it fails).
  w.b.routes.add({ table: 0, source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: '192.0.2.254', device: 'eth0' });
  const { listener } = echoServer(w.b.tcp, 80, w.clock);
  const data = patternBytes(5, 4 * 1024 * 1024);
  const c = echoClient(w.a.tcp, 80, data, w.clock);
  t.true(runUntil(w.clock, () => c.connected), 'connected before the flood');

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  let synQueuePeak = 0;
  const rng = new Rng(77);
  const N = 100_000;
  let sent = 0;
  // 100,000 SYNs at 20,000/s from random 203.0.113.0/24 and 198.51.100.0/24 sources and ports.
  const sendOne = () => {
    const src = ipv4(rng.next() < 0.5 ? 203 : 198, rng.next() < 0.5 ? 0 : 51, rng.next() < 0.5 ? 113 : 100, rng.nextInt(254) + 1);
    w.inject(tcpFrame({ src, dst: B_IP, srcPort: 1024 + rng.nextInt(60000), dstPort: 80, seq: rng.nextU32(), flags: TCP_SYN }));
    sent++;
    synQueuePeak = Math.max(synQueuePeak, listener.synQueue.size);
    if (sent % 10_000 === 0) gc(), heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    if (sent < N) w.clock.schedule(w.clock.now() + 0.05, sendOne);
  };
  w.clock.schedule(w.clock.now(), sendOne);
  const ok = runUntil(w.clock, () => sent === N && c.bytes === data.length, 3_600_000);
  gc();
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  t.true(ok, `flood sent ${sent}, echoed ${c.bytes}/${data.length}`);
  t.is(sha(Buffer.concat(c.received)), sha(data), 'echo intact');
  t.is(c.error, null);
  t.true(synQueuePeak <= w.b.tcp.config.synQueueLength, `SYN queue peak ${synQueuePeak}`);
  const drops = w.b.tcp.stats.errors['listen-overflow'] ?? 0;
  t.true(drops >= N - 2 * w.b.tcp.config.synQueueLength, `listen-overflow counted: ${drops}`);
  t.is(w.b.stats.get('tcp').drops['listen-overflow'], drops, 'and in stack.stats');
  t.true(heapPeak - heapBefore < SYN_FLOOD_HEAP_CAP, `heap growth ${heapPeak - heapBefore}`);

  // Half-open connections give up (SYN-ACK retries) and the queue empties; a new connection works again.
  runUntil(w.clock, () => listener.synQueue.size === 0, 600_000);
  t.is(listener.synQueue.size, 0, 'SYN queue drained');
  const c2 = echoClient(w.a.tcp, 80, data.subarray(0, 100_000), w.clock);
  t.true(runUntil(w.clock, () => c2.bytes === 100_000), 'a new connection is served after the flood');
  c.conn!.shutdown(); c2.conn!.shutdown();
  runUntil(w.clock, () => c.closed && c2.closed);
  w.clock.runUntil(w.clock.now() + 300_000);
  t.is(w.b.tcp.connections().length, 0, 'no connections left on the server');
  t.is(w.a.tcp.connections().length, 0);
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  t.log(`SYNs ${sent}; SYN queue peak ${synQueuePeak}; listen-overflow ${drops}; passive opens ${w.b.tcp.stats.passiveOpens}`);
  t.log(`heap before ${(heapBefore / 2 ** 20).toFixed(1)} MiB, peak ${(heapPeak / 2 ** 20).toFixed(1)} MiB, after ${(heapAfter / 2 ** 20).toFixed(1)} MiB; virtual ${(w.clock.now() / 1000).toFixed(0)} s`);
});

test('blind in-window RST, SYN and data injection (RFC 5961) draw challenge ACKs; the stream is neither reset nor corrupted', (t) => {
  const w = lan(5);
  echoServer(w.b.tcp, 80, w.clock);
  const data = patternBytes(9, 256 * 1024);
  const c = echoClient(w.a.tcp, 80, data.subarray(0, 1000), w.clock);
  t.true(runUntil(w.clock, () => c.bytes === 1000));
  const server = w.b.tcp.connections()[0];
  const cl = c.conn!;
  const before = w.b.tcp.stats.challengeAcks;
  const spoof = { src: A_IP, dst: B_IP, srcPort: cl.localPort, dstPort: 80, ethSrc: X_MAC };
  const rcvNxt = server.rcvNxt as unknown as number;
  const sndNxt = server.sndNxt as unknown as number;
  // In window but not exactly RCV.NXT: must not reset.
  w.inject(tcpFrame({ ...spoof, seq: rcvNxt + 100, ack: sndNxt, flags: TCP_RST | TCP_ACK }));
  w.inject(tcpFrame({ ...spoof, seq: rcvNxt + 5000, flags: TCP_RST }));
  // SYN on a synchronized connection, in window.
  w.inject(tcpFrame({ ...spoof, seq: rcvNxt + 10, flags: TCP_SYN }));
  // Data at RCV.NXT whose ACK is far outside [SND.UNA - MAX.SND.WND, SND.NXT]: dropped with an ACK.
  w.inject(tcpFrame({ ...spoof, seq: rcvNxt, ack: (sndNxt + 0x40000000) >>> 0, flags: TCP_ACK | TCP_PSH, data: Buffer.from('INJECTED-GARBAGE') }));
  w.inject(tcpFrame({ ...spoof, seq: rcvNxt, ack: (sndNxt - 0x40000000) >>> 0, flags: TCP_ACK | TCP_PSH, data: Buffer.from('INJECTED-GARBAGE') }));
  w.clock.runUntil(w.clock.now() + 100);
  t.true(w.b.tcp.stats.challengeAcks - before >= 2, `challenge ACKs ${w.b.tcp.stats.challengeAcks - before}`);
  t.is(server.state, 'ESTABLISHED');
  // The real client keeps going: the rest of the data echoes back intact (no injected bytes).
  let sent = 1000;
  const pump = () => { while (sent < data.length) { const n = cl.write(data, sent, data.length - sent); if (n === 0) return; sent += n; } };
  cl.events!.onWritable = () => w.clock.schedule(w.clock.now(), pump);
  pump();
  t.true(runUntil(w.clock, () => c.bytes === data.length), `echoed ${c.bytes}`);
  t.is(sha(Buffer.concat(c.received)), sha(data));
  t.is(c.error, null);
  t.is(w.b.tcp.stats.rstIn > 0 ? server.state : 'ESTABLISHED', 'ESTABLISHED');
  t.log(`challenge ACKs ${w.b.tcp.stats.challengeAcks - before}; server errors ${JSON.stringify(w.b.tcp.stats.errors)}`);
});

test('fragment attacks: teardrop overlaps, oversize datagrams and 10,000 never-completed datagrams stay within the reassembly cap and timeout; pings still work', async (t) => {
  const w = lan(7);
  const re = w.b.ip.reassembler;
  const caps = re.limits;
  const rng = new Rng(9);
  let memPeak = 0;
  let pendingPeak = 0;
  const sample = () => { memPeak = Math.max(memPeak, re.memoryInUse); pendingPeak = Math.max(pendingPeak, re.pending); };
  const frag = (id: number, offset: number, payload: Uint8Array, more: boolean, protocol = 17) =>
    ethernet({ src: X_MAC, dst: B_MAC }, ipv4Packet({ src: X_IP, dst: B_IP, protocol, id, fragmentOffset: offset, moreFragments: more }, payload));
  const body = (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = rng.nextInt(256); return b; };
  // Teardrop: the second fragment starts inside the first and ends before it (and variants).
  for (let id = 1; id <= 200; id++) {
    w.inject(frag(id, 0, body(64), true));
    w.inject(frag(id, 24, body(id % 2 ? 8 : 200), id % 3 !== 0));
    w.clock.runUntil(w.clock.now() + 1); sample();
  }
  // Oversize: the last fragment ends beyond 65,535 bytes.
  for (let id = 300; id < 400; id++) {
    w.inject(frag(id, 0, body(1000), true));
    w.inject(frag(id, 65528, body(1000), false));
    w.clock.runUntil(w.clock.now() + 1); sample();
  }
  // Never completed: first fragments of 10,000 datagrams, 1,472 bytes each (14 MB offered against a 1 MiB cap).
  for (let id = 1000; id < 11_000; id++) {
    w.inject(frag(id, 0, body(1472), true));
    if (id % 50 === 0) { w.clock.runUntil(w.clock.now() + 1); sample(); }
  }
  w.clock.runUntil(w.clock.now() + 10); sample();
  t.true(memPeak <= caps.memoryCap, `reassembly memory peak ${memPeak} <= ${caps.memoryCap}`);
  t.true(pendingPeak <= caps.maxDatagrams, `datagrams pending peak ${pendingPeak} <= ${caps.maxDatagrams}`);
  const ipStats = w.b.stats.ipv4;
  t.true(Object.keys(ipStats.drops).length + Object.keys(ipStats.errors).length > 0, 'drops counted');
  // A real fragmented ping still works in the middle of it.
  const r = await w.clock.drive(w.a.icmp.ping(B_IP, { size: 4000 }));
  t.is(r.bytes, 4000);
  // Everything left times out.
  w.clock.runUntil(w.clock.now() + caps.timeout + 1000);
  t.is(re.pending, 0);
  t.is(re.memoryInUse, 0);
  t.log(`caps ${JSON.stringify(caps)}; memory peak ${memPeak} B, datagrams peak ${pendingPeak}; ipv4 drops ${JSON.stringify(ipStats.drops)} errors ${JSON.stringify(ipStats.errors)}`);
});

function tinyMtuAttack(seed: number) {
  const w = lan(seed);
  echoServer(w.b.tcp, 80, w.clock);
  const data = patternBytes(13, 64 * 1024);
  const c = echoClient(w.a.tcp, 80, data.subarray(0, 100), w.clock);
  const connected = runUntil(w.clock, () => c.bytes === 100);
  const cl = c.conn!;
  const pmtuAfter: number[] = [];
  for (const mtu of [0, 1, 20, 67, 68]) {
    // Quote a TCP segment b sent to a (so b's TCP takes it as about its connection).
    const quote = new Uint8Array(tcpFrame({ src: B_IP, dst: A_IP, srcPort: 80, dstPort: cl.localPort, seq: 1, flags: TCP_ACK, ethSrc: B_MAC, ethDst: A_MAC }).subarray(14, 14 + 28));
    const msg = icmp({ type: ICMP_DEST_UNREACHABLE, code: ICMP_FRAGMENTATION_NEEDED, rest: mtu & 0xffff }, quote);
    w.inject(ethernet({ src: X_MAC, dst: B_MAC }, ipv4Packet({ src: X_IP, dst: B_IP, protocol: IP_PROTOCOL_ICMP }, msg)));
    w.clock.runUntil(w.clock.now() + 10);
    pmtuAfter.push(w.b.ip.pathMtu(A_IP));
  }
  let sent = 100;
  const pump = () => { while (sent < data.length) { const n = cl.write(data, sent, data.length - sent); if (n === 0) return; sent += n; } };
  cl.events!.onWritable = () => w.clock.schedule(w.clock.now(), pump);
  pump();
  const done = runUntil(w.clock, () => c.bytes === data.length);
  return { w, c, data, connected, pmtuAfter, done };
}

test('ICMP fragmentation-needed with MTU 0, 1, 20, 67 and 68 cannot drive the path MTU below 68', (t) => {
  const r = tinyMtuAttack(11);
  t.true(r.connected);
  for (const m of r.pmtuAfter) t.true(m >= 68, `path MTU ${m}`);
  t.is(r.pmtuAfter[r.pmtuAfter.length - 1], 68, 'the attack did take the path MTU to the floor');
  t.log(`path MTU b->a after each forged ICMP: ${r.pmtuAfter.join(', ')}`);
});

// Was a known failure: with the path MTU at 68 every data segment (with DF) was refused by IP as 'too-big' and
// the connection stalled for the PMTU lifetime. TCP now sizes segments for at least TCP_MIN_PMTU (552, as
// Linux's min_pmtu) and sends them without DF while the learned path MTU is below it.
test('after a forged tiny-MTU ICMP the connection still carries 64 KB intact', (t) => {
  const r = tinyMtuAttack(11);
  t.true(r.done, `echoed ${r.c.bytes}/${r.data.length}`);
  t.is(sha(Buffer.concat(r.c.received)), sha(r.data));
});

test('ARP replies and gratuitous ARP cannot overwrite a static entry; traffic keeps reaching the real host', async (t) => {
  const w = lan(13);
  w.b.arp.set('eth0', A_IP, A_MAC);
  const forge = [
    arpFrame({ src: X_MAC, dst: B_MAC }, { operation: 'reply', senderMac: X_MAC, senderIp: A_IP, targetMac: B_MAC, targetIp: B_IP }),
    arpFrame({ src: X_MAC, dst: 0xffffffffffff as never }, { operation: 'request', senderMac: X_MAC, senderIp: A_IP, targetIp: A_IP }),
    arpFrame({ src: X_MAC, dst: B_MAC }, { operation: 'request', senderMac: X_MAC, senderIp: A_IP, targetIp: B_IP }),
  ];
  for (let i = 0; i < 300; i++) { w.inject(forge[i % 3]); w.clock.runUntil(w.clock.now() + 1); }
  const entry = (w.b.arp.list('eth0') ?? []).find((e) => e.ip === A_IP);
  t.is(entry?.mac, A_MAC, 'static entry kept');
  // b's traffic to a still reaches a, not the attacker.
  w.recordAttackerRx(true);
  const got: string[] = [];
  const sa = w.a.udp.bind({ port: 9 });
  sa.on('message', (d) => got.push(String(d)));
  const sb = w.b.udp.bind();
  for (let i = 0; i < 10; i++) sb.send(Buffer.from(`m${i}`), 9, A_IP);
  w.clock.runUntil(w.clock.now() + 100);
  t.is(got.length, 10);
  const leaked = w.seen.filter((f) => f.length > 14 && formatIpv4(((f[30] << 24) | (f[31] << 16) | (f[32] << 8) | f[33]) >>> 0 as never) === '192.0.2.1' && f[0] === 2 && f[5] === 3);
  t.is(leaked.length, 0, 'nothing for a went to the attacker');
  t.true((w.b.stats.arp.rx ?? 0) >= 300);
  t.log(`arp stats ${JSON.stringify(w.b.stats.arp)}`);
  void udp;
});
