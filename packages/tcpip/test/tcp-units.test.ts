import test from 'ava';
import fc from 'fast-check';
import { Rng } from '@pnet/nic';
import { seq, seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from '../src/tcp/seq';
import { ByteRing } from '../src/tcp/byte-ring';
import { TimerHeap } from '../src/tcp/timer-heap';
import { RttEstimator } from '../src/tcp/rtt';
import { NewReno } from '../src/tcp/congestion';
import { IsnGenerator } from '../src/tcp/isn';
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
  t.is(cc.cwnd, 17520, 'ABC L=1: at most one MSS per ACK');
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
  cc.onCongestionEvent(1000, 0);
  t.is(cc.ssthresh, 2920, 'never below 2 MSS');
  cc.onRecoveryExit(500, 0);
  t.is(cc.cwnd, 1960, 'exit: min(ssthresh, flight + MSS)');
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

test('window scale shift covers the buffer', (t) => {
  t.is(wscaleFor(65535), 0);
  t.is(wscaleFor(65536), 1);
  t.is(wscaleFor(256 * 1024), 3);
  t.is(wscaleFor(1 << 30), 14);
});
