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
import { median } from './bench';
import { loadTrees, pairedBatches, pairedRatio } from './ab';

async function main(): Promise<void> {
  const trees = loadTrees(process.argv[2], 'conn-ab');
  const rounds = Number(process.argv[3] ?? 40);
  const n = Number(process.argv[4] ?? 2000);
  // Warm-up: V8 optimises the connection path only after a few thousand connections.
  for (const m of trees) for (let i = 0; i < 2; i++) { const s = m.pnetSide(1500); try { await m.connections(s, 3000); } finally { s.close(); } }
  const b = await pairedBatches(trees, rounds, async (m) => {
    const s = m.pnetSide(1500);
    try { await m.connections(s, n); } finally { s.close(); }
  });
  const per = (a: number[], scale: number) => median(a.map((x) => x / scale / n)).toFixed(2);
  console.log(`CPU us per connection: other ${per(b.cpu[0], 1e3)}, this ${per(b.cpu[1], 1e3)}; ` +
    `this/other, median of ${rounds} paired batches: ${pairedRatio(b.cpu).toFixed(3)}`);
  console.log(`wall us per connection: other ${per(b.wall[0], 1e3)}, this ${per(b.wall[1], 1e3)}; ` +
    `this/other: ${pairedRatio(b.wall).toFixed(3)}; GC pauses us per connection: other ${per(b.gc[0], 1e-3)}, ` +
    `this ${per(b.gc[1], 1e-3)}`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
