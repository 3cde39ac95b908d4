/**
 * The bulk scenario of tcp.ts, ours against `net`, with the process's CPU time (all threads,
 * user + system: the collector's helper threads and `net`'s loopback work in the kernel count)
 * besides the wall time, the collector's pauses and the minor page faults. On a shared,
 * overloaded machine the wall figures swing by 2x; CPU seconds per GiB move less. For an A/B,
 * run it in two trees in turn, several times.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/bulk-cpu.ts [runs=3] [MiB=64] [mtu...=1500 65535]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { bulkToolArgs, median } from './bench';
import { bulk, kernelSide, pnetSide } from './tcp';


let gcMs = 0;
new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; }).observe({ entryTypes: ['gc'] });

interface Run { wall: number; cpu: number; faults: number; gc: number }

async function measure(go: () => Promise<unknown>): Promise<Run> {
  const g0 = gcMs;
  const f0 = process.resourceUsage().minorPageFault;
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  await go();
  const wall = Number(process.hrtime.bigint() - w0) / 1e9;
  const c = process.cpuUsage(c0);
  const faults = process.resourceUsage().minorPageFault - f0;
  await new Promise((r) => setImmediate(r)); // let the gc entries of the run arrive
  return { wall, cpu: (c.user + c.system) / 1e6, faults, gc: gcMs - g0 };
}

async function main(): Promise<void> {
  const { count: runs, mtus, bytes, gib } = bulkToolArgs(process.argv, 3);
  const kernel = kernelSide();
  // Warm-up (JIT) of each path at the size measured.
  await bulk(kernel, bytes);
  for (const mtu of mtus) { const s = pnetSide(mtu); try { await bulk(s, bytes); } finally { s.close(); } }
  const res = new Map<string, Run[]>();
  const add = (k: string, r: Run) => { if (!res.has(k)) res.set(k, []); res.get(k)!.push(r); };
  for (let i = 0; i < runs; i++) {
    add('net', await measure(() => bulk(kernel, bytes)));
    for (const mtu of mtus) {
      const s = pnetSide(mtu);
      try { add(`MTU ${mtu}`, await measure(() => bulk(s, bytes))); } finally { s.close(); }
    }
  }
  const net = res.get('net')!;
  const netWall = median(net.map((r) => r.wall));
  const netCpu = median(net.map((r) => r.cpu));
  for (const [k, rs] of res) {
    const wall = median(rs.map((r) => r.wall));
    const cpu = median(rs.map((r) => r.cpu));
    console.log(`${k.padEnd(9)}  ${(gib * 8 / wall).toFixed(2)} Gbit/s (x${(netWall / wall).toFixed(2)} of net)  ` +
      `${(cpu / gib).toFixed(2)} CPU s/GiB (x${(netCpu / cpu).toFixed(2)})  [${rs.map((r) => (r.cpu / gib).toFixed(2)).join(' ')}]  ` +
      `GC ${(median(rs.map((r) => r.gc)) / gib).toFixed(0)} ms/GiB  ${(median(rs.map((r) => r.faults)) / (bytes / 4096)).toFixed(3)} faults/4 KiB`);
  }
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
