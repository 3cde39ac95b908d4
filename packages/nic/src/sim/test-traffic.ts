import { MacAddress, writeMac } from '../nic/mac-address';

/**
 * Well-formed frames for simulations, benchmarks and demos: Ethernet + IPv4 +
 * UDP (to the discard port, 9) with correct checksums, a 32-bit sequence
 * number first in the payload and a pattern after it, so a receiver can tell
 * which frame it got and whether a bit changed. Addresses default to the
 * documentation range 198.51.100.0/24. Not a protocol implementation: the
 * stack's own Ethernet/IP/UDP live in @pnet/tcpip.
 */
export interface TestFrameOptions {
  dst: MacAddress;
  src: MacAddress;
  /** Sequence number carried at payload offset 0 (uint32). */
  seq: number;
  /** Total frame length in bytes (header included, no FCS), at least 46. */
  length: number;
  /** IPv4 source as a uint32 (default 198.51.100.1). */
  srcIp?: number;
  /** IPv4 destination as a uint32 (default 198.51.100.2). */
  dstIp?: number;
  srcPort?: number;
  dstPort?: number;
}

export const TEST_FRAME_HEADER = 42;
export const TEST_FRAME_MIN = TEST_FRAME_HEADER + 4;
const DEFAULT_SRC_IP = 0xc6336401; // 198.51.100.1
const DEFAULT_DST_IP = 0xc6336402; // 198.51.100.2

/** Writes a test frame into `buf` (no allocation) and returns its length. */
export function writeTestFrame(buf: Uint8Array, o: TestFrameOptions): number {
  const length = o.length;
  if (!Number.isInteger(length) || length < TEST_FRAME_MIN || length > buf.length || length > 65535 + 14) {
    throw new RangeError(`writeTestFrame: length must be an integer from ${TEST_FRAME_MIN} to ${Math.min(buf.length, 65549)}, got ${length}`);
  }
  writeMac(buf, 0, o.dst);
  writeMac(buf, 6, o.src);
  buf[12] = 0x08; buf[13] = 0x00;
  const ipLen = length - 14;
  const srcIp = o.srcIp ?? DEFAULT_SRC_IP;
  const dstIp = o.dstIp ?? DEFAULT_DST_IP;
  // IPv4 header: version 4, IHL 5, DF, TTL 64, protocol UDP.
  buf[14] = 0x45; buf[15] = 0;
  buf[16] = ipLen >>> 8; buf[17] = ipLen & 0xff;
  buf[18] = (o.seq >>> 8) & 0xff; buf[19] = o.seq & 0xff;
  buf[20] = 0x40; buf[21] = 0;
  buf[22] = 64; buf[23] = 17;
  buf[24] = 0; buf[25] = 0;
  put32(buf, 26, srcIp);
  put32(buf, 30, dstIp);
  const ipSum = checksum(buf, 14, 20, 0);
  buf[24] = ipSum >>> 8; buf[25] = ipSum & 0xff;
  // UDP header and payload.
  const udpLen = ipLen - 20;
  const srcPort = o.srcPort ?? 49152;
  const dstPort = o.dstPort ?? 9;
  buf[34] = srcPort >>> 8; buf[35] = srcPort & 0xff;
  buf[36] = dstPort >>> 8; buf[37] = dstPort & 0xff;
  buf[38] = udpLen >>> 8; buf[39] = udpLen & 0xff;
  buf[40] = 0; buf[41] = 0;
  put32(buf, 42, o.seq >>> 0);
  for (let i = 46; i < length; i++) buf[i] = (o.seq + i) & 0xff;
  const pseudo = (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + 17 + udpLen;
  let udpSum = checksum(buf, 34, udpLen, pseudo);
  if (udpSum === 0) udpSum = 0xffff;
  buf[40] = udpSum >>> 8; buf[41] = udpSum & 0xff;
  return length;
}

/** The sequence number of a test frame. */
export function readTestSeq(frame: Uint8Array): number {
  return ((frame[42] << 24) | (frame[43] << 16) | (frame[44] << 8) | frame[45]) >>> 0;
}

/** Whether a test frame's payload pattern is intact (header fields are not checked). */
export function testFramePayloadIntact(frame: Uint8Array, length: number): boolean {
  const seq = readTestSeq(frame);
  for (let i = 46; i < length; i++) if (frame[i] !== ((seq + i) & 0xff)) return false;
  return true;
}

function put32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24; buf[off + 1] = (v >>> 16) & 0xff; buf[off + 2] = (v >>> 8) & 0xff; buf[off + 3] = v & 0xff;
}

/** Internet checksum of buf[off, off+len) plus an initial sum. */
function checksum(buf: Uint8Array, off: number, len: number, initial: number): number {
  let sum = initial;
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
