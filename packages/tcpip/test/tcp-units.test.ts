import test from 'ava';
import fc from 'fast-check';
import { Rng } from '@pnet/nic';
import { seq, seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from '../src/tcp/seq';
import { ByteRing } from '../src/tcp/byte-ring';
import { DeadlineFifo, FifoItem, TimerHeap } from '../src/tcp/timer-heap';
import { RttEstimator } from '../src/tcp/rtt';
import { NewReno } from '../src/tcp/congestion';
import { IsnGenerator, siphash24 } from '../src/tcp/isn';
import { wscaleFor } from '../src/tcp/connection';

test('sequence numbers compare modulo 2^32', (t) => {
  const a = seq(0xfffffff0);
  const b = seqAdd(a, 0x20);
  t.is(b, seq(0x10));
  t.true(seqLt(a, b));
  t.true(seqGt(b, a));
  t.true(seqLe(a, a) && seqGe(a, a));
  t.is(seqDiff(b, a), 0x20);
  t.is(seqDiff(a, b), -0x20);
  t.is(seqMax(a, b), b);
  t.is(seqMin(a, b), a);
  t.true(seqInWindow(seq(5), a, b));
  t.false(seqInWindow(b, a, b));
  t.is(seqAdd(seq(3), -5), seq(0xfffffffe));
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 0x7fffffff }), (x, d) => {
    const s = seq(x);
    const y = seqAdd(s, d);
    return seqLt(s, y) && seqGt(y, s) && seqDiff(y, s) === d && !seqLt(y, s);
  }));
});

test('ByteRing: lazily allocated, grows, wraps, keeps reassembly data past length', (t) => {
  const r = new ByteRing(100_000);
  t.is(r.allocated, 0);
  const rng = new Rng(3);
  const model: number[] = [];
  let total = 0;
  for (let i = 0; i < 2000; i++) {
    if (rng.next() < 0.55) {
      const chunk = rng.fill(new Uint8Array(rng.nextInt(3000)));
      const n = r.append(chunk, 0, chunk.length);
      t.is(n, Math.min(chunk.length, 100_000 - model.length));
      for (let k = 0; k < n; k++) model.push(chunk[k]);
    } else {
      const n = Math.min(rng.nextInt(4000), model.length);
      const out = new Uint8Array(n);
      r.copyOut(0, out, 0, n);
      t.deepEqual([...out], model.slice(0, n));
      r.consume(n);
      model.splice(0, n);
      total += n;
    }
    t.is(r.length, model.length);
  }
  t.true(total > 0);
  t.true(r.allocated <= 131072);
  // Reassembly: bytes written past `length` survive growth and a drained head.
  const q = new ByteRing(65536);
  q.append(Uint8Array.of(1, 2, 3), 0, 3);
  q.consume(3);
  q.writeAt(10_000, Uint8Array.of(9, 8, 7), 0, 3);
  q.writeAt(0, new Uint8Array(10_000).fill(5), 0, 10_000);
  q.length = 10_003;
  const out = new Uint8Array(3);
  q.copyOut(10_000, out, 0, 3);
  t.deepEqual([...out], [9, 8, 7]);
  q.consume(10_003, true);
  t.is(q.allocated, 0, 'released when asked');
  t.throws(() => new ByteRing(0), { instanceOf: RangeError });
});

test('ByteRing: small writes and reads (copied by a loop, not a view) wrap and cross pieces intact', (t) => {
  // 4 KiB rings fill and wrap (plain) or move to a second piece (handsOut) many times over.
  for (const handsOut of [false, true]) {
    const r = new ByteRing(4096, handsOut);
    const rng = new Rng(11);
    const model: number[] = [];
    let value = 0;
    for (let i = 0; i < 5000; i++) {
      if (rng.next() < 0.5) {
        const chunk = new Uint8Array(1 + rng.nextInt(100)); // both sides of the 64-byte loop limit
        for (let k = 0; k < chunk.length; k++) chunk[k] = value++ & 0xff;
        const off = rng.nextInt(4);
        const n = r.append(chunk, off, chunk.length - off);
        for (let k = 0; k < n; k++) model.push(chunk[off + k]);
      } else {
        const n = Math.min(1 + rng.nextInt(100), model.length);
        const out = new Uint8Array(n + 3);
        if (handsOut) out.set(r.chunk(n), 3);
        else r.copyOut(0, out, 3, n);
        t.deepEqual([...out.subarray(3)], model.slice(0, n));
        t.deepEqual([...out.subarray(0, 3)], [0, 0, 0], 'nothing written before the destination offset');
        r.consume(n);
        model.splice(0, n);
      }
      t.is(r.length, model.length);
    }
  }
});

test('ByteRing with handsOut: views handed out never change, reassembly data survives moves', (t) => {
  const r = new ByteRing(50_000, true);
  t.is(r.allocated, 0);
  const rng = new Rng(5);
  const model: number[] = [];
  const handed: { view: Buffer; bytes: number[] }[] = [];
  let moved = 0;
  const storage = () => (r.length > 0 ? r.view(1).buffer : null);
  for (let i = 0; i < 3000; i++) {
    const before = storage();
    if (rng.next() < 0.55) {
      const chunk = rng.fill(new Uint8Array(rng.nextInt(3000)));
      const n = r.append(chunk, 0, chunk.length);
      t.is(n, Math.min(chunk.length, 50_000 - model.length));
      for (let k = 0; k < n; k++) model.push(chunk[k]);
    } else {
      const n = Math.min(rng.nextInt(4000), model.length);
      const v = r.view(n);
      t.deepEqual([...v], model.slice(0, n));
      if (handed.length < 200) handed.push({ view: v, bytes: model.slice(0, n) });
      r.consume(n);
      model.splice(0, n);
    }
    const after = storage();
    if (before !== null && after !== null && after !== before) moved++;
    t.is(r.length, model.length);
  }
  t.true(moved > 5, 'the storage was replaced several times');
  t.true(r.allocated <= 131072);
  for (const h of handed) t.deepEqual([...h.view], h.bytes, 'a handed-out view kept its bytes');
  // Reassembly past `length` moves with the live bytes.
  const q = new ByteRing(65536, true);
  q.append(new Uint8Array(4000).fill(1), 0, 4000);
  const early = q.view(4000);
  q.consume(4000);
  q.writeAt(20_000, Uint8Array.of(9, 8, 7), 0, 3);
  q.writeAt(0, new Uint8Array(20_000).fill(5), 0, 20_000);
  q.length = 20_003;
  const out = new Uint8Array(3);
  q.copyOut(20_000, out, 0, 3);
  t.deepEqual([...out], [9, 8, 7]);
  t.deepEqual([...q.view(20_003).subarray(19_998)], [5, 5, 9, 8, 7]);
  t.true(early.every((b) => b === 1));
  q.consume(20_003, true);
  t.is(q.allocated, 0, 'released when asked');
  t.throws(() => new ByteRing(10).view(1), { instanceOf: Error });
  t.throws(() => q.view(1), { instanceOf: RangeError });
});

test('ByteRing with handsOut: storage in pieces of at most 64 KiB, dropped once read; a view across two pieces is a copy', (t) => {
  const r = new ByteRing(1 << 20, true);
  const pieces = () => (r as unknown as { pieces: Buffer[] }).pieces;
  const byte = (i: number) => (i * 7 + (i >> 8)) & 0xff;
  const seg = new Uint8Array(1460);
  let written = 0;
  let read = 0;
  const handed: { view: Buffer; from: number }[] = [];
  for (let round = 0; round < 40; round++) {
    // A window's worth in, then most of it out as views.
    for (let k = 0; k < 100; k++) {
      for (let i = 0; i < seg.length; i++) seg[i] = byte(written + i);
      written += r.append(seg, 0, seg.length);
    }
    t.true(pieces().every((p) => p.length <= 65536), 'no piece above 64 KiB');
    t.true(r.allocated <= r.length + 2 * 65536, `${r.allocated} bytes stored for ${r.length}`);
    while (r.length > 20_000) {
      const n = r.contiguous;
      t.true(n > 0 && n <= r.length);
      const v = r.view(n);
      t.is(v.buffer, pieces()[0].buffer, 'up to `contiguous`: a view of the storage');
      handed.push({ view: v, from: read });
      r.consume(n);
      read += n;
    }
  }
  t.is(read + r.length, written);
  for (const h of handed) t.true(h.view.every((b, i) => b === byte(h.from + i)), 'a handed-out view kept its bytes');
  // Past the end of the first piece: the bytes are right, in a Buffer of their own.
  while (r.contiguous === r.length) {
    for (let i = 0; i < seg.length; i++) seg[i] = byte(written + i);
    written += r.append(seg, 0, seg.length);
  }
  const n = r.contiguous + 10;
  const v = r.view(n);
  t.true(pieces().every((p) => p.buffer !== v.buffer), 'a copy');
  t.true(v.every((b, i) => b === byte(read + i)));
});

test('ByteRing: storage of a released ring is reused, zeroed, by the next ring', (t) => {
  const a = new ByteRing(65536);
  a.append(new Uint8Array(100).fill(0xaa), 0, 100);
  const storage = (a as unknown as { buf: Uint8Array }).buf;
  a.release();
  t.is(a.allocated, 0);
  const b = new ByteRing(65536);
  b.append(Uint8Array.of(1), 0, 1);
  const reused = (b as unknown as { buf: Uint8Array }).buf;
  t.is(reused, storage, 'the same storage');
  t.is(reused[0], 1);
  t.true(reused.subarray(1).every((x) => x === 0), 'nothing of the previous ring shows through');
  // Growing past the first allocation gives the small one back as well.
  b.append(new Uint8Array(5000), 0, 5000);
  const c = new ByteRing(65536);
  c.append(Uint8Array.of(2), 0, 1);
  t.is((c as unknown as { buf: Uint8Array }).buf, storage);
  // Storage that handed out views is never reused: the views keep their bytes.
  const h = new ByteRing(65536, true);
  h.append(new Uint8Array(100).fill(0xbb), 0, 100);
  const v = h.view(100);
  h.consume(100);
  h.release();
  const d = new ByteRing(65536);
  d.append(Uint8Array.of(3), 0, 1);
  t.not((d as unknown as { buf: Uint8Array }).buf.buffer, v.buffer);
  t.true(v.every((x) => x === 0xbb), 'a view handed out before release keeps its bytes');
});

test('ByteRing: reused storage is zero where any earlier ring wrote, wrapped or not', (t) => {
  const buf = (r: ByteRing) => (r as unknown as { buf: Uint8Array | null }).buf!;
  // Wraps around the 4 KiB storage: bytes at both ends.
  const a = new ByteRing(4096);
  a.append(new Uint8Array(3000).fill(0xcc), 0, 3000);
  a.consume(3000);
  a.append(new Uint8Array(2000).fill(0xdd), 0, 2000);
  const storage = buf(a);
  a.release();
  // Bytes placed past `length` (as reassembly does) count too.
  const b = new ByteRing(4096);
  t.is(b.allocated, 0);
  b.writeAt(4000, new Uint8Array(50).fill(0xee), 0, 50);
  t.is(buf(b), storage, 'the same storage');
  t.true(buf(b).subarray(0, 4000).every((x) => x === 0), 'the wrapped ring left nothing');
  b.release();
  const c = new ByteRing(4096);
  c.append(Uint8Array.of(1), 0, 1);
  t.is(buf(c), storage);
  t.true(buf(c).subarray(1).every((x) => x === 0), 'nothing past length shows through');
});

test('ByteRing with handsOut: small reads are copies; storage is reused only if no view of it was handed out', (t) => {
  // The piece holding the head (receive storage is a list of pieces; views come from the first).
  const storage = (r: ByteRing) => (r as unknown as { pieces: Buffer[] }).pieces[0] ?? null;
  const fill = (r: ByteRing, n: number, v: number) => r.append(new Uint8Array(n).fill(v), 0, n);
  // A small read is a copy: the storage goes back when the ring is emptied at the end, the copy keeps its bytes.
  const a = new ByteRing(65536, true);
  fill(a, 32, 0x11);
  const first = storage(a)!;
  const small = a.chunk(32);
  t.not(small.buffer, first.buffer, 'a copy, not a view');
  a.consume(32, true);
  const b = new ByteRing(65536, true);
  fill(b, 2000, 0x22);
  t.is(storage(b), first, 'the next receive ring starts with the same storage');
  t.deepEqual([...b.chunk(3)], [0x22, 0x22, 0x22]);
  t.true(small.every((x) => x === 0x11), 'the copy kept its bytes');
  // A large read is a view: that storage is never given to another ring, whichever way it is let go.
  const viewed: { view: Buffer; value: number }[] = [];
  const c = new ByteRing(65536, true);
  fill(c, 2000, 0x33);
  const big = c.chunk(2000);
  t.is(big.buffer, storage(c)!.buffer, 'a view');
  viewed.push({ view: big, value: 0x33 });
  c.consume(2000, true);
  const d = new ByteRing(65536, true);
  fill(d, 10, 0x44);
  viewed.push({ view: d.view(5), value: 0x44 });
  d.release();
  const e = new ByteRing(65536, true);
  fill(e, 100, 0x55);
  viewed.push({ view: e.view(100), value: 0x55 });
  e.consume(100);
  fill(e, 8000, 0x56); // on into a second piece; the viewed first one is left to its view
  e.release();
  for (let i = 0; i < 8; i++) {
    const r = new ByteRing(65536, true);
    fill(r, 1000, 0x66);
    for (const v of viewed) t.not(storage(r)!.buffer, v.view.buffer);
  }
  for (const v of viewed) t.true(v.view.every((x) => x === v.value), 'a view kept its bytes');
  // A first piece the head passed without any view taken is reused.
  const f = new ByteRing(65536, true);
  fill(f, 5000, 0x77);
  const small2 = storage(f)!;
  t.is(small2.length, 4096);
  f.consume(4096);
  const g = new ByteRing(65536, true);
  fill(g, 1, 0x79);
  t.is(storage(g), small2);
  t.deepEqual([...f.chunk(3)], [0x77, 0x77, 0x77], 'the ring kept its other bytes');
  t.throws(() => new ByteRing(10).chunk(1), { instanceOf: Error });
});

test('TimerHeap orders by deadline and supports move/remove', (t) => {
  const h = new TimerHeap<{ deadline: number; heapIndex: number; id: number }>();
  const rng = new Rng(9);
  const items = Array.from({ length: 200 }, (_, id) => ({ deadline: Infinity, heapIndex: -1, id }));
  for (const it of items) h.update(it, rng.nextInt(1000));
  for (let i = 0; i < 300; i++) {
    const it = items[rng.nextInt(items.length)];
    h.update(it, rng.next() < 0.2 ? Infinity : rng.nextInt(1000));
  }
  const live = items.filter((i) => i.heapIndex >= 0).map((i) => i.deadline).sort((a, b) => a - b);
  const popped: number[] = [];
  while (h.size > 0) {
    const top = h.peek()!;
    popped.push(top.deadline);
    h.remove(top);
  }
  t.deepEqual(popped, live);
  t.is(h.peekDeadline(), Infinity);
});

test('DeadlineFifo keeps increasing deadlines in order, moves an item to the tail, refuses an earlier one', (t) => {
  const item = (): FifoItem => ({ deadline: Infinity, fifoPrev: null, fifoNext: null, inFifo: false });
  const q = new DeadlineFifo<FifoItem>();
  const [a, b, c] = [item(), item(), item()];
  t.is(q.peekDeadline(), Infinity);
  t.true(q.push(a, 10));
  t.true(q.push(b, 20));
  t.true(q.push(c, 20), 'equal deadlines keep arrival order');
  t.is(q.head, a);
  t.true(q.push(a, 30), 'a restart moves the item to the tail');
  t.is(q.head, b);
  t.is(q.size, 3);
  const d = item();
  t.false(q.push(d, 25), 'earlier than the tail: not in order, left to the heap');
  t.false(d.inFifo);
  t.false(q.push(c, 5), 'a moved item that would break the order leaves the list');
  t.false(c.inFifo);
  t.is(q.size, 2);
  const order: number[] = [];
  while (q.head) { order.push(q.head.deadline); q.remove(q.head); }
  t.deepEqual(order, [20, 30]);
  t.is(q.peekDeadline(), Infinity);
  q.remove(a); // not in the list: nothing happens
  t.is(q.size, 0);
});

test('RFC 6298 estimator: first sample, smoothing, clamping, backoff', (t) => {
  const r = new RttEstimator(1000, 200, 60_000);
  t.is(r.rto, 1000);
  r.sample(100);
  t.is(r.srtt, 100);
  t.is(r.rttvar, 50);
  t.is(r.rto, 300);
  r.sample(100);
  t.is(r.rttvar, 37.5);
  t.is(r.rto, 250);
  for (let i = 0; i < 50; i++) r.sample(10);
  t.is(r.rto, 200, 'min RTO');
  r.backoff(); r.backoff();
  t.is(r.rto, 800);
  for (let i = 0; i < 20; i++) r.backoff();
  t.is(r.rto, 60_000, 'max RTO');
});

test('NewReno: initial window, slow start, congestion avoidance, loss, timeout', (t) => {
  const cc = new NewReno(10);
  cc.init(1460, 0);
  t.is(cc.cwnd, 14600);
  cc.onAck(1460, 14600, 0, -1);
  t.is(cc.cwnd, 16060, 'slow start: +1 MSS per ACK of a full segment');
  cc.onAck(5000, 16060, 0, -1);
  t.is(cc.cwnd, 21060, 'a stretch ACK: slow start counts every byte it acknowledged');
  cc.onCongestionEvent(20000, 0);
  t.is(cc.ssthresh, 10000);
  t.is(cc.cwnd, 10000);
  let acks = 0;
  while (cc.cwnd === 10000) { cc.onAck(1460, 10000, 0, -1); acks++; }
  t.is(cc.cwnd, 11460, 'congestion avoidance: +1 MSS per window');
  t.is(acks, 7);
  cc.onRetransmitTimeout(8000, 0);
  t.is(cc.cwnd, 1460);
  t.is(cc.ssthresh, 4000);
  cc.onAck(2920, 1460, 0, -1);
  t.is(cc.cwnd, 2920, 'slow start after a timeout: L=1, one MSS for an ACK of two');
  cc.onAck(2920, 2920, 0, -1);
  t.is(cc.cwnd, 4380, 'still L=1 until ssthresh');
  cc.onCongestionEvent(1000, 0);
  t.is(cc.ssthresh, 2920, 'never below 2 MSS');
  cc.onRecoveryExit(500, 0);
  t.is(cc.cwnd, 1960, 'exit: min(ssthresh, flight + MSS)');
  // A fast recovery ends the timeout's slow start: below ssthresh again, every byte counts.
  cc.onCongestionEvent(20000, 0);
  cc.onRecoveryExit(1460, 0);
  t.is(cc.cwnd, 2920);
  cc.onAck(5000, 2920, 0, -1);
  t.is(cc.cwnd, 7920, 'byte counting once the timeout is behind');
  cc.onAck(5000, 7920, 0, -1);
  t.is(cc.cwnd, 10840, 'past ssthresh (10000) by at most 2 MSS, not by the whole ACK');
});

test('RFC 6528 ISNs: keyed per 4-tuple, advancing with the clock', (t) => {
  const g = new IsnGenerator(new Rng(1));
  const a = g.next(0, 1, 1000, 2, 80);
  const b = g.next(0, 1, 1001, 2, 80);
  t.not(a, b);
  const a2 = g.next(1000, 1, 1000, 2, 80);
  t.is(seqDiff(a2, a), 250_000, '4 µs ticks');
  const other = new IsnGenerator(new Rng(2)).next(0, 1, 1000, 2, 80);
  t.not(other, a, 'a different key gives different ISNs');
});

// SipHash-2-4 reference vectors (the SipHash paper's test program): key 00 01 .. 0f, message
// 00 01 .. (n-1) for n = 0..63, each output read as a little-endian 64-bit word.
const SIPHASH24_VECTORS = [
  '726fdb47dd0e0e31', '74f839c593dc67fd', '0d6c8009d9a94f5a', '85676696d7fb7e2d',
  'cf2794e0277187b7', '18765564cd99a68d', 'cbc9466e58fee3ce', 'ab0200f58b01d137',
  '93f5f5799a932462', '9e0082df0ba9e4b0', '7a5dbbc594ddb9f3', 'f4b32f46226bada7',
  '751e8fbc860ee5fb', '14ea5627c0843d90', 'f723ca908e7af2ee', 'a129ca6149be45e5',
  '3f2acc7f57c29bdb', '699ae9f52cbe4794', '4bc1b3f0968dd39c', 'bb6dc91da77961bd',
  'bed65cf21aa2ee98', 'd0f2cbb02e3b67c7', '93536795e3a33e88', 'a80c038ccd5ccec8',
  'b8ad50c6f649af94', 'bce192de8a85b8ea', '17d835b85bbb15f3', '2f2e6163076bcfad',
  'de4daaaca71dc9a5', 'a6a2506687956571', 'ad87a3535c49ef28', '32d892fad841c342',
  '7127512f72f27cce', 'a7f32346f95978e3', '12e0b01abb051238', '15e034d40fa197ae',
  '314dffbe0815a3b4', '027990f029623981', 'cadcd4e59ef40c4d', '9abfd8766a33735c',
  '0e3ea96b5304a7d0', 'ad0c42d6fc585992', '187306c89bc215a9', 'd4a60abcf3792b95',
  'f935451de4f21df2', 'a9538f0419755787', 'db9acddff56ca510', 'd06c98cd5c0975eb',
  'e612a3cb9ecba951', 'c766e62cfcadaf96', 'ee64435a9752fe72', 'a192d576b245165a',
  '0a8787bf8ecb74b2', '81b3e73d20b49b6f', '7fa8220ba3b2ecea', '245731c13ca42499',
  'b78dbfaf3a8d83bd', 'ea1ad565322a1a0b', '60e61c23a3795013', '6606d7e446282b93',
  '6ca4ecb15c5f91e1', '9f626da15c9625f3', 'e51b38608ef25f57', '958a324ceb064572',
];

test('SipHash-2-4 matches the reference vectors (every tail length, one to eight words)', (t) => {
  const key = new Uint32Array([0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c]);
  const msg = new Uint8Array(80);
  for (let i = 0; i < 64; i++) msg[i + 5] = i; // at an offset: the function must honour it
  msg[4] = 0xee;
  const out = new Uint32Array(2);
  for (let n = 0; n < 64; n++) {
    msg[5 + n] = 0xee; // a byte past the end must not count
    siphash24(key, msg, 5, n, out);
    msg[5 + n] = n;
    const hex = out[1].toString(16).padStart(8, '0') + out[0].toString(16).padStart(8, '0');
    t.is(hex, SIPHASH24_VECTORS[n], `length ${n}`);
  }
});

test('RFC 6528 ISNs resumed from the address pair\'s SipHash state equal the full hash, across pair changes and port edge values', (t) => {
  const kb = new Rng(9).fill(new Uint8Array(16));
  const key = new Uint32Array(kb.buffer.slice(kb.byteOffset, kb.byteOffset + 16));
  const g = new IsnGenerator(new Rng(9));
  const out = new Uint32Array(2);
  const pairs = [[0x0a000001, 0x0a000002], [0xc0000201, 0xc0000202], [0xffffffff, 0x00000001]];
  const ports = [[1, 80], [40000, 80], [65535, 65535], [0x1234, 0xabcd], [49152, 443]];
  let checked = 0;
  for (const pi of [0, 0, 1, 0, 2, 2, 1]) {
    const [l, r] = pairs[pi];
    for (const [lp, rp] of ports) {
      const tuple = new Uint8Array([l >>> 24, l >>> 16, l >>> 8, l, r >>> 24, r >>> 16, r >>> 8, r, lp >>> 8, lp, rp >>> 8, rp]);
      siphash24(key, tuple, 0, 12, out);
      t.is(g.next(0, l, lp, r, rp), seq(out[0]), `${l.toString(16)}:${lp} -> ${r.toString(16)}:${rp}`);
      checked++;
    }
  }
  t.is(checked, 35);
  // RFC 6056 port selection hash: SipHash of (local address, remote address, remote port), both words.
  siphash24(key, new Uint8Array([10, 0, 0, 1, 10, 0, 0, 2, 0x01, 0xbb]), 0, 10, out);
  t.deepEqual([...g.portHash(0x0a000001, 0x0a000002, 443)], [out[0], out[1]]);
  t.notDeepEqual([...g.portHash(0x0a000001, 0x0a000002, 80)], [out[0], out[1]], 'the last triple only');
});

test('RFC 6528 ISNs: F is SipHash-2-4 of the 4-tuple under the key drawn from the Rng', (t) => {
  const kb = new Rng(7).fill(new Uint8Array(16));
  const key = new Uint32Array(kb.buffer.slice(kb.byteOffset, kb.byteOffset + 16)); // little-endian words (x86, ARM)
  // 10.0.0.1:40000 -> 10.0.0.2:80, big-endian as on the wire: local address, remote address, local port, remote port.
  const tuple = new Uint8Array([10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x40, 0, 80]);
  const out = new Uint32Array(2);
  siphash24(key, tuple, 0, 12, out);
  const g = new IsnGenerator(new Rng(7));
  t.is(g.next(0, 0x0a000001, 40000, 0x0a000002, 80), seq(out[0]));
  t.is(g.next(4, 0x0a000001, 40000, 0x0a000002, 80), seq((out[0] + 1000) >>> 0), 'M: 250 ticks per ms');
  t.not(g.next(0, 0x0a000002, 80, 0x0a000001, 40000), out[0], 'the other direction is another tuple');
  // Timestamp offsets: SipHash of the address pair alone, so one offset per pair of hosts.
  siphash24(key, tuple, 0, 8, out);
  t.is(g.tsOffset(0x0a000001, 0x0a000002), out[0]);
  t.not(g.tsOffset(0x0a000001, 0x0a000003), out[0]);
  // The one-pair cache answers for the pair it holds only (and the ISN hashes in between do not disturb it).
  t.is(g.tsOffset(0x0a000001, 0x0a000002), out[0]);
  g.next(8, 0x0a000001, 40001, 0x0a000002, 80);
  t.is(g.tsOffset(0x0a000001, 0x0a000002), out[0]);
  t.not(g.tsOffset(0x0a000002, 0x0a000001), out[0], 'the pair is ordered');
});

test('window scale shift covers the buffer', (t) => {
  t.is(wscaleFor(65535), 0);
  t.is(wscaleFor(65536), 1);
  t.is(wscaleFor(256 * 1024), 3);
  t.is(wscaleFor(1 << 30), 14);
});
