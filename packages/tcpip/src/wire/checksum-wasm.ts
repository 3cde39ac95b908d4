/**
 * A WebAssembly SIMD (simd128) ones'-complement sum, assembled here byte by byte (no toolchain
 * needed, nothing downloaded). The module imports its memory ("m" "mem") and exports one function:
 *
 *   sum(ptr: i32, len: i32) -> i32
 *
 * the sum of the little-endian 16-bit words of memory[ptr, ptr+len) (an odd last byte is the low
 * byte of a word whose high byte is zero), folded with end-around carry to 16 bits: congruent to
 * the plain sum modulo 0xffff and zero only when that is. Wasm memory is little-endian on every
 * host, so the caller swaps the two bytes to get the big-endian (network order) sum.
 *
 * The loop: v128.load 16 bytes, i32x4.extadd_pairwise_i16x8_u adds adjacent u16 into four u32
 * lanes (each at most 2 * 0xffff), four accumulators over 64 bytes per iteration. A chunk of
 * CHUNK_BYTES keeps every lane below 2^30, so the four sum without overflow before being widened
 * into an i64x2 total. Unaligned loads are allowed, so any start offset works as it is.
 */

/** 64-byte iterations per chunk: 8192 * 2 * 0xffff < 2^30 per lane, and four of those fit in 32 bits. */
const CHUNK_BYTES = 8192 * 64;

// Opcodes used (WebAssembly core spec 2.0, sec. 5.4; SIMD ones after the 0xfd prefix).
const BLOCK = 0x02, LOOP = 0x03, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, VOID = 0x40;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22;
const I32_LOAD8_U = 0x2d, I32_LOAD16_U = 0x2f;
const I32_CONST = 0x41, I64_CONST = 0x42;
const I32_LT_U = 0x49, I32_GT_U = 0x4b, I32_GE_U = 0x4f, I64_EQZ = 0x50;
const I32_ADD = 0x6a, I32_SUB = 0x6b, I32_AND = 0x71, I32_SHR_U = 0x76;
const I64_ADD = 0x7c, I64_SHR_U = 0x88;
const I32_WRAP_I64 = 0xa7, I64_EXTEND_I32_U = 0xad;
const SELECT = 0x1b;
const SIMD = 0xfd;
const V128_LOAD = 0x00, V128_CONST = 0x0c, I64X2_EXTRACT_LANE = 0x1d;
const I32X4_EXTADD_PAIRWISE_I16X8_U = 0x7f, I32X4_ADD = 0xae;
const I64X2_EXTEND_LOW_I32X4_U = 0xc9, I64X2_EXTEND_HIGH_I32X4_U = 0xca, I64X2_ADD = 0xce;
const T_I32 = 0x7f, T_I64 = 0x7e, T_V128 = 0x7b, FUNC = 0x60;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const / i64.const immediates within the i32 range). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function simd(op: number): number[] {
  return [SIMD, ...uleb(op)];
}

/** A section: id, then its byte length, then the content. */
function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

// Locals: parameters first, then the declared ones.
const P = 0, N = 1, VEND = 2, CEND = 3, A0 = 4, A1 = 5, A2 = 6, A3 = 7, TOT = 8, S = 9, END_ALL = 10;

const get = (l: number): number[] => [LOCAL_GET, l];
const set = (l: number): number[] => [LOCAL_SET, l];
const i32 = (v: number): number[] => [I32_CONST, ...sleb(v)];
const zeroV128 = (): number[] => [...simd(V128_CONST), ...new Array<number>(16).fill(0)];
/** memarg: alignment hint 2^0 (loads may be unaligned), then the constant offset. */
const memarg = (offset: number): number[] => [0, ...uleb(offset)];
/** acc += extadd_pairwise(load16bytes(p + offset)) */
const accumulate = (acc: number, offset: number): number[] => [
  ...get(acc), ...get(P), ...simd(V128_LOAD), ...memarg(offset), ...simd(I32X4_EXTADD_PAIRWISE_I16X8_U),
  ...simd(I32X4_ADD), ...set(acc),
];
/** tot += widen(acc) (both halves of the four u32 lanes as two u64 lanes each). */
const widenInto = (acc: number): number[] => [
  ...get(TOT), ...get(acc), ...simd(I64X2_EXTEND_LOW_I32X4_U), ...simd(I64X2_ADD),
  ...get(acc), ...simd(I64X2_EXTEND_HIGH_I32X4_U), ...simd(I64X2_ADD), ...set(TOT),
];

const body: number[] = [
  // vend = p + (n & ~15): the end of the whole 16-byte blocks; endAll = p + n.
  ...get(P), ...get(N), I32_ADD, ...set(END_ALL),
  ...get(P), ...get(N), ...i32(~15), I32_AND, I32_ADD, ...set(VEND),
  ...zeroV128(), ...set(TOT),
  // Chunks of 64-byte iterations, four accumulators.
  BLOCK, VOID,
  LOOP, VOID,
  // if (vend - p < 64) break
  ...get(VEND), ...get(P), I32_SUB, ...i32(64), I32_LT_U, BR_IF, 1,
  // cend = p + min((vend - p) & ~63, CHUNK_BYTES)
  ...get(P),
  ...i32(CHUNK_BYTES), ...get(VEND), ...get(P), I32_SUB, ...i32(~63), I32_AND, LOCAL_TEE, CEND,
  ...get(CEND), ...i32(CHUNK_BYTES), I32_GT_U, SELECT,
  I32_ADD, ...set(CEND),
  ...zeroV128(), ...set(A0), ...zeroV128(), ...set(A1), ...zeroV128(), ...set(A2), ...zeroV128(), ...set(A3),
  LOOP, VOID,
  ...accumulate(A0, 0), ...accumulate(A1, 16), ...accumulate(A2, 32), ...accumulate(A3, 48),
  ...get(P), ...i32(64), I32_ADD, LOCAL_TEE, P,
  ...get(CEND), I32_LT_U, BR_IF, 0,
  END,
  // a0 = a0 + a1 + a2 + a3 (each lane < 2^30, so no overflow), then into the i64 total.
  ...get(A0), ...get(A1), ...simd(I32X4_ADD), ...get(A2), ...simd(I32X4_ADD), ...get(A3), ...simd(I32X4_ADD), ...set(A0),
  ...widenInto(A0),
  BR, 0,
  END,
  END,
  // Up to three 16-byte blocks left.
  ...zeroV128(), ...set(A0),
  BLOCK, VOID,
  LOOP, VOID,
  ...get(P), ...get(VEND), I32_GE_U, BR_IF, 1,
  ...accumulate(A0, 0),
  ...get(P), ...i32(16), I32_ADD, ...set(P),
  BR, 0,
  END,
  END,
  ...widenInto(A0),
  // s = lane 0 + lane 1 (the sum of 2^31 words of 0xffff is below 2^47: no i64 overflow).
  ...get(TOT), ...simd(I64X2_EXTRACT_LANE), 0, ...get(TOT), ...simd(I64X2_EXTRACT_LANE), 1, I64_ADD, ...set(S),
  // Up to seven 16-bit words left.
  BLOCK, VOID,
  LOOP, VOID,
  ...get(END_ALL), ...get(P), I32_SUB, ...i32(2), I32_LT_U, BR_IF, 1,
  ...get(S), ...get(P), I32_LOAD16_U, ...memarg(0), I64_EXTEND_I32_U, I64_ADD, ...set(S),
  ...get(P), ...i32(2), I32_ADD, ...set(P),
  BR, 0,
  END,
  END,
  // An odd last byte: the low byte of a little-endian word (present when p < endAll).
  BLOCK, VOID,
  ...get(P), ...get(END_ALL), I32_GE_U, BR_IF, 0,
  ...get(S), ...get(P), I32_LOAD8_U, ...memarg(0), I64_EXTEND_I32_U, I64_ADD, ...set(S),
  END,
  // Fold the i64 to 32 bits (end-around carry: 2^32 = 1 mod 0xffff), then to 16.
  BLOCK, VOID,
  LOOP, VOID,
  ...get(S), I64_CONST, 32, I64_SHR_U, I64_EQZ, BR_IF, 1,
  ...get(S), I32_WRAP_I64, I64_EXTEND_I32_U, ...get(S), I64_CONST, 32, I64_SHR_U, I64_ADD, ...set(S),
  BR, 0,
  END,
  END,
  ...get(S), I32_WRAP_I64, LOCAL_TEE, CEND,
  ...i32(0xffff), I32_AND, ...get(CEND), ...i32(16), I32_SHR_U, I32_ADD, LOCAL_TEE, CEND,
  ...i32(0xffff), I32_AND, ...get(CEND), ...i32(16), I32_SHR_U, I32_ADD,
  END,
];

/** The whole module: type, import (memory), function, export and code sections. */
export function checksumModuleBytes(): Uint8Array {
  // Locals after the two parameters: vend, cend (i32); a0..a3, tot (v128); s (i64); endAll (i32).
  const locals = [4, 2, T_I32, 5, T_V128, 1, T_I64, 1, T_I32];
  const fn = [...locals, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [1, FUNC, 2, T_I32, T_I32, 1, T_I32]), // type 0: (i32, i32) -> i32
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x00, 0x00]), // import memory "m" "mem", min 0 pages
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(7, [1, ...name('sum'), 0x00, 0]), // export "sum" = function 0
    ...section(10, [1, ...uleb(fn.length), ...fn]), // code
  ]);
}
