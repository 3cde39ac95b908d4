/**
 * Receive-buffer auto-tuning (dynamic right-sizing) in virtual time: over a 100 ms RTT SimLink the
 * receiver's window grows past its initial 256 KiB when the application keeps up, and not when it
 * does not; the ceiling holds; the advertised right edge never moves left; every byte arrives.
 * The sender gets an 8 MiB send buffer so that only the receiver's window limits the flow.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { VirtualClock } from '@pnet/nic';
import { ByteRing } from '../src/tcp/byte-ring';
import { DEFAULT_TCP_CONFIG, TcpConfig, resolveTcpConfig } from '../src/tcp/config';
import type { TcpConnection } from '../src/tcp/connection';
import { seqDiff } from '../src/tcp/seq';
import { TCP_SYN } from '../src/wire/tcp';
import { ipv4 } from '../src/wire/ipv4-address';
import { pattern, simLinkPair } from './tcp-harness';

const KIB = 1024;
const MIB = 1024 * 1024;
const RTT = 100;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Run {
  received: Buffer;
  sent: Buffer;
  /** Virtual ms from the connect call to the last byte read. */
  elapsed: number;
  receiver: TcpConnection;
  /** Largest window the receiver advertised, in bytes. */
  maxWindow: number;
  /** ACKs whose right edge (ack + scaled window) lay left of an earlier ACK's. */
  edgeRetreats: number;
  /** The receiver's buffer size, and the largest window advertised so far, at each of `sampleTimes`. */
  capacities: number[];
  windows: number[];
}

interface Reader {
  /** Bytes the application reads when data arrives at virtual time `now` (Infinity: all). */
  budget(now: number): number;
}

const eager: Reader = { budget: () => Infinity };

/**
 * Stack A sends `size` bytes to stack B over a link of `rate` bit/s (0: unlimited) and RTT 100 ms;
 * B's application reads as `reader` allows, and everything once `drainAt` has passed.
 */
function transfer(size: number, rx: Partial<TcpConfig>, opts: { rate?: number; reader?: Reader; drainAt?: number;
  sampleTimes?: number[]; tx?: Partial<TcpConfig> } = {}): Run {
  const clock = new VirtualClock();
  const { a, b } = simLinkPair(clock, { seedA: 5, seedB: 6, linkSeed: 9, delay: RTT / 2,
    impair: opts.rate ? { rate: opts.rate, queuePackets: 10_000 } : {}, tcpA: { sendBufferSize: 8 * MIB, ...opts.tx }, tcpB: rx });

  // Every ACK B sends: its right edge must never move left, and its window is what A may send.
  let maxWindow = 0;
  let edgeRetreats = 0;
  let lastEdge = -1;
  const layer = b.tcp as unknown as { transmit: (...args: unknown[]) => boolean };
  const transmit = layer.transmit.bind(b.tcp);
  layer.transmit = (conn: unknown, flags: unknown, seqNo: unknown, ackNo: unknown, window: unknown, ...rest: unknown[]) => {
    const c = conn as TcpConnection;
    if (!((flags as number) & TCP_SYN)) {
      const bytes = (window as number) * 2 ** c.rcvWscale;
      const edge = ((ackNo as number) + bytes) >>> 0;
      if (lastEdge >= 0 && seqDiff(edge as never, lastEdge as never) < 0) edgeRetreats++;
      if (lastEdge < 0 || seqDiff(edge as never, lastEdge as never) > 0) lastEdge = edge;
      if (bytes > maxWindow) maxWindow = bytes;
    }
    return transmit(conn, flags, seqNo, ackNo, window, ...rest);
  };

  const data = pattern(3, size);
  const parts: Buffer[] = [];
  let got = 0;
  let lastAt = 0;
  let receiver: TcpConnection | null = null;
  const reader = opts.reader ?? eager;
  const drainAt = opts.drainAt ?? 0;
  const read = (): void => {
    const conn = receiver!;
    const now = clock.now();
    let budget = now >= drainAt ? Infinity : reader.budget(now);
    while (budget > 0 && conn.readableLength > 0) {
      const b = conn.readBuffer(budget);
      if (!b) break;
      parts.push(Buffer.from(b));
      got += b.length;
      budget -= b.length;
      lastAt = now;
    }
  };
  let queued = false;
  const listener = b.tcp.openListener({ port: 5001 });
  listener.onAcceptable = () => {
    receiver = listener.accept();
    if (!receiver) return;
    // Events come from inside segment processing: read from a clock event, as an application would.
    receiver.events = { onData: () => { if (!queued) { queued = true; clock.schedule(clock.now(), () => { queued = false; read(); }); } } };
  };
  if (drainAt > 0) clock.schedule(drainAt, () => { if (receiver) read(); });
  let sent = 0;
  const sender = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 5001 });
  const pump = (): void => {
    while (sent < size) {
      const n = sender.write(data, sent, size - sent);
      if (n === 0) break;
      sent += n;
    }
  };
  sender.events = { onConnect: pump, onWritable: () => clock.schedule(clock.now(), pump) };
  const capacities: number[] = [];
  const windows: number[] = [];
  const times = [...(opts.sampleTimes ?? [])];
  const start = clock.now();
  while (got < size && clock.now() < 600_000) {
    while (times.length > 0 && clock.now() >= times[0]) {
      times.shift();
      capacities.push(receiver ? (receiver as TcpConnection).receiveBuffer.maxCapacity : 0);
      windows.push(maxWindow);
    }
    if (!clock.step()) break;
  }
  a.stop();
  b.stop();
  return { received: Buffer.concat(parts), sent: data, elapsed: lastAt - start, receiver: receiver!, maxWindow, edgeRetreats, capacities, windows };
}

const INITIAL = DEFAULT_TCP_CONFIG.receiveBufferSize;
/** What a fixed initial buffer allows: one buffer per round trip. */
const INITIAL_RATE = INITIAL / RTT; // bytes per ms

test('defaults, 100 ms RTT at 200 Mbit/s: the window grows past the initial buffer and the transfer beats buffer/RTT', (t) => {
  const r = transfer(48 * MIB, {}, { rate: 200e6 });
  t.is(r.received.length, r.sent.length);
  t.is(sha(r.received), sha(r.sent), 'every byte intact');
  t.is(r.receiver.rcvWscale, 7, 'the window scale reaches the 4 MiB ceiling');
  t.true(r.maxWindow > 4 * INITIAL, `advertised window grew to ${r.maxWindow} bytes`);
  t.true(r.receiver.receiveBuffer.maxCapacity <= DEFAULT_TCP_CONFIG.receiveBufferMax);
  const rate = r.received.length / r.elapsed;
  t.log(`${(rate / 1000).toFixed(1)} MB/s, largest window ${r.maxWindow} bytes, buffer ${r.receiver.receiveBuffer.maxCapacity} bytes`);
  t.true(rate > 3 * INITIAL_RATE, `${(rate / 1000).toFixed(1)} MB/s vs ${(INITIAL_RATE / 1000).toFixed(1)} MB/s for a fixed 256 KiB window`);
  t.is(r.edgeRetreats, 0, 'the right edge never moved left');
});

test('auto-tuning off: the window stays at the configured size, and so does the throughput', (t) => {
  const r = transfer(8 * MIB, { receiveAutoTune: false }, { rate: 200e6 });
  t.is(sha(r.received), sha(r.sent));
  t.is(r.receiver.rcvWscale, 3, 'the scale is sized for the fixed 256 KiB');
  t.is(r.receiver.receiveBuffer.maxCapacity, INITIAL);
  t.true(r.maxWindow <= INITIAL, `advertised at most ${r.maxWindow} bytes`);
  t.true(r.received.length / r.elapsed <= INITIAL_RATE * 1.05, 'about one buffer per round trip');
  t.is(r.edgeRetreats, 0);
});

test('without timestamps the round trip is measured from window arrivals, and the window grows the same way', (t) => {
  const r = transfer(48 * MIB, { timestamps: false }, { rate: 200e6, tx: { timestamps: false } });
  t.false(r.receiver.tsEnabled);
  t.is(sha(r.received), sha(r.sent));
  t.true(r.maxWindow > 4 * INITIAL, `advertised window grew to ${r.maxWindow} bytes`);
  t.true(r.received.length / r.elapsed > 3 * INITIAL_RATE);
  t.is(r.edgeRetreats, 0);
});

test('the ceiling holds: receiveBufferMax 1 MiB on a 2.5 MB bandwidth-delay product', (t) => {
  const r = transfer(16 * MIB, { receiveBufferMax: MIB }, { rate: 200e6 });
  t.is(sha(r.received), sha(r.sent));
  t.is(r.receiver.rcvWscale, 5, 'the scale is sized for the 1 MiB ceiling');
  t.is(r.receiver.receiveBuffer.maxCapacity, MIB, 'grew up to the ceiling, not past it');
  t.true(r.maxWindow <= MIB && r.maxWindow > MIB - 64 * KIB, `advertised at most ${r.maxWindow} bytes`);
  t.is(r.edgeRetreats, 0);
});

test('a reader that does not keep up does not grow the window: nothing read for 3 s, then 16 KiB per RTT', (t) => {
  let lastRead = -Infinity;
  const slow: Reader = {
    budget: (now) => {
      if (now < 3000 || now - lastRead < RTT) return 0;
      lastRead = now;
      return 16 * KIB;
    },
  };
  // Reads only happen on new data: the sender's zero-window probes and window-update segments bring it.
  const r = transfer(4 * MIB, {}, { rate: 200e6, reader: slow, drainAt: 8000, sampleTimes: [2900, 7900] });
  t.is(sha(r.received), sha(r.sent), 'every byte once the reader drains');
  t.deepEqual(r.capacities, [INITIAL, INITIAL], 'still the initial buffer while the reader lagged');
  t.true(r.windows[1] <= INITIAL, `advertised at most ${r.windows[1]} bytes while it lagged`);
});

test('config: receive auto-tuning settings are validated, and the default ceiling follows a larger size', (t) => {
  t.is(resolveTcpConfig().receiveBufferMax, 4 * MIB);
  t.true(resolveTcpConfig().receiveAutoTune);
  t.is(resolveTcpConfig({ receiveBufferSize: 8 * MIB }).receiveBufferMax, 8 * MIB, 'a size above the default ceiling is not tuned further');
  t.throws(() => resolveTcpConfig({ receiveBufferMax: 0 }), { message: /receiveBufferMax must be an integer/ });
  t.throws(() => resolveTcpConfig({ receiveBufferMax: 1.5 }), { message: /receiveBufferMax must be an integer/ });
  t.throws(() => resolveTcpConfig({ receiveBufferMax: 2 ** 31 }), { message: /receiveBufferMax must be an integer/ });
  t.throws(() => resolveTcpConfig({ receiveBufferSize: 2 * MIB, receiveBufferMax: MIB }), { message: /receiveBufferMax \(1048576\) must not be below receiveBufferSize/ });
  t.throws(() => resolveTcpConfig({ receiveAutoTune: 'yes' as unknown as boolean }), { message: /receiveAutoTune must be a boolean/ });
  t.notThrows(() => resolveTcpConfig({ receiveBufferSize: 2 * MIB, receiveBufferMax: MIB, receiveAutoTune: false }), 'the ceiling does not matter when off');
});

test('ByteRing.grow with views outstanding: every byte kept, handed-out views never rewritten', (t) => {
  const ring = new ByteRing(6000, true);
  const src = pattern(1, 20_000);
  t.is(ring.append(src, 0, 6000), 6000);
  t.is(ring.free, 0);
  const v1 = ring.view(2500);
  const before = Buffer.from(v1);
  ring.consume(2500);
  t.is(ring.append(src, 6000, 2500), 2500, 'room freed by the read');
  t.is(ring.append(src, 8500, 100), 0, 'full at the old capacity');
  t.throws(() => ring.grow(5000), { message: /ByteRing.grow/ });
  ring.grow(16_000);
  t.is(ring.allocated <= 4 * 16_000, true);
  t.is(ring.free, 16_000 - 6000);
  // Fill to the new capacity: the storage moves, the view keeps its bytes.
  t.is(ring.append(src, 8500, 10_000), 10_000);
  t.is(ring.length, 16_000);
  t.deepEqual(Buffer.from(v1), before, 'the view handed out before the growth is unchanged');
  const v2 = ring.view(16_000);
  t.deepEqual(Buffer.from(v2), Buffer.from(src.subarray(2500, 18_500)), 'every byte in order across the growth');
  // Reassembly data past `length` survives a growth and the move that follows.
  const r2 = new ByteRing(3000, true);
  r2.writeAt(2000, src, 0, 1000);
  r2.grow(9000);
  r2.writeAt(3000, src, 1000, 6000); // past the old storage: moves
  r2.writeAt(0, src, 7000, 2000);
  r2.length = 9000;
  const out = Buffer.alloc(9000);
  r2.copyOut(0, out, 0, 9000);
  t.deepEqual(out, Buffer.concat([src.subarray(7000, 9000), src.subarray(0, 1000), src.subarray(1000, 7000)]));
  // A plain (wrapping) ring keeps its wrapped bytes across a growth.
  const w = new ByteRing(5000);
  w.append(src, 0, 5000);
  w.consume(3000);
  w.append(src, 5000, 3000); // wraps
  w.grow(12_000);
  w.append(src, 8000, 7000);
  const all = Buffer.alloc(w.length);
  w.copyOut(0, all, 0, w.length);
  t.deepEqual(all, Buffer.from(src.subarray(3000, 15_000)));
});
