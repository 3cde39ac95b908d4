/** ICMP for IPv4 (RFC 792, RFC 1191 for "fragmentation needed"). */
import { finishChecksum, sumWords } from './checksum';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;

// Destination unreachable codes.
export const ICMP_NET_UNREACHABLE = 0;
export const ICMP_HOST_UNREACHABLE = 1;
export const ICMP_PROTOCOL_UNREACHABLE = 2;
export const ICMP_PORT_UNREACHABLE = 3;
export const ICMP_FRAGMENTATION_NEEDED = 4;
export const ICMP_NET_PROHIBITED = 9;
export const ICMP_HOST_PROHIBITED = 10;
export const ICMP_ADMIN_PROHIBITED = 13;
// Time exceeded codes.
export const ICMP_TTL_EXCEEDED = 0;
export const ICMP_REASSEMBLY_TIME_EXCEEDED = 1;

export const ICMP_HEADER_LENGTH = 8;

export class IcmpHeader {
  type = 0;
  code = 0;
  checksum = 0;
  /** The 4 bytes after the checksum: id/sequence for echo, next-hop MTU for "fragmentation needed". */
  rest = 0;
  get identifier(): number { return this.rest >>> 16; }
  get sequence(): number { return this.rest & 0xffff; }
  /** Next-hop MTU of a "fragmentation needed" message (0 from pre-RFC 1191 routers). */
  get nextHopMtu(): number { return this.rest & 0xffff; }
}

export type IcmpParseError = 'truncated' | 'bad-checksum';

/** Parses the ICMP message in buf[offset, offset+length) (the whole IP payload; the checksum covers it all). */
export function parseIcmp(
  buf: Uint8Array, offset: number, length: number, out: IcmpHeader = new IcmpHeader(), verifyChecksum = true,
): IcmpHeader | IcmpParseError {
  if (length < ICMP_HEADER_LENGTH || offset + length > buf.length) return 'truncated';
  if (verifyChecksum && finishChecksum(sumWords(buf, offset, length)) !== 0) return 'bad-checksum';
  out.type = buf[offset];
  out.code = buf[offset + 1];
  out.checksum = (buf[offset + 2] << 8) | buf[offset + 3];
  out.rest = ((buf[offset + 4] << 24) | (buf[offset + 5] << 16) | (buf[offset + 6] << 8) | buf[offset + 7]) >>> 0;
  return out;
}

/** Writes the 8-byte header; the checksum field is zeroed (call `setIcmpChecksum` once the payload is in place). */
export function writeIcmpHeader(buf: Uint8Array, offset: number, type: number, code: number, rest: number): number {
  buf[offset] = type & 0xff;
  buf[offset + 1] = code & 0xff;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  buf[offset + 4] = (rest >>> 24) & 0xff;
  buf[offset + 5] = (rest >>> 16) & 0xff;
  buf[offset + 6] = (rest >>> 8) & 0xff;
  buf[offset + 7] = rest & 0xff;
  return ICMP_HEADER_LENGTH;
}

/** Computes the checksum over the whole message buf[offset, offset+length) and stores it. */
export function setIcmpChecksum(buf: Uint8Array, offset: number, length: number): void {
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  const c = finishChecksum(sumWords(buf, offset, length));
  buf[offset + 2] = c >>> 8;
  buf[offset + 3] = c & 0xff;
}

/** The `rest` word of an echo message. */
export function echoRest(identifier: number, sequence: number): number {
  return (((identifier & 0xffff) << 16) | (sequence & 0xffff)) >>> 0;
}

/** Whether a message of this type is an error (which quotes an offending datagram). */
export function isIcmpError(type: number): boolean {
  return type === ICMP_DEST_UNREACHABLE || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETER_PROBLEM ||
    type === 4 /* source quench */ || type === 5 /* redirect */;
}
