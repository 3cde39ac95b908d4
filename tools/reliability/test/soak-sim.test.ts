/**
 * Scaled-down bulk soak (`pnpm soak` runs 1 GiB): 32 MiB each way over a SimLink under ~5 % bursty loss,
 * 5 % reordering, 2 % duplication, 0.5 % corruption and jitter, in virtual time.
 */
import test from 'ava';
import { runSimSoak } from '../src/sim-soak';

const MiB = 1024 * 1024;
/** Stall bound in virtual time: the RTO backs off 1, 2, 4 ... s, so 60 s is five retransmissions of one segment lost in a row. */
export const STALL_BOUND_MS = 60_000;

test('soak: 32 MiB each way over a SimLink under the heavy impairment mix, identical SHA-256, no stall over 60 s, nothing left behind', (t) => {
  const r = runSimSoak({ size: 32 * MiB, seed: 1 });
  t.is(r.receivedAB, 32 * MiB);
  t.is(r.receivedBA, 32 * MiB);
  t.is(r.receivedHashAB, r.sentHashAB);
  t.is(r.receivedHashBA, r.sentHashBA);
  t.is(r.clientError, null);
  t.is(r.serverError, null);
  t.true(r.clientClosed && r.serverClosed);
  t.true(r.longestStallMs < STALL_BOUND_MS, `longest stall ${r.longestStallMs} ms at ${r.longestStallAt}`);
  t.is(r.connectionsAfter, 0, 'connection tables empty after TIME-WAIT');
  t.is(r.pendingEventsAfter, 0, 'no timers left on the clock');
  t.is(r.internalErrors, 0);
  const lossRate = r.link.burstLost / r.link.offered;
  t.true(lossRate > 0.03 && lossRate < 0.08, `loss ${lossRate}`);
  t.true(r.link.reordered > 0 && r.link.duplicated > 0 && r.link.corrupted > 0);
  t.log(`virtual ${(r.virtualMs / 1000).toFixed(0)} s, longest stall ${(r.longestStallMs / 1000).toFixed(2)} s, ` +
    `timeouts ${r.timeouts}, retransmits ${r.retransmits}, link ${JSON.stringify(r.link)}`);
});
