/** The IPv4 header (RFC 791). Options are not interpreted: they are skipped by IHL. */
import { finishChecksum, sumWords } from './checksum';
import { Ipv4Address, readIpv4, writeIpv4 } from './ipv4-address';

export const IPV4_MIN_HEADER = 20;
export const IP_PROTOCOL_ICMP = 1;
export const IP_PROTOCOL_TCP = 6;
export const IP_PROTOCOL_UDP = 17;
/** The smallest MTU every IPv4 link must carry (RFC 791); PMTU never goes below it. */
export const IPV4_MIN_MTU = 68;

export class Ipv4Header {
  /** Header length in bytes (IHL * 4), 20..60. */
  headerLength = IPV4_MIN_HEADER;
  tos = 0;
  totalLength = 0;
  id = 0;
  /** The reserved ("evil") flag bit, kept for round trips. */
  reservedFlag = false;
  dontFragment = false;
  moreFragments = false;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset = 0;
  ttl = 0;
  protocol = 0;
  checksum = 0;
  src = 0 as Ipv4Address;
  dst = 0 as Ipv4Address;
  /** Where the options start in the parsed buffer (absolute index); there are headerLength - 20 bytes. */
  optionsOffset = 0;
}

export type Ipv4ParseError = 'truncated' | 'bad-version' | 'bad-header-length' | 'bad-total-length' | 'bad-checksum';

/**
 * Parses and validates the header of the packet in buf[offset, offset+length).
 * `length` may exceed totalLength (Ethernet padding); the packet is the first totalLength bytes.
 * With `verifyChecksum` false (checksum offload), the header checksum is not checked.
 */
export function parseIpv4Header(
  buf: Uint8Array, offset: number, length: number, out: Ipv4Header = new Ipv4Header(), verifyChecksum = true,
): Ipv4Header | Ipv4ParseError {
  if (length < IPV4_MIN_HEADER || offset + length > buf.length) return 'truncated';
  const vihl = buf[offset];
  if (vihl >>> 4 !== 4) return 'bad-version';
  const hl = (vihl & 0x0f) * 4;
  if (hl < IPV4_MIN_HEADER || hl > length) return 'bad-header-length';
  const total = (buf[offset + 2] << 8) | buf[offset + 3];
  if (total < hl || total > length) return 'bad-total-length';
  if (verifyChecksum && finishChecksum(sumWords(buf, offset, hl)) !== 0) return 'bad-checksum';
  out.headerLength = hl;
  out.tos = buf[offset + 1];
  out.totalLength = total;
  out.id = (buf[offset + 4] << 8) | buf[offset + 5];
  const ff = (buf[offset + 6] << 8) | buf[offset + 7];
  out.reservedFlag = (ff & 0x8000) !== 0;
  out.dontFragment = (ff & 0x4000) !== 0;
  out.moreFragments = (ff & 0x2000) !== 0;
  out.fragmentOffset = (ff & 0x1fff) * 8;
  out.ttl = buf[offset + 8];
  out.protocol = buf[offset + 9];
  out.checksum = (buf[offset + 10] << 8) | buf[offset + 11];
  out.src = readIpv4(buf, offset + 12);
  out.dst = readIpv4(buf, offset + 16);
  out.optionsOffset = offset + IPV4_MIN_HEADER;
  return out;
}

export interface Ipv4Fields {
  tos?: number;
  totalLength: number;
  id: number;
  reservedFlag?: boolean;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Bytes, a multiple of 8. */
  fragmentOffset?: number;
  ttl: number;
  protocol: number;
  src: Ipv4Address;
  dst: Ipv4Address;
  /** Raw option bytes, a multiple of 4, at most 40. */
  options?: Uint8Array;
}

/**
 * Writes the header at buf[offset..] and returns its length. The checksum is
 * computed unless `computeChecksum` is false (offload: the field is left 0).
 */
export function writeIpv4Header(buf: Uint8Array, offset: number, h: Ipv4Fields, computeChecksum = true): number {
  const optLen = h.options ? h.options.length : 0;
  const hl = IPV4_MIN_HEADER + optLen;
  buf[offset] = 0x40 | (hl >>> 2);
  buf[offset + 1] = (h.tos ?? 0) & 0xff;
  buf[offset + 2] = (h.totalLength >>> 8) & 0xff;
  buf[offset + 3] = h.totalLength & 0xff;
  buf[offset + 4] = (h.id >>> 8) & 0xff;
  buf[offset + 5] = h.id & 0xff;
  const ff = (h.reservedFlag ? 0x8000 : 0) | (h.dontFragment ? 0x4000 : 0) | (h.moreFragments ? 0x2000 : 0) |
    (((h.fragmentOffset ?? 0) >>> 3) & 0x1fff);
  buf[offset + 6] = ff >>> 8;
  buf[offset + 7] = ff & 0xff;
  buf[offset + 8] = h.ttl & 0xff;
  buf[offset + 9] = h.protocol & 0xff;
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  writeIpv4(buf, offset + 12, h.src);
  writeIpv4(buf, offset + 16, h.dst);
  if (h.options) buf.set(h.options, offset + IPV4_MIN_HEADER);
  if (computeChecksum) setIpv4Checksum(buf, offset, hl);
  return hl;
}

/** The minimal 20-byte header written from scalars (the send hot path: no object). */
export function writeIpv4Simple(
  buf: Uint8Array, offset: number, totalLength: number, id: number, flagsAndOffset: number, ttl: number,
  protocol: number, src: Ipv4Address, dst: Ipv4Address, tos: number, computeChecksum: boolean,
): number {
  buf[offset] = 0x45;
  buf[offset + 1] = tos & 0xff;
  buf[offset + 2] = (totalLength >>> 8) & 0xff;
  buf[offset + 3] = totalLength & 0xff;
  buf[offset + 4] = (id >>> 8) & 0xff;
  buf[offset + 5] = id & 0xff;
  buf[offset + 6] = (flagsAndOffset >>> 8) & 0xff;
  buf[offset + 7] = flagsAndOffset & 0xff;
  buf[offset + 8] = ttl & 0xff;
  buf[offset + 9] = protocol & 0xff;
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  writeIpv4(buf, offset + 12, src);
  writeIpv4(buf, offset + 16, dst);
  if (computeChecksum) setIpv4Checksum(buf, offset, IPV4_MIN_HEADER);
  return IPV4_MIN_HEADER;
}

export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;

/** Recomputes the header checksum in place. */
export function setIpv4Checksum(buf: Uint8Array, offset: number, headerLength: number): void {
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  const c = finishChecksum(sumWords(buf, offset, headerLength));
  buf[offset + 10] = c >>> 8;
  buf[offset + 11] = c & 0xff;
}

/** Whether the options area is well formed (each option fits). Parsing never needs it; it is for diagnostics. */
export function ipv4OptionsWellFormed(buf: Uint8Array, offset: number, length: number): boolean {
  let p = offset;
  const end = offset + length;
  while (p < end) {
    const type = buf[p];
    if (type === 0) return true; // end of option list
    if (type === 1) { p++; continue; } // no-op
    if (p + 1 >= end) return false;
    const len = buf[p + 1];
    if (len < 2 || p + len > end) return false;
    p += len;
  }
  return true;
}
