/**
 * CPU per connection of two trees in one process, in alternating batches (the connections/s
 * scenario of tcp.ts, ours only): on a shared machine whose load drifts over minutes, two
 * separate runs differ by +-15 % while the ratio of batches a second apart moves much less.
 * The other tree is a copy of the repository (e.g. `cp -a` of a worktree at the commit before).
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/conn-ab.ts <other tree> [rounds=40] [connections=2000]
 *
 * Prints the median main-thread CPU microseconds per connection of each tree and the median of
 * the paired ratios (this tree / the other); below 1 means this tree is cheaper. Then the same for
 * wall time, and the collector's pause time per connection: much of the young-generation
 * collector's work runs on V8's helper threads, which the main thread's CPU time does not show.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { median } from './bench';

const mainNs = (): number => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

type TcpBench = typeof import('./tcp');

let gcMs = 0;

async function main(): Promise<void> {
  const other = process.argv[2];
  if (!other) throw new Error('conn-ab: the path of the other tree is required');
  const rounds = Number(process.argv[3] ?? 40);
  const n = Number(process.argv[4] ?? 2000);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const base = require(path.resolve(other, 'tools/bench/src/tcp')) as TcpBench;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ours = require('./tcp') as TcpBench;
  const trees = [base, ours];
  const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; });
  gcObserver.observe({ entryTypes: ['gc'] });
  // Warm-up: V8 optimises the connection path only after a few thousand connections.
  for (const m of trees) for (let i = 0; i < 2; i++) { const s = m.pnetSide(1500); try { await m.connections(s, 3000); } finally { s.close(); } }
  const cpu: number[][] = [[], []];
  const wall: number[][] = [[], []];
  const gc: number[][] = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < 2; k++) {
      const i = r % 2 === 0 ? k : 1 - k; // which tree goes first alternates
      const c0 = mainNs();
      const w0 = process.hrtime.bigint();
      const g0 = gcMs;
      const s = trees[i].pnetSide(1500);
      try { await trees[i].connections(s, n); } finally { s.close(); }
      cpu[i].push((mainNs() - c0) / 1e3 / n);
      wall[i].push(Number(process.hrtime.bigint() - w0) / 1e3 / n);
      await new Promise((r) => setImmediate(r)); // GC entries are delivered asynchronously
      gc[i].push((gcMs - g0) * 1e3 / n);
    }
  }
  const ratios = cpu[1].map((x, j) => x / cpu[0][j]);
  console.log(`CPU us per connection: other ${median(cpu[0]).toFixed(2)}, this ${median(cpu[1]).toFixed(2)}; ` +
    `this/other, median of ${rounds} paired batches: ${median(ratios).toFixed(3)}`);
  const wallRatios = wall[1].map((x, j) => x / wall[0][j]);
  console.log(`wall us per connection: other ${median(wall[0]).toFixed(2)}, this ${median(wall[1]).toFixed(2)}; ` +
    `this/other: ${median(wallRatios).toFixed(3)}; GC pauses us per connection: other ${median(gc[0]).toFixed(2)}, ` +
    `this ${median(gc[1]).toFixed(2)}`);
  gcObserver.disconnect();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
