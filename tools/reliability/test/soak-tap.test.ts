/**
 * Scaled-down TAP soak (`pnpm soak -- --only tap` runs more): 2 MiB each way between our TCP and the Linux kernel's,
 * through a SimLink carrying the heavy impairment mix both ways, plus `tc netem` on the kernel side when the kernel
 * has it. Needs root: skips loudly without (fails with CI=true).
 */
import test from 'ava';
import { requireRoot } from '@pnet/nic';
import { runTapSoak } from '../src/tap-soak';
import { HEAVY_IMPAIRMENTS } from '../src/sim-soak';

const rootTest = requireRoot(test, { commands: ['python3', 'tc'] });
const MiB = 1024 * 1024;

rootTest('tap soak: 2 MiB each way with the Linux kernel under the heavy impairment mix (and netem when available), identical SHA-256', async (t) => {
  const r = await runTapSoak(t, 2 * MiB, { ...HEAVY_IMPAIRMENTS, delay: 1, jitter: 0.5 });
  if (!r.netem) t.log('NOTE: this kernel has no netem qdisc (sch_netem): the impairments come from our SimLink only');
  t.is(r.sinkReport, `${2 * MiB} ${r.sentHash}`, 'the kernel received exactly what we sent');
  t.is(r.received, 2 * MiB);
  t.true(r.sourceReport.includes(`source ${2 * MiB} ${r.receivedHash}`), 'we received exactly what the kernel sent');
  t.is(r.connectionsAfter, 0);
  t.log(`netem ${r.netem}; longest stall ${r.longestStallMs} ms (real time, not asserted); tcp ${JSON.stringify(r.tcp)}`);
});
