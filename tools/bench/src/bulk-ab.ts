/**
 * CPU per MiB of the bulk scenario of tcp.ts (ours only) for two trees in one process, in
 * alternating batches, as conn-ab.ts does for connections: on a shared machine two separate runs
 * differ by more than most changes, the ratio of batches a second apart much less. The other tree
 * is a copy of the repository (e.g. `git worktree add /tmp/base <commit>` + `pnpm install --offline`).
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/bulk-ab.ts <other tree> [rounds=20] [MiB=32] [mtu...=1500 65535]
 *
 * Prints, per MTU, the median main-thread CPU ms per MiB of each tree and the median of the paired
 * ratios (this tree / the other; below 1 means this tree is cheaper), the same for wall time, and
 * the collector's pause time per MiB (much of the young-generation collector's work runs on helper
 * threads, which the main thread's CPU time does not show).
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
  if (!other) throw new Error('bulk-ab: the path of the other tree is required');
  const rounds = Number(process.argv[3] ?? 20);
  const mib = Number(process.argv[4] ?? 32);
  const mtus = process.argv.length > 5 ? process.argv.slice(5).map(Number) : [1500, 65535];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const base = require(path.resolve(other, 'tools/bench/src/tcp')) as TcpBench;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ours = require('./tcp') as TcpBench;
  const trees = [base, ours];
  const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; });
  gcObserver.observe({ entryTypes: ['gc'] });
  for (const mtu of mtus) {
    // Warm-up (JIT) of both trees at this size: V8 needs a few runs (see warmup.ts).
    for (let w = 0; w < 3; w++) for (const m of trees) { const s = m.pnetSide(mtu); try { await m.bulk(s, 2 * mib * 2 ** 20); } finally { s.close(); } }
    const cpu: number[][] = [[], []];
    const wall: number[][] = [[], []];
    const gc: number[][] = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < 2; k++) {
        const i = r % 2 === 0 ? k : 1 - k; // which tree goes first alternates
        const s = trees[i].pnetSide(mtu);
        const c0 = mainNs();
        const w0 = process.hrtime.bigint();
        const g0 = gcMs;
        try { await trees[i].bulk(s, mib * 2 ** 20); } finally { s.close(); }
        cpu[i].push((mainNs() - c0) / 1e6 / mib);
        wall[i].push(Number(process.hrtime.bigint() - w0) / 1e6 / mib);
        await new Promise((res) => setImmediate(res)); // GC entries are delivered asynchronously
        gc[i].push((gcMs - g0) / mib);
      }
    }
    const ratio = (a: number[][]): string => median(a[1].map((x, j) => x / a[0][j])).toFixed(3);
    console.log(`MTU ${mtu}: CPU ms per MiB other ${median(cpu[0]).toFixed(2)}, this ${median(cpu[1]).toFixed(2)}, ` +
      `this/other (median of ${rounds} pairs) ${ratio(cpu)}; wall ${ratio(wall)}; ` +
      `GC pauses ms per MiB other ${median(gc[0]).toFixed(3)}, this ${median(gc[1]).toFixed(3)}`);
  }
  gcObserver.disconnect();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
