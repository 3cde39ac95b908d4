/**
 * TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 3.4).
 * The brand keeps them from mixing with byte counts: use `seqAdd` to move and `seqDiff` to measure.
 *
 * They are held as signed 32-bit integers (`seq(0xfffffffe)` is -2): V8 keeps those as small
 * integers, where half of all unsigned values (those above 2^31) were heap numbers, allocated
 * each time one crossed a call that was not inlined. The wire bytes are the same either way;
 * `seqToU32` gives the unsigned form for display.
 */
export type SeqNum = number & { readonly __brand: 'SeqNum' };

/** "No sequence number" for optional fields: outside the int32 range, so no sequence number equals it. */
export const NO_SEQ = 2 ** 32;

export function seq(n: number): SeqNum {
  return (n | 0) as SeqNum;
}

/** The unsigned 32-bit form (as on the wire and in tcpdump). */
export function seqToU32(s: SeqNum): number {
  return s >>> 0;
}

/** a + n (n may be negative), wrapped. */
export function seqAdd(a: SeqNum, n: number): SeqNum {
  return ((a + n) | 0) as SeqNum;
}

/** The signed distance a - b, in (-2^31, 2^31]. */
export function seqDiff(a: SeqNum, b: SeqNum): number {
  return (a - b) | 0;
}

export function seqLt(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGt(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGe(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) >= 0;
}

export function seqMax(a: SeqNum, b: SeqNum): SeqNum {
  return seqGt(a, b) ? a : b;
}

export function seqMin(a: SeqNum, b: SeqNum): SeqNum {
  return seqLt(a, b) ? a : b;
}

/** lo <= x < hi, modulo 2^32. */
export function seqInWindow(x: SeqNum, lo: SeqNum, hi: SeqNum): boolean {
  return ((x - lo) >>> 0) < ((hi - lo) >>> 0);
}
