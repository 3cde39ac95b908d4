/**
 * The Internet checksum (RFC 1071). Sums are kept unfolded in a JS number
 * (exact to 2^53), so long buffers need no carry handling inside the loop.
 *
 * Ranges of WASM_IN_PLACE_MIN bytes or more that lie in a WebAssembly.Memory made by @pnet/nic
 * (simulated frames: ring slots and media pools) are summed in place by a SIMD module
 * (checksum-wasm.ts); other buffers whose range is WASM_SCRATCH_MIN bytes or more and most of
 * the buffer are copied whole into the module's own memory and summed there. Without
 * WebAssembly SIMD the JS loops do it all.
 */
import { wasmMemoryOf } from '@pnet/nic';
import type { WasmMemory } from '@pnet/nic';
import { checksumModuleBytes } from './checksum-wasm';

/** Below this many bytes the byte loop beats looking up a 32-bit view of the buffer. */
const WIDE_MIN = 256;
/** Words summed between folds: 2^20 words of up to 2^32 each (per accumulator) stay exact in a double (2^53). */
const BLOCK_WORDS = 1 << 20;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/**
 * A value made once per ArrayBuffer (frame rings and send buffers are long-lived), kept in a
 * WeakMap behind a few recently asked for, compared by identity: a WeakMap look-up per sum was
 * 1.6 % of a bulk transfer. A SimLink's frames move between its pool's memories and the NICs'
 * rings (exchanged, not copied), so one transfer sums frames in about a dozen memories.
 */
class PerBacking<T> {
  private readonly all = new WeakMap<ArrayBufferLike, T>();
  private readonly backings: (ArrayBufferLike | null)[] = new Array<ArrayBufferLike | null>(RECENT).fill(null);
  private readonly values: T[];
  /** The entry replaced next (round robin). */
  private victim = 0;

  constructor(private readonly make: (backing: ArrayBufferLike) => T, empty: T) {
    this.values = new Array<T>(RECENT).fill(empty);
  }

  get(backing: ArrayBufferLike): T {
    const backings = this.backings;
    for (let i = 0; i < RECENT; i++) if (backings[i] === backing) return this.values[i];
    let value = this.all.get(backing);
    if (value === undefined) {
      value = this.make(backing);
      this.all.set(backing, value);
    }
    const v = this.victim;
    backings[v] = backing;
    this.values[v] = value;
    this.victim = (v + 1) & (RECENT - 1);
    return value;
  }
}
/** Backings remembered before the WeakMap (a power of two). */
const RECENT = 8;

/** One 32-bit view per ArrayBuffer. */
const wordViews = new PerBacking<Uint32Array<ArrayBufferLike>>(
  (backing) => new Uint32Array(backing, 0, backing.byteLength >>> 2), new Uint32Array(0));

/** A 32-bit view of all of `backing` (made once per ArrayBuffer and kept), for word-wide reads of frames. */
export function wordsOf(backing: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  return wordViews.get(backing);
}

/**
 * Adds the 16-bit big-endian words of buf[offset, offset+length) to `sum` (an odd last byte is
 * padded with zero). The result is only meant for `finishChecksum`: it is congruent to the plain
 * sum modulo 0xffff, and zero only when the plain sum is, which is all the fold needs.
 *
 * The JS loops (`sumWordsJs`, for what the wasm paths above leave):
 * long ranges are summed 32 bits per access over the 4-byte-aligned middle (RFC 1071 sec. 2 (C):
 * any word size works, since 2^16 = 1 mod 0xffff). The host's byte order and an odd start of the
 * middle only swap the bytes of the middle's folded sum (sec. 2 (B)), fixed once at the end.
 */
export function sumWords(buf: Uint8Array, offset: number, length: number, sum = 0): number {
  // A range past the view's end goes to the JS loops as before (wasm would read the neighbouring
  // frames, or trap at the end of the memory).
  if (length >= WASM_IN_PLACE_MIN && wasmEnabled && offset >= 0 && offset + length <= buf.length) {
    const inPlace = wasmSums.get(buf.buffer);
    if (inPlace !== null) return sum + swap16(inPlace(buf.byteOffset + offset, length));
    // The whole buffer is copied (a view of just the range would be an allocation per call), so
    // only when the range is most of it.
    if (length >= WASM_SCRATCH_MIN && buf.length <= SCRATCH_BYTES && buf.length <= 2 * length) {
      return sum + scratchSum(buf, offset, length);
    }
  }
  return sumWordsJs(buf, offset, length, sum);
}

/** `sumWords` without WebAssembly: the fallback, and what short ranges always take. */
export function sumWordsJs(buf: Uint8Array, offset: number, length: number, sum = 0): number {
  if (length < WIDE_MIN) return sumBytes(buf, offset, length, sum);
  const start = buf.byteOffset + offset;
  const head = (4 - (start & 3)) & 3;
  const words = (length - head) >>> 2;
  const firstWord = (start + head) >>> 2;
  const view = wordViews.get(buf.buffer);
  // A view made before a resizable buffer grew may be short: fall back rather than read undefined.
  if (firstWord + words > view.length) return sumBytes(buf, offset, length, sum);
  // Bytes before the aligned middle (relative index 0..2: even ones are high bytes).
  for (let i = 0; i < head; i++) sum += (i & 1) === 0 ? buf[offset + i] << 8 : buf[offset + i];
  let middle = 0;
  for (let done = 0; done < words;) {
    const end = firstWord + Math.min(words, done + BLOCK_WORDS);
    let k = firstWord + done;
    // Two accumulators: the adds of one do not wait for the other's.
    let m0 = 0, m1 = 0;
    for (; k + 8 <= end; k += 8) {
      m0 += (view[k] + view[k + 1]) + (view[k + 2] + view[k + 3]);
      m1 += (view[k + 4] + view[k + 5]) + (view[k + 6] + view[k + 7]);
    }
    for (; k < end; k++) m0 += view[k];
    middle = fold16(middle + fold16(m0) + fold16(m1));
    done = k - firstWord;
  }
  // A little-endian word puts relative index `head` in its low byte: that is a high byte when
  // `head` is even, so the folded sum is byte-swapped (big-endian hosts: when `head` is odd).
  if (LITTLE_ENDIAN === ((head & 1) === 0)) middle = ((middle & 0xff) << 8) | (middle >>> 8);
  sum += middle;
  // Bytes after it: relative index head + 4 * words keeps the parity of `head`.
  for (let i = head + words * 4; i < length; i++) sum += (i & 1) === 0 ? buf[offset + i] << 8 : buf[offset + i];
  return sum;
}

/** From this many bytes a range in a wasm memory is summed in place (below, the call costs more than it saves). */
const WASM_IN_PLACE_MIN = 64;
/** From this many bytes any other range is copied into the module's scratch memory and summed there. */
const WASM_SCRATCH_MIN = 128;
/** The scratch memory: two pages, a 64 KiB frame and its headers. */
const SCRATCH_BYTES = 131072;

type WasmSum = (ptr: number, length: number) => number;

/** The part of the WebAssembly API used here (the project's TypeScript lib has no WebAssembly types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** The compiled module, or null where WebAssembly or its SIMD extension is missing. */
const wasmModule = compileModule();
/** Whether `sumWords` uses the module (off only to compare, see `checksumPaths.setWasmEnabled`). */
let wasmEnabled = wasmModule !== null;
/** The module instantiated over each wasm memory seen (null: not a wasm memory, or it refused). */
const wasmSums = new PerBacking<WasmSum | null>((backing) => {
  const memory = wasmMemoryOf(backing);
  return memory === undefined ? null : instantiate(memory);
}, null);
/** The module's own memory for `scratchSum` (null: not made yet; false: instantiation failed). */
let scratch: { bytes: Uint8Array; sum: WasmSum } | null | false = null;

function compileModule(): object | null {
  if (wasmApi === undefined) return null;
  try {
    const bytes = checksumModuleBytes();
    // validate is false where the engine lacks SIMD (simd128): the JS loops remain.
    return wasmApi.validate(bytes) ? new wasmApi.Module(bytes) : null;
  } catch {
    return null;
  }
}

function instantiate(memory: WasmMemory): WasmSum | null {
  try {
    return new wasmApi!.Instance(wasmModule!, { m: { mem: memory } }).exports.sum as WasmSum;
  } catch {
    return null; // e.g. a shared memory, which the module does not import
  }
}


/** Sums a range of an ordinary buffer by copying it into the module's memory. */
function scratchSum(buf: Uint8Array, offset: number, length: number): number {
  if (scratch === null) {
    const memory = new wasmApi!.Memory({ initial: SCRATCH_BYTES / 65536, maximum: SCRATCH_BYTES / 65536 });
    const sum = instantiate(memory);
    scratch = sum === null ? false : { bytes: new Uint8Array(memory.buffer), sum };
  }
  if (scratch === false) return sumWordsJs(buf, offset, length);
  if (buf.length <= SCRATCH_BYTES) {
    scratch.bytes.set(buf);
    return swap16(scratch.sum(offset, length));
  }
  // Larger buffers (only `checksumPaths.scratch` sends them) go in pieces: a view per piece.
  let total = 0;
  // Pieces of an even size keep every piece's words aligned with the whole range's.
  for (let done = 0; done < length; done += SCRATCH_BYTES) {
    const n = Math.min(SCRATCH_BYTES, length - done);
    scratch.bytes.set(buf.subarray(offset + done, offset + done + n));
    total += scratch.sum(0, n);
  }
  return swap16(fold16(total));
}

/**
 * Each path of `sumWords` by itself, whatever the length (tests and the micro-benchmark): `inPlace`
 * throws when the buffer is not in a wasm memory, and both wasm paths when SIMD is unavailable.
 */
export const checksumPaths = {
  wasmAvailable: wasmModule !== null,
  js: sumWordsJs,
  inPlace(buf: Uint8Array, offset: number, length: number, sum = 0): number {
    const fn = wasmModule === null ? null : wasmSums.get(buf.buffer);
    if (fn === null) throw new Error('checksumPaths.inPlace: not a buffer in a wasm memory, or no wasm SIMD');
    return sum + swap16(fn(buf.byteOffset + offset, length));
  },
  scratch(buf: Uint8Array, offset: number, length: number, sum = 0): number {
    if (wasmModule === null) throw new Error('checksumPaths.scratch: no wasm SIMD');
    return sum + scratchSum(buf, offset, length);
  },
  /** Lets `sumWords` use the module (the default where it is available) or not: an A/B in one process. */
  setWasmEnabled(on: boolean): void {
    if (on && wasmModule === null) throw new Error('checksumPaths.setWasmEnabled: no wasm SIMD here');
    wasmEnabled = on;
  },
};

/** Swaps the bytes of a 16-bit little-endian sum (the module's result: at most 0xffff) into network order. */
function swap16(sum: number): number {
  return ((sum & 0xff) << 8) | (sum >>> 8);
}

/** The byte-at-a-time sum (short ranges). */
function sumBytes(buf: Uint8Array, offset: number, length: number, sum: number): number {
  const end = offset + (length & ~1);
  let i = offset;
  // Unrolled by 8 bytes.
  for (; i + 8 <= end; i += 8) {
    sum += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) + ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (length & 1) sum += buf[offset + length - 1] << 8;
  return sum;
}

/** Folds a non-negative sum to 16 bits, keeping it mod 0xffff (and non-zero when it was). */
function fold16(sum: number): number {
  // `%` on a double is a call into the runtime (fmod): fold with a division that is exact
  // instead (2^32 = 1 mod 0xffff), then with 32-bit integer ops.
  while (sum > 0xffffffff) {
    const hi = Math.floor(sum / 4294967296);
    sum = (sum - hi * 4294967296) + hi;
  }
  while (sum > 0xffff) sum = (sum >>> 16) + (sum & 0xffff);
  return sum;
}

/** Folds a running sum to 16 bits and complements it: the value to put on the wire. */
export function finishChecksum(sum: number): number {
  return ~fold16(sum) & 0xffff;
}

/** The checksum of a buffer range. */
export function internetChecksum(buf: Uint8Array, offset: number, length: number): number {
  return finishChecksum(sumWords(buf, offset, length));
}

/** The partial sum of the TCP/UDP pseudo-header (RFC 793, RFC 768). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}
