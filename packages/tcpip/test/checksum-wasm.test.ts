import test from 'ava';
import fc from 'fast-check';
import { allocateWasmBacked, wasmMemoryOf } from '@pnet/nic';
import { checksumPaths, finishChecksum, sumWords } from '../src/wire/checksum';

/** RFC 1071 the plain way: big-endian byte pairs, end-around carry after every add. */
function reference(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  for (let i = 0; i < length; i += 2) {
    sum += (buf[offset + i] << 8) | (i + 1 < length ? buf[offset + i + 1] : 0);
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

type Sum = (buf: Uint8Array, offset: number, length: number, sum?: number) => number;

/** A buffer of `size` bytes inside a wasm memory, or an ordinary one. */
function buffer(size: number, wasm: boolean): Uint8Array {
  return wasm ? new Uint8Array(allocateWasmBacked(size), 0, size) : new Uint8Array(size);
}

const paths: [string, Sum, boolean][] = [
  ['js', checksumPaths.js, false],
  ['wasm in place', checksumPaths.inPlace, true],
  ['wasm scratch', checksumPaths.scratch, false],
  ['sumWords over wasm memory', sumWords, true],
  ['sumWords over an ordinary buffer', sumWords, false],
];

/** Lengths at the edges of the module's blocks (16, 64 bytes) and of the JS and wasm thresholds. */
const EDGES = [0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 79, 80, 127, 128, 129, 191, 192, 255, 256, 257,
  511, 512, 513, 1023, 1024, 1025, 1479, 1480, 1481, 8999, 9000, 65535, 65536, 65537, 70001];

test('WebAssembly SIMD is available here, so the wasm paths below are really taken', (t) => {
  t.true(checksumPaths.wasmAvailable);
  t.not(wasmMemoryOf(buffer(100, true).buffer), undefined);
  t.is(wasmMemoryOf(new ArrayBuffer(100)), undefined);
  t.throws(() => checksumPaths.inPlace(new Uint8Array(200), 0, 200), { message: /not a buffer in a wasm memory/ });
});

for (const [name, sum, wasm] of paths) {
  test(`${name}: every start alignment and edge length agrees with the plain byte-pair sum`, (t) => {
    const buf = buffer(70001 + 64, wasm);
    const rng = fc.sample(fc.integer({ min: 0, max: 255 }), { numRuns: buf.length, seed: 7 });
    for (let i = 0; i < buf.length; i++) buf[i] = rng[i];
    let checked = 0;
    for (const length of EDGES) {
      for (let offset = 0; offset < 64; offset += length > 9000 ? 7 : 1) {
        const initial = (length * 40503 + offset * 977) % 0x3fffd;
        t.is(finishChecksum(sum(buf, offset, length, initial)), reference(buf, offset, length, initial), `length ${length} offset ${offset}`);
        checked++;
      }
    }
    t.true(checked > 1000);
  });

  test(`${name}: random ranges, contents and incoming sums agree with the plain sum`, (t) => {
    const buf = buffer(66000, wasm);
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 65700 }), fc.nat(255), fc.integer({ min: 0, max: 0x3fffd }), fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }),
      (length, offset, initial, seed, ones) => {
        // Runs of 0xff (the largest lanes) as often as random bytes.
        let x = seed | 1;
        for (let i = 0; i < length; i++) {
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          buf[offset + i] = (x >>> 0) / 2 ** 32 < ones ? 0xff : x & 0xff;
        }
        return finishChecksum(sum(buf, offset, length, initial)) === reference(buf, offset, length, initial);
      }), { numRuns: 300, seed: 11 });
    t.pass();
  });
}

test('wasm paths: over a MiB of 0xff (lanes at their largest across chunks) and of zeros', (t) => {
  const size = (1 << 20) + 300000;
  for (const [name, sum, wasm] of paths.filter(([n]) => n !== 'js')) {
    const buf = buffer(size + 8, wasm);
    buf.fill(0xff);
    for (const [offset, length] of [[0, size], [1, size], [3, size - 1], [5, 524288 + 64], [2, 524288 * 2 + 17]]) {
      t.is(finishChecksum(sum(buf, offset, length, 1)), reference(buf, offset, length, 1), `${name} ones ${offset} ${length}`);
      t.is(finishChecksum(sum(buf, offset, length)), reference(buf, offset, length), `${name} ones ${offset} ${length}`);
    }
    buf.fill(0);
    // An all-zero range sums to zero (0xffff on the wire), never to the other zero (0xffff before the complement).
    t.is(finishChecksum(sum(buf, 1, size)), 0xffff, `${name} zeros`);
    t.is(sum(buf, 1, size), 0, `${name} zeros`);
  }
});

test('sumWords over a SimNic receive ring: the ring is in wasm memory, so frames are summed in place', async (t) => {
  const { SimNic, VirtualClock, parseMac } = await import('@pnet/nic');
  const nic = new SimNic({ name: 'n0', mac: parseMac('02:00:00:00:00:01'), clock: new VirtualClock() });
  t.not(wasmMemoryOf(nic.rx.buffer), undefined);
  const slot = nic.rx.reserve()!;
  for (let i = 0; i < 1514; i++) slot[i] = (i * 29) & 0xff;
  t.is(finishChecksum(checksumPaths.inPlace(slot, 14, 1500, 6)), reference(slot, 14, 1500, 6));
  t.is(finishChecksum(sumWords(slot, 15, 1499, 6)), reference(slot, 15, 1499, 6));
});

test('sumWords: a range past the end of a buffer in wasm memory is left to the JS loops (no trap, same result)', (t) => {
  const whole = new Uint8Array(allocateWasmBacked(65536)); // the entire memory: one byte further is out of bounds
  whole.fill(0x5a);
  for (const [offset, length] of [[65000, 1000], [65000, 1001], [65535, 200], [-10, 300]]) {
    t.notThrows(() => sumWords(whole, offset, length, 5));
    t.is(sumWords(whole, offset, length, 5), checksumPaths.js(whole, offset, length, 5), `${offset} ${length}`);
  }
  t.throws(() => checksumPaths.inPlace(whole, 65000, 1000), { message: /out of bounds/ }); // what the guard avoids
});

/** Loads a fresh copy of checksum.ts with `WebAssembly` replaced for the time of loading. */
function loadChecksumWith(wasm: unknown): typeof import('../src/wire/checksum') {
  const g = globalThis as { WebAssembly?: unknown };
  const saved = g.WebAssembly;
  const file = require.resolve('../src/wire/checksum');
  const cached = require.cache[file];
  delete require.cache[file];
  g.WebAssembly = wasm;
  try {
    return require(file);
  } finally {
    g.WebAssembly = saved;
    if (cached !== undefined) require.cache[file] = cached;
  }
}

const realWasm = (globalThis as { WebAssembly?: object }).WebAssembly;
for (const [what, wasm] of [
  ['no WebAssembly at all', undefined],
  ['WebAssembly without SIMD (validate says no)', { ...realWasm, validate: () => false }],
] as const) {
  test(`the JS fallback: with ${what}, sumWords still agrees with the plain sum, in and out of wasm memory`, (t) => {
    const fresh = loadChecksumWith(wasm);
    t.false(fresh.checksumPaths.wasmAvailable);
    t.throws(() => fresh.checksumPaths.scratch(new Uint8Array(600), 0, 600), { message: /no wasm SIMD/ });
    t.throws(() => fresh.checksumPaths.setWasmEnabled(true), { message: /no wasm SIMD/ });
    for (const inWasm of [false, true]) {
      const buf = buffer(9100, inWasm);
      for (let i = 0; i < buf.length; i++) buf[i] = (i * 73 + 5) & 0xff;
      for (const [offset, length] of [[0, 20], [1, 63], [3, 64], [14, 1480], [15, 1481], [2, 9000]]) {
        t.is(fresh.finishChecksum(fresh.sumWords(buf, offset, length, 9)), reference(buf, offset, length, 9), `${offset} ${length}`);
      }
    }
  });
}
