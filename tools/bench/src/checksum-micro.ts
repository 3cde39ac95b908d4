/**
 * The Internet checksum's sum alone, in GB/s per range length: the JS loops (`sumWordsJs`), the
 * wasm SIMD module over a buffer in wasm memory (in place) and over an ordinary buffer (copied
 * into the module's scratch memory first: the whole frame-sized buffer), each called directly so the length thresholds of
 * `sumWords` do not pick for them. Used to set WASM_IN_PLACE_MIN and WASM_SCRATCH_MIN.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/checksum-micro.ts [lengths...=20 40 64 128 256 512 1480 9000 65535]
 */
import { allocateWasmBacked } from '@pnet/nic';
import { checksumPaths } from '../../../packages/tcpip/src/wire/checksum';

const lengths = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [20, 40, 64, 128, 256, 512, 1480, 9000, 65535];
const OFFSET = 14; // an Ethernet header before the range, as for an IP packet in a frame
const size = 65536 + 64;
const plain = new Uint8Array(size);
const inWasm = new Uint8Array(allocateWasmBacked(size), 0, size);
for (let i = 0; i < size; i++) plain[i] = inWasm[i] = (i * 131 + 7) & 0xff;

// The scratch path copies the whole buffer: give it one the size of a frame holding the range.
const frames = new Map(lengths.map((n) => [n, plain.subarray(0, OFFSET + n)]));
const paths: [string, (n: number) => number][] = [
  ['js', (n) => checksumPaths.js(plain, OFFSET, n)],
  ['wasm in place', (n) => checksumPaths.inPlace(inWasm, OFFSET, n)],
  ['wasm scratch', (n) => checksumPaths.scratch(frames.get(n)!, OFFSET, n)],
];
if (!checksumPaths.wasmAvailable) console.log('WebAssembly SIMD unavailable: only the JS path is real');

console.log(`${'bytes'.padStart(6)} ${paths.map(([name]) => name.padStart(16)).join('')}   (GB/s, best of 5)`);
let sink = 0;
for (const n of lengths) {
  const iters = Math.max(20000, Math.floor(4e8 / n));
  const cells: string[] = [];
  for (const [, fn] of paths) {
    for (let i = 0; i < iters / 4; i++) sink += fn(n); // warm-up
    let best = Infinity;
    for (let rep = 0; rep < 5; rep++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iters; i++) sink += fn(n);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / iters);
    }
    cells.push(`${(n / best).toFixed(2)} (${best.toFixed(0)} ns)`.padStart(16));
  }
  console.log(`${String(n).padStart(6)} ${cells.join('')}`);
}
if (sink === 0.5) console.log(''); // keep the results live
