/**
 * The steady-state bulk cost of two trees in one process, in alternating batches (the bulk
 * scenario of tcp.ts, ours only), as conn-ab.ts does for connections: main-thread CPU
 * microseconds per MiB of each tree and the median of the paired ratios (this tree / the other;
 * below 1 means this tree is cheaper), after two 64 MiB warm-up transfers per tree.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/bulk-ab.ts <other tree> [rounds=12] [MiB=32] [mtu=1500]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { median } from './bench';

const mainNs = (): number => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

type TcpBench = typeof import('./tcp');

async function main(): Promise<void> {
  const other = process.argv[2];
  if (!other) throw new Error('bulk-ab: the path of the other tree is required');
  const rounds = Number(process.argv[3] ?? 12);
  const mib = Number(process.argv[4] ?? 32);
  const mtu = Number(process.argv[5] ?? 1500);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const base = require(path.resolve(other, 'tools/bench/src/tcp')) as TcpBench;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ours = require('./tcp') as TcpBench;
  const trees = [base, ours];
  for (const m of trees) for (let i = 0; i < 2; i++) { const s = m.pnetSide(mtu); try { await m.bulk(s, 64 << 20); } finally { s.close(); } }
  const cpu: number[][] = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < 2; k++) {
      const i = r % 2 === 0 ? k : 1 - k; // which tree goes first alternates
      const c0 = mainNs();
      const s = trees[i].pnetSide(mtu);
      try { await trees[i].bulk(s, mib << 20); } finally { s.close(); }
      cpu[i].push((mainNs() - c0) / 1e3 / mib);
      await new Promise((r) => setImmediate(r));
    }
  }
  const ratios = cpu[1].map((x, j) => x / cpu[0][j]);
  console.log(`MTU ${mtu}, CPU us per MiB: other ${median(cpu[0]).toFixed(0)}, this ${median(cpu[1]).toFixed(0)}; ` +
    `this/other, median of ${rounds} paired batches: ${median(ratios).toFixed(3)}`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
