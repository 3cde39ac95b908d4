/**
 * `pnpm fuzz [-- --cases N] [--seed S] [--only name]`: runs every parser fuzz target (tools/reliability/src/fuzz-targets.ts)
 * for N cases (default 1,000,000). A failure prints fast-check's counterexample and seed, and the exit code is 1.
 */
import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import { fuzzTargets } from '../reliability/src/fuzz-targets';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : undefined;
};
const cases = Number(arg('cases') ?? 1_000_000);
const seed = Number(arg('seed') ?? randomInt(2 ** 31 - 1)); // a fresh seed each run unless given
const only = arg('only');
if (!Number.isInteger(cases) || cases <= 0) throw new RangeError('--cases must be a positive integer');

// Cases run in batches of BATCH with seeds seed, seed+1, ...: between batches the event loop turns, so what a target
// leaves for later (stream 'close' events on nextTick) runs instead of piling up for a million cases.
const BATCH = 10_000;

async function main(): Promise<void> {
  let failed = 0;
  for (const target of fuzzTargets()) {
    if (only && !target.name.includes(only)) continue;
    const t0 = process.hrtime.bigint();
    let done = 0;
    let failure: string | null = null;
    for (let batch = 0; done < cases && !failure; batch++) {
      const n = Math.min(BATCH, cases - done);
      const r = fc.check(target.property, { numRuns: n, seed: seed + batch });
      done += r.numRuns;
      if (r.failed) failure = `${fc.defaultReportMessage(r)} (batch seed ${seed + batch})`;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (failure) {
      failed++;
      console.log(`FAIL ${target.name}: ${failure}`);
    } else {
      console.log(`ok   ${target.name}: ${done} cases in ${s.toFixed(1)} s (seed ${seed}, batches of ${BATCH})`);
    }
  }
  console.log(failed ? `${failed} target(s) failed` : 'all targets passed');
  process.exitCode = failed ? 1 : 0;
}
void main();
