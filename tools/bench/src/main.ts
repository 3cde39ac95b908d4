/**
 * `pnpm bench` (add `--quick` for a short run): runs every benchmark module,
 * prints one table of our figures beside their anchors and writes
 * tools/bench/results/latest.json (an array of BenchRow).
 *
 * To add a benchmark: write a module exporting `run(opts): Promise<BenchRow[]>`
 * and append one line to `modules` below.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchRow, BenchRun } from './bench';

export const modules: { name: string; load: () => Promise<{ run: BenchRun }> }[] = [
  { name: 'ring', load: () => import('./ring') },
  { name: 'sim', load: () => import('./sim') },
  { name: 'tap', load: () => import('./tap') },
];

function format(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(2)} k`;
  if (a === 0) return '0';
  return a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

export function table(rows: BenchRow[]): string {
  const head = ['benchmark', 'ours', 'unit', 'anchor', 'anchor value', 'ours/anchor'];
  const cells = rows.map((r) => [r.name, format(r.value), r.unit, r.anchor, format(r.anchorValue), r.ratio.toFixed(3)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const right = [false, true, false, false, true, true];
  const line = (c: string[]) => c.map((x, i) => (right[i] ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const rows: BenchRow[] = [];
  for (const m of modules) {
    if (only && !only.split(',').includes(m.name)) continue;
    process.stderr.write(`bench: ${m.name}${quick ? ' (quick)' : ''}...\n`);
    const mod = await m.load();
    rows.push(...(await mod.run({ quick })));
  }
  console.log(table(rows));
  const out = path.resolve(__dirname, '..', 'results', 'latest.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out + '.tmp', JSON.stringify(rows, null, 2) + '\n');
  fs.renameSync(out + '.tmp', out);
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
