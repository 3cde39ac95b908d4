/**
 * The bulk scenario of tcp.ts with `sumWords` using the WebAssembly SIMD module or only its JS
 * loops, in one process: runs in adjacent pairs (the order alternating), so both sides share
 * the JIT state and the machine's load of the moment. Prints CPU seconds per GiB (process CPU,
 * all threads) per side and the median of the pairs' ratios, which cancels slow drifts of load.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/checksum-ab.ts [pairs=8] [MiB=64] [mtu...=1500 65535]
 */
import { bulkToolArgs, median } from './bench';
import { bulk, pnetSide } from './tcp';
import { checksumPaths } from '../../../packages/tcpip/src/wire/checksum';

async function cpuOf(mtu: number, bytes: number, wasm: boolean): Promise<number> {
  checksumPaths.setWasmEnabled(wasm);
  const s = pnetSide(mtu);
  try {
    const c0 = process.cpuUsage();
    await bulk(s, bytes);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  } finally {
    s.close();
  }
}

async function main(): Promise<void> {
  const { count: pairs, mtus, bytes, gib } = bulkToolArgs(process.argv, 8);
  if (!checksumPaths.wasmAvailable) throw new Error('checksum-ab: no WebAssembly SIMD here, nothing to compare');
  // Warm-up (JIT) of both paths at each MTU.
  for (const mtu of mtus) for (const w of [true, false, true, false]) await cpuOf(mtu, bytes, w);
  for (const mtu of mtus) {
    const js: number[] = [], wasm: number[] = [], ratios: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 === 0 ? [false, true] : [true, false];
      const r = new Map<boolean, number>();
      for (const w of order) r.set(w, await cpuOf(mtu, bytes, w) / gib);
      js.push(r.get(false)!);
      wasm.push(r.get(true)!);
      ratios.push(r.get(true)! / r.get(false)!);
    }
    console.log(`MTU ${mtu}: JS ${median(js).toFixed(2)} CPU s/GiB, wasm ${median(wasm).toFixed(2)}; wasm/JS per pair: median ` +
      `${median(ratios).toFixed(3)} [${ratios.map((x) => x.toFixed(2)).join(' ')}]`);
  }
  checksumPaths.setWasmEnabled(true);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
