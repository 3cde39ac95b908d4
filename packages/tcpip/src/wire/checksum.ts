/**
 * The Internet checksum (RFC 1071). Sums are kept unfolded in a JS number
 * (exact to 2^53), so long buffers need no carry handling inside the loop.
 */

/** Adds the 16-bit big-endian words of buf[offset, offset+length) to `sum`. */
export function sumWords(buf: Uint8Array, offset: number, length: number, sum = 0): number {
  const end = offset + (length & ~1);
  let i = offset;
  // Unrolled by 8 bytes: the hot loop of every checksum.
  for (; i + 8 <= end; i += 8) {
    sum += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) + ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (length & 1) sum += buf[offset + length - 1] << 8;
  return sum;
}

/** Folds a running sum to 16 bits and complements it: the value to put on the wire. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The checksum of a buffer range. */
export function internetChecksum(buf: Uint8Array, offset: number, length: number): number {
  return finishChecksum(sumWords(buf, offset, length));
}

/** The partial sum of the TCP/UDP pseudo-header (RFC 793, RFC 768). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}
