import test from 'ava';
import fc from 'fast-check';
import { Impairments } from '../src';
import { outOfOrder, runLink } from './helpers/sim-harness';

const prob = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true }));
const impairments: fc.Arbitrary<Impairments> = fc.record({
  delay: fc.double({ min: 0, max: 5, noNaN: true }),
  jitter: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3, noNaN: true })),
  keepOrder: fc.boolean(),
  loss: prob,
  gilbertElliott: fc.option(fc.record({ p: prob, r: fc.double({ min: 0.01, max: 1, noNaN: true }) }), { nil: undefined }),
  duplicate: prob,
  corrupt: prob,
  corruptFrom: fc.constant(46), // keep the sequence number readable
  reorder: prob,
  reorderGap: fc.double({ min: 0, max: 2, noNaN: true }),
  rate: fc.option(fc.double({ min: 1e5, max: 1e9, noNaN: true }), { nil: undefined }),
  queuePackets: fc.integer({ min: 1, max: 64 }),
  mtu: fc.option(fc.integer({ min: 200, max: 1500 }), { nil: undefined }),
  dropFrames: fc.array(fc.nat(300), { maxLength: 5 }),
});

test('any impairment mix: every frame is accounted for, nothing arrives early, runs replay exactly', (t) => {
  fc.assert(
    fc.property(impairments, fc.integer({ min: 1, max: 300 }), fc.double({ min: 0.001, max: 1, noNaN: true }), fc.nat(), (imp, frames, spacing, seed) => {
      const run = () => runLink(imp, { frames, spacing, seed, length: (s) => 60 + ((s * 97) % 1400) });
      const { arrivals, link } = run();
      const s = link.stats.aToB;
      const dropped = s.droppedMtu + s.droppedScripted + s.droppedLoss + s.droppedBurst + s.droppedQueue;
      // Conservation: each offered frame is dropped once or delivered (plus its duplicate).
      if (s.offered !== frames) return false;
      if (s.delivered + s.droppedNoCarrier !== frames - dropped + s.duplicated) return false;
      if (arrivals.length !== s.delivered) return false;
      // Causality: nothing arrives before it was sent plus the smallest possible latency.
      const minLatency = Math.max(0, (imp.delay ?? 0) - (imp.jitter ?? 0));
      for (const a of arrivals) if (a.time < a.seq * spacing + minLatency - 1e-9) return false;
      // Order: with keepOrder and no explicit reordering, frames never overtake.
      if (imp.keepOrder && !imp.reorder && outOfOrder(arrivals) !== 0) return false;
      // Determinism: the same seed replays the same arrivals.
      const again = run();
      return JSON.stringify(again.arrivals) === JSON.stringify(arrivals) && JSON.stringify(again.link.stats) === JSON.stringify(link.stats);
    }),
    { numRuns: 150, seed: 20261127 },
  );
  t.pass();
});
