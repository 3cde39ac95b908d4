/**
 * The connections/s scenario of tcp.ts, ours against `net`, with the main thread's CPU time
 * besides the wall time: on a shared, overloaded machine the wall figures swing by 2x while
 * CPU time per connection (from /proc/self/task/<pid>/schedstat, Linux only) moves much less.
 * `net`'s loopback work runs in its syscalls on the same thread, so both sides count it.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/conn-cpu.ts [runs=5] [connections=2000] [ours]
 *   (WARM=n: warm-up connections per side, default 3000; `ours`: skip the anchor)
 */
import * as fs from 'node:fs';
import { median } from './bench';
import { connections, kernelSide, pnetSide } from './tcp';

const mainNs = (): number => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const n = Number(process.argv[3] ?? 2000);
  const oursOnly = process.argv[4] === 'ours';
  const warm = Number(process.env.WARM ?? 3000);
  const kernel = kernelSide();
  if (!oursOnly) await connections(kernel, warm);
  { const s = pnetSide(1500); try { await connections(s, warm); } finally { s.close(); } }
  const wall: number[] = [], cpu: number[] = [], cpuRatio: number[] = [];
  for (let r = 0; r < runs; r++) {
    let net = NaN, netCpu = NaN;
    if (!oursOnly) {
      const k0 = mainNs();
      net = await connections(kernel, n);
      netCpu = n / ((mainNs() - k0) / 1e9);
    }
    const c0 = mainNs();
    const s = pnetSide(1500);
    let ours: number;
    try { ours = await connections(s, n); } finally { s.close(); }
    const oursCpu = n / ((mainNs() - c0) / 1e9);
    wall.push(ours / net); cpu.push(oursCpu); cpuRatio.push(oursCpu / netCpu);
    console.log(`run ${r}: wall conn/s ours ${ours.toFixed(0)} net ${net.toFixed(0)} (${(ours / net).toFixed(2)}x); ` +
      `conn per main-thread CPU s ours ${oursCpu.toFixed(0)} net ${netCpu.toFixed(0)} (${(oursCpu / netCpu).toFixed(2)}x)`);
  }
  console.log(`median: wall ${median(wall).toFixed(2)}x, ours ${median(cpu).toFixed(0)} conn per CPU s, CPU ${median(cpuRatio).toFixed(2)}x`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
