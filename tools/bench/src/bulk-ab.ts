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
import { median } from './bench';
import { loadTrees, pairedBatches, pairedRatio } from './ab';

async function main(): Promise<void> {
  const trees = loadTrees(process.argv[2], 'bulk-ab');
  const rounds = Number(process.argv[3] ?? 20);
  const mib = Number(process.argv[4] ?? 32);
  const mtus = process.argv.length > 5 ? process.argv.slice(5).map(Number) : [1500, 65535];
  for (const mtu of mtus) {
    // Warm-up (JIT) of both trees at this size: V8 needs a few runs (see warmup.ts).
    for (let w = 0; w < 3; w++) for (const m of trees) { const s = m.pnetSide(mtu); try { await m.bulk(s, 2 * mib * 2 ** 20); } finally { s.close(); } }
    const b = await pairedBatches(trees, rounds, async (m) => {
      const s = m.pnetSide(mtu);
      try { await m.bulk(s, mib * 2 ** 20); } finally { s.close(); }
    });
    const per = (a: number[], scale: number, digits: number) => median(a.map((x) => x / scale / mib)).toFixed(digits);
    console.log(`MTU ${mtu}: CPU ms per MiB other ${per(b.cpu[0], 1e6, 2)}, this ${per(b.cpu[1], 1e6, 2)}, ` +
      `this/other (median of ${rounds} pairs) ${pairedRatio(b.cpu).toFixed(3)}; wall ${pairedRatio(b.wall).toFixed(3)}; ` +
      `GC pauses ms per MiB other ${per(b.gc[0], 1, 3)}, this ${per(b.gc[1], 1, 3)}`);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
