/**
 * The paired A/B measurement behind conn-ab.ts and bulk-ab.ts: the bench module tcp.ts of this tree
 * and of another copy of the repository in one process, batches of the same work in alternation
 * (which tree goes first alternates too), so load that drifts over minutes hits both alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { median } from './bench';

export type TcpBench = typeof import('./tcp');

/** Main-thread CPU time in ns (the collector's helper threads are not in it). */
const mainNs = (): number => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

/** [the other tree's tcp.ts, this tree's]. */
export function loadTrees(other: string | undefined, tool: string): [TcpBench, TcpBench] {
  if (!other) throw new Error(`${tool}: the path of the other tree is required`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const base = require(path.resolve(other, 'tools/bench/src/tcp')) as TcpBench;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ours = require('./tcp') as TcpBench;
  return [base, ours];
}

/** Per batch, index 0 the other tree, 1 this one: main-thread CPU ns, wall ns, collector pause ms. */
export interface PairedBatches { cpu: number[][]; wall: number[][]; gc: number[][] }

export async function pairedBatches(trees: [TcpBench, TcpBench], rounds: number,
  batch: (m: TcpBench) => Promise<void>): Promise<PairedBatches> {
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; });
  observer.observe({ entryTypes: ['gc'] });
  const out: PairedBatches = { cpu: [[], []], wall: [[], []], gc: [[], []] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < 2; k++) {
        const i = r % 2 === 0 ? k : 1 - k;
        const c0 = mainNs();
        const w0 = process.hrtime.bigint();
        const g0 = gcMs;
        await batch(trees[i]);
        out.cpu[i].push(mainNs() - c0);
        out.wall[i].push(Number(process.hrtime.bigint() - w0));
        await new Promise((res) => setImmediate(res)); // GC entries are delivered asynchronously
        out.gc[i].push(gcMs - g0);
      }
    }
  } finally {
    observer.disconnect();
  }
  return out;
}

/** Median of the paired ratios this / other (below 1: this tree is cheaper). */
export function pairedRatio(a: number[][]): number {
  return median(a[1].map((x, j) => x / a[0][j]));
}
