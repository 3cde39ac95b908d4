/**
 * `pnpm bench` (add `--quick` for a short run): runs every benchmark module,
 * prints one table of our figures beside their anchors and writes
 * tools/bench/results/latest.json (an array of BenchRow).
 *
 * Flags: `--quick` (smaller sizes, fewer runs; under 2 minutes), `--only=tcp,http`
 * (some modules), `--tiny` (smallest sizes, one run: checks that modules work,
 * figures meaningless; the harness test uses it), `--cpu-prof=<dir>` (a CPU profile
 * of each module's run, `<dir>/<module>.cpuprofile`; summarise with
 * `profile-summary.ts`), `--out=<file>` (write the JSON elsewhere).
 *
 * Each module runs in a child process of its own, so what one module leaves behind (V8's
 * type feedback and optimised code for shared paths, heap size, collector state) does not
 * weigh on the next: connections/s after the ring and SimLink modules in the same process read
 * 5.6x and 6.4x against 7.4x and 7.5x alone, alternating at 07:45 on 2026-11-28.
 *
 * To add a benchmark: write a module exporting `run(opts): Promise<BenchRow[]>`
 * and append one line to `modules` below.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchOptions, BenchRow, BenchRun } from './bench';

export const modules: { name: string; load: () => Promise<{ run: BenchRun }> }[] = [
  { name: 'ring', load: () => import('./ring') },
  { name: 'sim', load: () => import('./sim') },
  { name: 'tcp', load: () => import('./tcp') },
  { name: 'http', load: () => import('./http') },
  { name: 'tls', load: () => import('./tls') },
  { name: 'memory', load: () => import('./memory') },
  { name: 'vtime', load: () => import('./vtime') },
  { name: 'tap', load: () => import('./tap') },
];

/** One line about the machine, printed above the table (figures mean little without it). */
export function machine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  return `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `${os.type()} ${os.release()}, Node ${process.version}, load average ${load}`;
}

/** Runs the selected modules one after the other; `onModule` hears each start and end. */
export async function runModules(opts: BenchOptions, only?: string[], cpuProfDir?: string,
  onModule?: (name: string, seconds?: number) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const profiler = cpuProfDir ? new (await import('./profiler')).Profiler(cpuProfDir) : null;
  for (const m of modules) {
    if (only && !only.includes(m.name)) continue;
    onModule?.(m.name);
    const t0 = process.hrtime.bigint();
    const mod = await m.load();
    await profiler?.start();
    try {
      rows.push(...(await mod.run(opts)));
    } finally {
      await profiler?.stop(m.name);
    }
    onModule?.(m.name, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return rows;
}

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

/**
 * Runs one module in a child process (the same Node flags and loader as this one) and returns its
 * rows, which the child writes to a file: its stdout and stderr stay the user's.
 */
function runModuleInChild(name: string, passOn: string[]): BenchRow[] {
  const file = path.join(os.tmpdir(), `pnet-bench-${process.pid}-${name}.json`);
  try {
    const r = spawnSync(process.execPath, [...process.execArgv, __filename, `--module=${name}`, `--rows-out=${file}`, ...passOn],
      { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench: module ${name} failed (${r.error?.message ?? (r.signal ? `signal ${r.signal}` : `exit ${r.status}`)})`);
    return JSON.parse(fs.readFileSync(file, 'utf8')) as BenchRow[];
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function main(): Promise<void> {
  const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const tiny = process.argv.includes('--tiny');
  const quick = tiny || process.argv.includes('--quick');
  const only = flag('only')?.split(',');
  for (const o of only ?? []) if (!modules.some((m) => m.name === o)) throw new Error(`--only: no module ${o} (have ${modules.map((m) => m.name).join(', ')})`);
  const child = flag('module');
  if (child !== undefined) {
    // A child of the run below: one module, its rows to --rows-out.
    const rows = await runModules({ quick, tiny }, [child], flag('cpu-prof'));
    fs.writeFileSync(flag('rows-out')!, JSON.stringify(rows));
    return;
  }
  const started = process.hrtime.bigint();
  const mode = tiny ? ' (tiny)' : quick ? ' (quick)' : '';
  const passOn = process.argv.slice(2).filter((a) => a === '--tiny' || a === '--quick' || a.startsWith('--cpu-prof='));
  const rows: BenchRow[] = [];
  for (const m of modules) {
    if (only && !only.includes(m.name)) continue;
    process.stderr.write(`bench: ${m.name}${mode}...\n`);
    const t0 = process.hrtime.bigint();
    rows.push(...runModuleInChild(m.name, passOn));
    process.stderr.write(`bench: ${m.name} done in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s\n`);
  }
  console.log(`pnpm bench${mode}: ${machine()}; ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(0)} s\n`);
  console.log(table(rows));
  const out = path.resolve(flag('out') ?? path.resolve(__dirname, '..', 'results', 'latest.json'));
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
