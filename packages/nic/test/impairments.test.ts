import test from 'ava';
import { createHash } from 'node:crypto';
import { ethernetPayloadLength, readTestSeq, resolveImpairments, testFramePayloadIntact } from '../src';
import { outOfOrder, runLink } from './helpers/sim-harness';

// Statistical checks: 100k frames, fixed seed. Tolerances are stated per test and are at
// least 3 standard deviations of the estimate, so a correct model passes for any seed while a
// model off by a few percent of its setting fails.
const N = 100_000;

test('i.i.d. loss 10 %: measured loss within ±0.5 points over 100k frames', (t) => {
  const { arrivals, link } = runLink({ loss: 0.1 }, { frames: N, spacing: 0.01 });
  const s = link.stats.aToB;
  const rate = s.droppedLoss / N;
  t.true(Math.abs(rate - 0.1) < 0.005, `loss ${rate}`);
  t.is(arrivals.length, N - s.droppedLoss);
  t.is(s.delivered, arrivals.length);
  t.is(s.offered, N);
  t.is(outOfOrder(arrivals), 0);
});

test('Gilbert-Elliott p=1 %, r=10 %: loss within ±1.2 points of 9.09 %, mean burst 10 ± 1 frames', (t) => {
  const { arrivals, link } = runLink({ gilbertElliott: { p: 0.01, r: 0.1 } }, { frames: N, spacing: 0.01 });
  const lost = link.stats.aToB.droppedBurst;
  const expected = 0.01 / (0.01 + 0.1);
  t.true(Math.abs(lost / N - expected) < 0.012, `loss ${lost / N}`);
  // Bursts: runs of consecutive missing sequence numbers.
  let bursts = 0;
  let prev = -1;
  for (const a of arrivals) {
    if (a.seq > prev + 1) bursts++;
    prev = a.seq;
  }
  if (prev < N - 1) bursts++;
  const meanBurst = lost / bursts;
  t.true(Math.abs(meanBurst - 10) < 1, `mean burst ${meanBurst}`);
  // i.i.d. loss at the same rate would give bursts of ~1.1 frames: this is really bursty.
  t.true(meanBurst > 5);
});

test('duplication 5 %: duplicates within ±0.3 points, every duplicate is an exact second copy', (t) => {
  const { arrivals, link } = runLink({ duplicate: 0.05 }, { frames: N, spacing: 0.01 });
  const d = link.stats.aToB.duplicated;
  t.true(Math.abs(d / N - 0.05) < 0.003, `dup ${d / N}`);
  t.is(arrivals.length, N + d);
  const seen = new Uint8Array(N);
  for (const a of arrivals) seen[a.seq]++;
  let twice = 0;
  for (let i = 0; i < N; i++) {
    if (seen[i] === 2) twice++;
    else if (seen[i] !== 1) t.fail(`frame ${i} seen ${seen[i]} times`);
  }
  t.is(twice, d);
});

test('corruption 2 %: corrupted frames within ±0.15 points, each with exactly one flipped bit', (t) => {
  const { bytes, link } = runLink({ corrupt: 0.02, corruptFrom: 46 }, { frames: N, spacing: 0.01, keepBytes: true, length: 128 });
  let broken = 0;
  let oneBit = 0;
  for (const f of bytes) {
    if (testFramePayloadIntact(f, f.length)) continue;
    broken++;
    const seq = readTestSeq(f);
    let bits = 0;
    for (let i = 46; i < f.length; i++) {
      let x = f[i] ^ ((seq + i) & 0xff);
      while (x) { bits += x & 1; x >>= 1; }
    }
    if (bits === 1) oneBit++;
  }
  t.true(Math.abs(broken / N - 0.02) < 0.0015, `corrupt ${broken / N}`);
  t.is(broken, link.stats.aToB.corrupted);
  t.is(oneBit, broken);
});

test('delay 10 ms ± 2 ms jitter: mean within 0.03 ms, spread uniform (sd 1.155 ± 0.02), bounds respected', (t) => {
  const { arrivals } = runLink({ delay: 10, jitter: 2 }, { frames: N, spacing: 0.01 });
  t.is(arrivals.length, N);
  let sum = 0, sum2 = 0, min = Infinity, max = -Infinity;
  for (const a of arrivals) {
    const d = a.time - a.seq * 0.01;
    sum += d; sum2 += d * d;
    if (d < min) min = d;
    if (d > max) max = d;
  }
  const mean = sum / N;
  const sd = Math.sqrt(sum2 / N - mean * mean);
  t.true(Math.abs(mean - 10) < 0.03, `mean ${mean}`);
  t.true(Math.abs(sd - 2 / Math.sqrt(3)) < 0.02, `sd ${sd}`);
  t.true(min >= 8 - 1e-9 && max <= 12 + 1e-9, `range ${min}..${max}`);
  // Jitter much larger than the frame spacing reorders frames...
  t.true(outOfOrder(arrivals) > N / 2);
});

test('jitter with keepOrder: never reorders, never arrives before delay - jitter', (t) => {
  const { arrivals, link } = runLink({ delay: 10, jitter: 2, keepOrder: true }, { frames: N, spacing: 0.01 });
  t.is(arrivals.length, N);
  t.is(outOfOrder(arrivals), 0);
  for (let i = 1; i < arrivals.length; i++) if (arrivals[i].time < arrivals[i - 1].time) t.fail('time went back');
  t.true(arrivals.every((a) => a.time - a.seq * 0.01 >= 8 - 1e-9));
  t.true(link.stats.aToB.heldForOrder > 0);
});

test('reordering 5 %: frames overtaken within ±0.3 points of 5 %, none lost', (t) => {
  const { arrivals, link } = runLink({ delay: 1, reorder: 0.05, reorderGap: 0.5 }, { frames: N, spacing: 0.01 });
  t.is(arrivals.length, N);
  const r = link.stats.aToB.reordered;
  t.true(Math.abs(r / N - 0.05) < 0.003, `reordered ${r / N}`);
  // Each held-back frame is overtaken by the ~50 frames sent during its extra 0.5 ms.
  const ooo = outOfOrder(arrivals);
  t.true(Math.abs(ooo - r) <= 5, `out of order ${ooo} vs held back ${r}`);
});

test('rate limit 10 Mbit/s at twice the offered load: throughput within 0.1 % of the rate, drop-tail at 50 frames', (t) => {
  // 1250-byte frames take exactly 1 ms at 10 Mbit/s; offered one every 0.5 ms.
  const { arrivals, link } = runLink({ rate: 10e6, queuePackets: 50 }, { frames: N, spacing: 0.5, length: 1250 });
  const s = link.stats.aToB;
  const span = arrivals[arrivals.length - 1].time - arrivals[0].time;
  const throughput = ((arrivals.length - 1) * 1250 * 8) / (span / 1000);
  t.true(Math.abs(throughput / 10e6 - 1) < 0.001, `throughput ${throughput}`);
  t.is(s.queuePeakPackets, 50);
  t.is(arrivals.length + s.droppedQueue, N);
  t.true(Math.abs(s.droppedQueue / N - 0.5) < 0.01, `queue drops ${s.droppedQueue / N}`);
  t.is(outOfOrder(arrivals), 0);
  // The sender sees queue drops as transmit failures.
  t.is(link.a!.counters.txDrops, s.droppedQueue);
});

test('rate limit with a byte-limited queue never holds more than its bytes', (t) => {
  const { link, arrivals } = runLink({ rate: 1e6, queueBytes: 10_000 }, { frames: 20_000, spacing: 0.1, length: (s) => 100 + (s % 1000) });
  const s = link.stats.aToB;
  t.true(s.queuePeakBytes <= 10_000);
  t.true(s.queuePeakBytes > 9_000);
  t.true(s.droppedQueue > 0);
  t.is(arrivals.length + s.droppedQueue, 20_000);
});

test('MTU: the link drops frames whose payload exceeds it (an 802.1Q tag is not payload)', (t) => {
  const { arrivals, link } = runLink({ mtu: 1000 }, { frames: N, spacing: 0.01, length: (s) => 1013 + (s % 3) });
  // Lengths 1013, 1014, 1015 -> payloads 999, 1000, 1001: one in three is too big.
  t.is(link.stats.aToB.droppedMtu, Math.floor(N / 3));
  t.is(arrivals.length, N - Math.floor(N / 3));
  t.true(arrivals.every((a) => a.length <= 1014));
  // An 802.1Q-tagged frame may be 4 bytes longer for the same payload.
  const tagged = runLink({ mtu: 1000 }, { frames: 10, spacing: 0.01, length: 1018 });
  t.is(tagged.arrivals.length, 0); // untagged 1018-byte frames carry 1004 bytes: dropped
  t.is(ethernetPayloadLength(Uint8Array.from({ length: 1018 }, (_, i) => (i === 12 ? 0x81 : 0)), 1018), 1000);
});

test('MTU on the NIC: transmit refuses frames larger than the NIC allows', (t) => {
  const { a, arrivals } = runLink({}, { frames: 10, spacing: 0.01, mtu: 100, length: (s) => (s < 5 ? 118 : 119) });
  t.is(a.counters.txErrors, 5);
  t.is(arrivals.length, 5);
});

test('scripted drops remove exactly the listed frames', (t) => {
  const { arrivals, link } = runLink({ dropFrames: [0, 5, 6, 99_999] }, { frames: N, spacing: 0.01 });
  t.is(arrivals.length, N - 4);
  t.is(link.stats.aToB.droppedScripted, 4);
  const got = new Set(arrivals.map((a) => a.seq));
  t.false(got.has(0)); t.false(got.has(5)); t.false(got.has(6)); t.false(got.has(99_999));
  t.true(got.has(1)); t.true(got.has(7));
});

test('bad impairment settings are API errors with clear messages', (t) => {
  t.throws(() => resolveImpairments({ loss: 1.5 }), { message: /loss must be a probability/ });
  t.throws(() => resolveImpairments({ delay: -1 }), { message: /delay must be/ });
  t.throws(() => resolveImpairments({ rate: 0 }), { message: /rate must be/ });
  t.throws(() => resolveImpairments({ dropFrames: [1.5] }), { message: /dropFrames/ });
  t.throws(() => resolveImpairments({ gilbertElliott: { p: 2, r: 0 } }), { message: /gilbertElliott\.p/ });
});

function everything(seed: number): string {
  const { arrivals, bytes, link } = runLink(
    {
      delay: 3, jitter: 1, loss: 0.02, gilbertElliott: { p: 0.005, r: 0.3 }, duplicate: 0.02, corrupt: 0.01,
      reorder: 0.02, rate: 50e6, queuePackets: 64, dropFrames: [3, 4],
    },
    { frames: 20_000, spacing: 0.005, seed, keepBytes: true, length: (s) => 60 + (s % 900) },
  );
  const h = createHash('sha256');
  arrivals.forEach((a, i) => { h.update(`${a.seq}@${a.time};`); h.update(bytes[i]); });
  h.update(JSON.stringify(link.stats));
  return h.digest('hex');
}

test('same seed, same impairments: byte-identical outcome; another seed differs', (t) => {
  const one = everything(1234);
  t.is(everything(1234), one);
  t.not(everything(1235), one);
});

test('directions are independent: traffic on one does not change the other', (t) => {
  const only = runLink({ loss: 0.3, jitter: 1 }, { frames: 2000, spacing: 0.01, seed: 9 });
  const reverse = new Uint8Array(60).fill(0xff);
  const busy = runLink({ loss: 0.3, jitter: 1 }, {
    frames: 2000, spacing: 0.01, seed: 9,
    onEach: (seq, r) => {
      if (seq === 0) r.link.setImpairments('bToA', { loss: 0.5, jitter: 2, duplicate: 0.1 });
      r.b.transmit(reverse, 60);
    },
  });
  t.true(busy.link.stats.bToA.offered === 2000 && busy.link.stats.bToA.droppedLoss > 0);
  t.deepEqual(busy.arrivals, only.arrivals);
});

test('frames in flight live in pooled buffers: the pool stops growing once it holds the in-flight peak', (t) => {
  let capacityAfterWarmup = -1;
  const { link, arrivals } = runLink({ delay: 10, jitter: 1, duplicate: 0.01 }, {
    frames: N, spacing: 0.01,
    onEach: (seq, r) => { if (seq === 10_000) capacityAfterWarmup = r.link.channel('aToB').poolCapacity; },
  });
  const ch = link.channel('aToB');
  t.is(arrivals.length, N + link.stats.aToB.duplicated);
  // ~1000 frames are in flight at any time (10 ms at one per 10 us): the pool grew to that once.
  t.true(capacityAfterWarmup >= 1000 && capacityAfterWarmup <= 2048, `capacity ${capacityAfterWarmup}`);
  t.is(ch.poolCapacity, capacityAfterWarmup);
  t.is(ch.inFlight, 0);
});
