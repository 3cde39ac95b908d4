/**
 * JIT warm-up: the same scenario of tcp.ts run again and again in one process, each run on a new
 * pair of Stacks (as the bench does), printing each run's rate by wall time and by main-thread CPU
 * time (/proc/self/task/<pid>/schedstat, Linux only: it moves much less than wall time on a shared
 * machine). The work is identical in every run, so the series shows how long V8 takes to reach the
 * steady state; add `--trace-deopt` to see what it throws away on the way.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/warmup.ts bulk [mtu=1500] [runs=8] [MiB=128]
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/warmup.ts conn [runs=8] [connections=5000]
 *
 * (ts-cache rather than ts-node: ts-node loads `domain`, whose EventEmitter is slower.)
 */
import * as fs from 'node:fs';
import { bulk, connections, pnetSide } from './tcp';

const mainNs = (): number => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

async function main(): Promise<void> {
  const [what = 'bulk', ...rest] = process.argv.slice(2);
  const arg = (i: number, d: number): number => (rest[i] === undefined ? d : Number(rest[i]));
  if (what !== 'bulk' && what !== 'conn') throw new Error('usage: warmup.ts bulk [mtu] [runs] [MiB] | conn [runs] [connections]');
  const mtu = what === 'bulk' ? arg(0, 1500) : 1500;
  const runs = what === 'bulk' ? arg(1, 8) : arg(0, 8);
  const n = what === 'bulk' ? arg(2, 128) * (1 << 20) : arg(1, 5000);
  for (let i = 1; i <= runs; i++) {
    const side = pnetSide(mtu);
    const c0 = mainNs();
    const rate = what === 'bulk' ? await bulk(side, n) : await connections(side, n);
    const cpu = (mainNs() - c0) / 1e9;
    side.close();
    console.log(what === 'bulk'
      ? `run ${i}: ${(rate * 8 / 1e9).toFixed(2)} Gbit/s, ${(n * 8 / cpu / 1e9).toFixed(2)} Gbit per main-thread CPU s`
      : `run ${i}: ${(rate / 1000).toFixed(1)} k conn/s, ${(n / cpu / 1000).toFixed(1)} k per main-thread CPU s`);
    await new Promise((r) => setImmediate(r));
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
