/** The UDP header (RFC 768). */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum';
import { Ipv4Address } from './ipv4-address';
import { IP_PROTOCOL_UDP } from './ipv4';

export const UDP_HEADER_LENGTH = 8;

export class UdpHeader {
  srcPort = 0;
  dstPort = 0;
  /** Header + payload bytes as the header states it. */
  length = 0;
  checksum = 0;
}

export type UdpParseError = 'truncated' | 'bad-length' | 'bad-checksum';

/**
 * Parses the datagram in buf[offset, offset+length) (the IP payload). The UDP
 * length must fit in it; bytes past it are ignored. A zero checksum means
 * "none" (RFC 768). Pass `src`/`dst` to verify the checksum.
 */
export function parseUdp(
  buf: Uint8Array, offset: number, length: number, out: UdpHeader = new UdpHeader(),
  verify?: { src: Ipv4Address; dst: Ipv4Address },
): UdpHeader | UdpParseError {
  if (length < UDP_HEADER_LENGTH || offset + length > buf.length) return 'truncated';
  const ulen = (buf[offset + 4] << 8) | buf[offset + 5];
  if (ulen < UDP_HEADER_LENGTH || ulen > length) return 'bad-length';
  const checksum = (buf[offset + 6] << 8) | buf[offset + 7];
  if (verify && checksum !== 0 && !udpChecksumValid(buf, offset, ulen, verify.src, verify.dst)) return 'bad-checksum';
  out.srcPort = (buf[offset] << 8) | buf[offset + 1];
  out.dstPort = (buf[offset + 2] << 8) | buf[offset + 3];
  out.length = ulen;
  out.checksum = checksum;
  return out;
}

/** Whether the datagram's checksum (with the pseudo-header) verifies. */
export function udpChecksumValid(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address): boolean {
  return finishChecksum(sumWords(buf, offset, length, pseudoHeaderSum(src, dst, IP_PROTOCOL_UDP, length))) === 0;
}

/** Writes the header; the checksum field is 0 until `setUdpChecksum`. */
export function writeUdpHeader(buf: Uint8Array, offset: number, srcPort: number, dstPort: number, length: number): number {
  buf[offset] = (srcPort >>> 8) & 0xff;
  buf[offset + 1] = srcPort & 0xff;
  buf[offset + 2] = (dstPort >>> 8) & 0xff;
  buf[offset + 3] = dstPort & 0xff;
  buf[offset + 4] = (length >>> 8) & 0xff;
  buf[offset + 5] = length & 0xff;
  buf[offset + 6] = 0;
  buf[offset + 7] = 0;
  return UDP_HEADER_LENGTH;
}

/** Computes and stores the checksum of buf[offset, offset+length); a computed 0 goes out as 0xffff. */
export function setUdpChecksum(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address): void {
  buf[offset + 6] = 0;
  buf[offset + 7] = 0;
  let c = finishChecksum(sumWords(buf, offset, length, pseudoHeaderSum(src, dst, IP_PROTOCOL_UDP, length)));
  if (c === 0) c = 0xffff;
  buf[offset + 6] = c >>> 8;
  buf[offset + 7] = c & 0xff;
}
