/**
 * Software GSO (TcpConfig.gso): on a NIC without TSO, TCP hands IP a super-segment of several MSS
 * and IP cuts it into frames. The frames must be the ones the segment-by-segment path sends: each
 * run below is made twice in virtual time, GSO on and off, and every frame both NICs transmit is
 * compared byte for byte with its time. The runs cover bulk data both ways, loss with SACK and
 * retransmissions, a rate-limited queue that drops, Nagle with odd-sized writes, no timestamps or
 * SACK (no options), a small receive window, and FIN on a full segment.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { Rng, SimLink, SimNic, VirtualClock, localMac } from '@pnet/nic';
import type { Impairments } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import { parseIpv4Header } from '../src/wire/ipv4';
import type { TcpConfig } from '../src/tcp/config';
import { ipv4 } from '../src/wire/ipv4-address';
import { Recorder, pattern, simLinkPair } from './tcp-harness';

interface Scenario {
  up: number;
  down: number;
  delay: number;
  impair?: Impairments;
  tcp?: Partial<TcpConfig>;
  /** Bytes per write call (default: as much as fits). */
  chunk?: number;
}

interface Run {
  frames: string[];
  raw: Buffer[];
  upOk: boolean;
  downOk: boolean;
  gsoSent: number;
  gsoFrames: number;
  segmentsOut: number;
  retransmits: number;
  ipTx: number;
}

function run(s: Scenario, gso: boolean): Run {
  const clock = new VirtualClock();
  const tcp = { ...s.tcp, gso };
  const { a, b } = simLinkPair(clock, { seedA: 11, seedB: 12, linkSeed: 3, delay: s.delay, impair: s.impair, tcpA: tcp, tcpB: tcp });
  const frames: string[] = [];
  const raw: Buffer[] = [];
  const tap = (who: string) => (dir: string, frame: Uint8Array, length: number, ts: number): void => {
    if (dir !== 'tx') return;
    const bytes = Buffer.from(frame.subarray(0, length));
    raw.push(bytes);
    frames.push(`${who} ${ts} ${length} ${createHash('sha1').update(bytes).digest('hex')}`);
  };
  a.interfaces.find((i) => !i.loopback)!.nic.addTap(tap('a'));
  b.interfaces.find((i) => !i.loopback)!.nic.addTap(tap('b'));
  const up = pattern(1, s.up);
  const down = pattern(2, s.down);
  const listener = b.tcp.openListener({ port: 80 });
  const sr = new Recorder(clock);
  const writer = (conn: { write(d: Uint8Array, o: number, n: number): number; shutdown(): void }, data: Buffer) => {
    let off = 0;
    return () => {
      while (off < data.length) {
        const n = conn.write(data, off, Math.min(s.chunk ?? data.length, data.length - off));
        if (n === 0) break;
        off += n;
        if (s.chunk !== undefined) break; // one write per wake-up: small writes meet Nagle
      }
      if (off === data.length) conn.shutdown();
    };
  };
  listener.onAcceptable = () => {
    const c = listener.accept()!;
    sr.attach(c);
    sr.onWritableHook = writer(c, down);
    sr.onDataHook = sr.onWritableHook;
    sr.onWritableHook();
  };
  const cr = new Recorder(clock);
  const c = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 80 }, cr);
  cr.conn = c;
  cr.onWritableHook = writer(c, up);
  cr.onDataHook = cr.onWritableHook;
  cr.onWritableHook();
  while (clock.now() < 600_000 && !(cr.closed && sr.closed)) if (!clock.step()) break;
  const stats = (st: Stack) => st.tcp.stats;
  return {
    frames, raw, upOk: sr.bytes().equals(up), downOk: cr.bytes().equals(down),
    gsoSent: a.ip.gsoSent + b.ip.gsoSent, gsoFrames: a.ip.gsoFrames + b.ip.gsoFrames,
    segmentsOut: stats(a).segmentsOut + stats(b).segmentsOut, retransmits: stats(a).retransmits + stats(b).retransmits,
    ipTx: a.stats.ipv4.tx + b.stats.ipv4.tx,
  };
}

function firstDifference(x: string[], y: string[]): number {
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return i;
  return -1;
}

const scenarios: Record<string, Scenario> = {
  'bulk both ways, timestamps and SACK, 1 ms': { up: 3_000_000, down: 1_000_000, delay: 1 },
  'loss 2 % and reordering: SACK recovery, retransmissions, timeouts': {
    up: 1_500_000, down: 300_000, delay: 5, impair: { loss: 0.02, reorder: 0.01, reorderGap: 2 },
  },
  'a 20 Mbit/s bottleneck with a 30-frame drop-tail queue': {
    up: 2_000_000, down: 0, delay: 10, impair: { rate: 20e6, queuePackets: 30 },
  },
  'no timestamps (RTT timed on one segment: SRTT sets the loss probe) through a 10 Mbit/s bottleneck, 100 ms, 2 % loss': {
    up: 1_000_000, down: 0, delay: 100, impair: { rate: 10e6, queuePackets: 60, loss: 0.02 }, tcp: { timestamps: false },
  },
  'no timestamps: the RTT timed on the first segment of the initial window sets the loss probe for a lost tail': {
    up: 100_000, down: 0, delay: 30, impair: { rate: 10e6, dropFrames: [66, 67, 68, 69, 70, 71, 72] }, tcp: { timestamps: false },
  },
  'Nagle: writes of 3000 bytes, no timestamps, no SACK (no options)': {
    up: 600_000, down: 200_000, delay: 2, chunk: 3000, tcp: { timestamps: false, sack: false },
  },
  'a 10 KiB receive window (window-limited, partial segments at the edge)': {
    up: 500_000, down: 0, delay: 1, tcp: { receiveBufferSize: 10_240, receiveAutoTune: false },
  },
  'data ending on a full segment (FIN on the last of a super-segment)': { up: 1448 * 40, down: 1448 * 7, delay: 1 },
};

for (const [name, s] of Object.entries(scenarios)) {
  test(`GSO on and off put the same frames on the wire at the same times: ${name}`, (t) => {
    const on = run(s, true);
    const off = run(s, false);
    t.true(on.upOk && on.downOk, 'every byte arrived with GSO');
    t.true(off.upOk && off.downOk, 'every byte arrived without GSO');
    t.true(on.gsoSent > 0 && on.gsoFrames > on.gsoSent, `GSO cut super-segments (${on.gsoSent} into ${on.gsoFrames} frames)`);
    t.is(off.gsoSent, 0, 'with gso: false nothing is cut by IP');
    const at = firstDifference(on.frames, off.frames);
    if (at >= 0) {
      t.log(`first difference at frame ${at} of ${on.frames.length} / ${off.frames.length}:`);
      t.log(`GSO on : ${on.frames[at]} ${on.raw[at]?.subarray(0, 80).toString('hex')}`);
      t.log(`GSO off: ${off.frames[at]} ${off.raw[at]?.subarray(0, 80).toString('hex')}`);
    }
    t.is(at, -1, 'the frames are identical, in order and time');
    t.is(on.frames.length, off.frames.length);
    t.is(on.segmentsOut, off.segmentsOut, 'segmentsOut counts each segment of a super-segment');
    t.is(on.retransmits, off.retransmits);
    t.is(on.ipTx, off.ipTx);
  });
}

test('retransmissions happened in the lossy run (the comparison covers them)', (t) => {
  const on = run(scenarios['loss 2 % and reordering: SACK recovery, retransmissions, timeouts'], true);
  t.true(on.retransmits > 10, `${on.retransmits} retransmissions`);
});

test('TcpConfig.gso must be a boolean', async (t) => {
  const { resolveTcpConfig } = await import('../src/tcp/config');
  t.throws(() => resolveTcpConfig({ gso: 1 as unknown as boolean }), { instanceOf: TypeError, message: /gso must be a boolean/ });
  t.is(resolveTcpConfig({}).gso, true, 'on by default');
});

// ---- ip.send's software GSO itself ----

/** A writer of TCP-like segments: a 20-byte header whose first 4 bytes hold the data offset, then data bytes `k & 0xff`. */
class PieceWriter {
  readonly gsoHeaderLength = 20;
  calls: { dataOffset: number; dataLength: number; last: boolean }[] = [];
  writePayload(buf: Uint8Array, offset: number, length: number): void {
    for (let i = 0; i < length; i++) buf[offset + i] = 0xee;
  }
  writeSegment(buf: Uint8Array, offset: number, dataOffset: number, dataLength: number, last: boolean): void {
    this.calls.push({ dataOffset, dataLength, last });
    buf.fill(0, offset, offset + 20);
    new DataView(buf.buffer, buf.byteOffset).setUint32(offset, dataOffset);
    for (let i = 0; i < dataLength; i++) buf[offset + 20 + i] = (dataOffset + i) & 0xff;
  }
}

function ipPair(staticArp: boolean) {
  const clock = new VirtualClock();
  const a = new Stack({ clock, rng: new Rng(1), name: 'a' });
  const b = new Stack({ clock, rng: new Rng(2), name: 'b' });
  const na = new SimNic({ name: 'a0', mac: localMac(1), clock });
  const nb = new SimNic({ name: 'b0', mac: localMac(2), clock });
  new SimLink({ clock, seed: 1, delay: 1 }).connect(na, nb);
  a.addInterface(na, { ip: ipv4(192, 0, 2, 1), netmask: 24 });
  b.addInterface(nb, { ip: ipv4(192, 0, 2, 2), netmask: 24 });
  if (staticArp) a.arp.set('eth0', ipv4(192, 0, 2, 2), localMac(2));
  a.start();
  b.start();
  const sent: Buffer[] = [];
  na.addTap((dir, frame, length) => {
    if (dir === 'tx' && frame[12] === 0x08 && frame[13] === 0x00) sent.push(Buffer.from(frame.subarray(0, length)));
  });
  return { clock, a, sent };
}

const TCP_TO_B = { dst: ipv4(192, 0, 2, 2), protocol: 6, dontFragment: true, segmentSize: 1000 };

function checkPieces(t: import('ava').ExecutionContext, sent: Buffer[], w: PieceWriter): void {
  t.deepEqual(w.calls, [
    { dataOffset: 0, dataLength: 1000, last: false }, { dataOffset: 1000, dataLength: 1000, last: false },
    { dataOffset: 2000, dataLength: 1000, last: false }, { dataOffset: 3000, dataLength: 500, last: true },
  ], 'the writer fills each segment in order, the last one marked');
  t.deepEqual(sent.map((f) => f.length), [1054, 1054, 1054, 554]);
  const id0 = sent[0].readUInt16BE(18);
  sent.forEach((f, k) => {
    const h = parseIpv4Header(f, 14, f.length - 14);
    t.false(typeof h === 'string', `frame ${k}: a valid IPv4 header, checksum included (${String(h)})`);
    if (typeof h === 'string') return;
    t.is(h.totalLength, f.length - 14);
    t.is(h.id, (id0 + k) & 0xffff, 'consecutive ids, as separate datagrams');
    t.true(h.dontFragment);
    t.is(h.protocol, 6);
    t.is(f.readUInt32BE(34), 1000 * k, 'the segment\'s header');
    for (let i = 0; i < f.length - 54; i++) if (f[54 + i] !== ((1000 * k + i) & 0xff)) { t.fail(`frame ${k} byte ${i}`); break; }
  });
}

test('ip.send with segmentSize on a NIC without TSO cuts the payload into frames (consecutive ids, DF, own checksums)', (t) => {
  const { a, sent } = ipPair(true);
  const w = new PieceWriter();
  t.is(a.ip.send(TCP_TO_B, 20 + 3500, w), 'sent');
  checkPieces(t, sent, w);
  t.is(a.ip.gsoSent, 1);
  t.is(a.ip.gsoFrames, 4);
  t.is(a.ip.gsoMaxBytes(a.interfaces.find((i) => !i.loopback)!), 65535);
});

test('ip.send GSO behind ARP: the frames are queued and go out once the address resolves', (t) => {
  const { clock, a, sent } = ipPair(false);
  const w = new PieceWriter();
  t.is(a.ip.send(TCP_TO_B, 20 + 3500, w), 'queued');
  t.is(sent.length, 0);
  for (let i = 0; i < 100 && sent.length < 4; i++) clock.step();
  checkPieces(t, sent, w);
});

test('ip.send GSO: a bad segmentSize throws; no writeSegment or a segment the MTU does not take is too big under DF', (t) => {
  const { a, sent } = ipPair(true);
  const w = new PieceWriter();
  t.throws(() => a.ip.send({ ...TCP_TO_B, segmentSize: 1.5 }, 3520, w), { instanceOf: RangeError, message: /segmentSize/ });
  t.throws(() => a.ip.send({ ...TCP_TO_B, segmentSize: -1 }, 3520, w), { instanceOf: RangeError, message: /segmentSize/ });
  t.is(a.ip.send(TCP_TO_B, 3520, { writePayload: w.writePayload }), 'too-big', 'a writer that cannot write segments');
  t.is(a.ip.send({ ...TCP_TO_B, segmentSize: 1461 }, 3520, w), 'too-big', '20 + 20 + 1461 > 1500');
  t.is(a.ip.send({ ...TCP_TO_B, protocol: 17 }, 3520, w), 'too-big', 'only TCP is cut');
  t.is(sent.length, 0);
  t.is(w.calls.length, 0);
});

/**
 * A (192.0.2.1) -- R -- C (198.51.100.1), R's next hop with MTU 1000: A's first bursts of 1448-byte
 * segments meet "fragmentation needed" at R, A learns the path MTU and resends in smaller segments.
 */
function pmtuRun(gso: boolean, staleSecond = false) {
  const clock = new VirtualClock();
  const tcp = { gso };
  const a = new Stack({ clock, rng: new Rng(1), name: 'a', tcp });
  const r = new Stack({ clock, rng: new Rng(2), name: 'r', forwarding: true });
  const c = new Stack({ clock, rng: new Rng(3), name: 'c', tcp });
  const a0 = new SimNic({ name: 'a0', mac: localMac(1), clock }), r0 = new SimNic({ name: 'r0', mac: localMac(2), clock });
  // R's side of the R-C link takes 1000 bytes; C's takes 1500, so C's MSS option (1460) does not tell A.
  const r1 = new SimNic({ name: 'r1', mac: localMac(3), clock, mtu: 1000 }), c0 = new SimNic({ name: 'c0', mac: localMac(4), clock });
  new SimLink({ clock, delay: 1, seed: 7 }).connect(a0, r0);
  new SimLink({ clock, delay: 1, seed: 8 }).connect(r1, c0);
  a.addInterface(a0, { ip: '192.0.2.1', netmask: 24 });
  r.addInterface(r0, { ip: '192.0.2.254', netmask: 24 });
  r.addInterface(r1, { ip: '198.51.100.254', netmask: 24 });
  c.addInterface(c0, { ip: '198.51.100.1', netmask: 24 });
  a.routes.add({ source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: '192.0.2.254' });
  c.routes.add({ source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: '198.51.100.254' });
  for (const s of [a, r, c]) s.start();
  const frames: string[] = [];
  for (const [who, n] of [['a', a0], ['c', c0]] as const) {
    n.addTap((dir, frame, length, ts) => {
      if (dir === 'tx') frames.push(`${who} ${ts} ${createHash('sha1').update(frame.subarray(0, length)).digest('hex')}`);
    });
  }
  const data = pattern(5, 400_000);
  const listener = c.tcp.openListener({ port: 80 });
  const servers: Recorder[] = [];
  listener.onAcceptable = () => { servers.push(new Recorder(clock).attach(listener.accept()!)); };
  const send = (cr: Recorder) => {
    const conn = cr.conn!;
    let off = 0;
    cr.onWritableHook = () => {
      while (off < data.length) { const n = conn.write(data, off, data.length - off); if (n === 0) break; off += n; }
      if (off === data.length) conn.shutdown();
    };
    cr.onWritableHook();
    while (clock.now() < 240_000 && !cr.closed) if (!clock.step()) break;
  };
  const open = () => {
    const cr = new Recorder(clock);
    cr.conn = a.tcp.open({ host: ipv4(198, 51, 100, 1), port: 80 }, cr);
    while (!cr.connected) if (!clock.step()) break;
    return cr;
  };
  // With staleSecond, a second connection is set up first, sends only after the first learned the path MTU (the
  // ICMP went to the first), and so meets it as a refusal from IP.
  const second = staleSecond ? open() : null;
  const first = open();
  send(first);
  if (second) send(second);
  while (clock.now() < 240_000 && !servers.every((r) => r.closed)) if (!clock.step()) break;
  const ok = servers.length === (staleSecond ? 2 : 1) && servers.every((r) => r.bytes().equals(data));
  return {
    frames, ok, gsoSent: a.ip.gsoSent, mss: first.conn!.effMss, pmtu: a.ip.pathMtu(ipv4(198, 51, 100, 1)),
    tooBig: a.tcp.stats.errors['send-too-big'] ?? 0, segmentsOut: a.tcp.stats.segmentsOut, tx: a.tcp.stats.tx,
  };
}

test('path MTU discovery through a router with a smaller MTU: the same frames with GSO on and off', (t) => {
  const on = pmtuRun(true);
  const off = pmtuRun(false);
  t.true(on.ok && off.ok, 'every byte arrived both times');
  t.is(on.pmtu, 1000, 'A learned the path MTU');
  t.true(on.mss <= 960, `A's segments shrank (MSS ${on.mss})`);
  t.true(on.gsoSent > 0);
  const at = firstDifference(on.frames, off.frames);
  if (at >= 0) t.log(`first difference at frame ${at}: ${on.frames[at]} / ${off.frames[at]}`);
  t.is(at, -1, 'the frames are identical, in order and time');
});

test('a connection that meets a path MTU learned by another (IP refuses its super-segment): the same frames and counters', (t) => {
  const on = pmtuRun(true, true);
  const off = pmtuRun(false, true);
  t.true(on.ok && off.ok, 'every byte arrived on both connections, both times');
  t.true(on.tooBig > 0 && on.tooBig === off.tooBig, `IP refused a segment as too big (${on.tooBig} / ${off.tooBig})`);
  const at = firstDifference(on.frames, off.frames);
  if (at >= 0) t.log(`first difference at frame ${at}: ${on.frames[at]} / ${off.frames[at]}`);
  t.is(at, -1, 'the frames are identical, in order and time');
  t.is(on.segmentsOut, off.segmentsOut);
  t.is(on.tx, off.tx);
});
