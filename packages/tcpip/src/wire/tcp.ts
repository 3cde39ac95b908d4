/**
 * TCP header and options (RFC 9293, RFC 7323 window scale + timestamps, RFC 2018 SACK) on views.
 *
 * Parsing fills a caller-owned, reusable `TcpSegmentView` (no allocation per segment) and never
 * throws: malformed input returns a reason string. Serializing writes into a caller buffer.
 */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum';
import type { Ipv4Address } from './ipv4-address';

export const TCP_PROTOCOL = 6;
export const TCP_HEADER_LENGTH = 20;
export const TCP_MAX_HEADER_LENGTH = 60;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WSCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMP = 8;

/** The most SACK blocks that fit in the 40 option bytes (4 without timestamps, 3 with). */
export const TCP_MAX_SACK_BLOCKS = 4;
/** RFC 7323: shift counts above 14 are treated as 14. */
export const TCP_MAX_WSCALE = 14;

/**
 * The options of one segment. Absent values: `mss`/`wscale` -1, flags false, `sackCount` 0.
 * Used both as a parse result and as serializer input.
 */
export class TcpOptionSet {
  mss = -1;
  wscale = -1;
  sackPermitted = false;
  hasTimestamp = false;
  /** Timestamps as int32 (the parser's `| 0`; `>>> 0` gives the wire's uint32): a Smi, never boxed per segment. */
  tsVal = 0;
  tsEcr = 0;
  sackCount = 0;
  /** left/right edge pairs: [l0, r0, l1, r1, ...]. */
  readonly sackBlocks = new Uint32Array(TCP_MAX_SACK_BLOCKS * 2);

  clear(): this {
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.hasTimestamp = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackCount = 0;
    return this;
  }
}

/** A parsed TCP segment: header fields, options, and where the payload sits in the buffer. */
export class TcpSegmentView extends TcpOptionSet {
  srcPort = 0;
  dstPort = 0;
  seq = -0; // uint32s (the parser's `>>> 0`): doubles from the start, never generalised mid-run
  ack = -0;
  headerLength = 0;
  flags = 0;
  window = 0;
  checksum = 0;
  urgent = 0;
  payloadOffset = 0;
  payloadLength = 0;

  constructor() {
    super();
    this.seq = 0;
    this.ack = 0;
  }
}

export type TcpParseError = 'truncated' | 'bad-data-offset' | 'bad-option';

/**
 * Parses the segment at buf[offset, offset+length) into `out`. Returns null on success or the
 * reason it is malformed. Unknown options are skipped; known options with a wrong length are ignored
 * (as Linux does); an option running past the header is malformed.
 */
export function parseTcp(buf: Uint8Array, offset: number, length: number, out: TcpSegmentView): TcpParseError | null {
  if (length < TCP_HEADER_LENGTH || offset < 0 || offset + length > buf.length) return 'truncated';
  const b = offset;
  const dataOffset = (buf[b + 12] >>> 4) * 4;
  if (dataOffset < TCP_HEADER_LENGTH || dataOffset > length) return 'bad-data-offset';
  out.clear();
  out.srcPort = (buf[b] << 8) | buf[b + 1];
  out.dstPort = (buf[b + 2] << 8) | buf[b + 3];
  out.seq = ((buf[b + 4] << 24) | (buf[b + 5] << 16) | (buf[b + 6] << 8) | buf[b + 7]) >>> 0;
  out.ack = ((buf[b + 8] << 24) | (buf[b + 9] << 16) | (buf[b + 10] << 8) | buf[b + 11]) >>> 0;
  out.headerLength = dataOffset;
  out.flags = buf[b + 13];
  out.window = (buf[b + 14] << 8) | buf[b + 15];
  out.checksum = (buf[b + 16] << 8) | buf[b + 17];
  out.urgent = (buf[b + 18] << 8) | buf[b + 19];
  out.payloadOffset = b + dataOffset;
  out.payloadLength = length - dataOffset;
  // The usual layout of an established connection's segment: NOP NOP TS(10) alone (RFC 7323 appendix A),
  // read directly as Linux and lwIP do; anything else takes the general walk (same result).
  if (dataOffset === 32 && buf[b + 20] === TCP_OPT_NOP && buf[b + 21] === TCP_OPT_NOP &&
      buf[b + 22] === TCP_OPT_TIMESTAMP && buf[b + 23] === 10) {
    out.hasTimestamp = true;
    out.tsVal = ((buf[b + 24] << 24) | (buf[b + 25] << 16) | (buf[b + 26] << 8) | buf[b + 27]);
    out.tsEcr = ((buf[b + 28] << 24) | (buf[b + 29] << 16) | (buf[b + 30] << 8) | buf[b + 31]);
    return null;
  }
  return parseTcpOptions(buf, b + TCP_HEADER_LENGTH, dataOffset - TCP_HEADER_LENGTH, out);
}

/** Parses an options area into `out` (which the caller cleared). */
export function parseTcpOptions(buf: Uint8Array, offset: number, length: number, out: TcpOptionSet): TcpParseError | null {
  const end = offset + length;
  let i = offset;
  while (i < end) {
    const kind = buf[i];
    if (kind === TCP_OPT_EOL) break;
    if (kind === TCP_OPT_NOP) { i++; continue; }
    if (i + 1 >= end) return 'bad-option';
    const len = buf[i + 1];
    if (len < 2 || i + len > end) return 'bad-option';
    switch (kind) {
      case TCP_OPT_MSS:
        if (len === 4) out.mss = (buf[i + 2] << 8) | buf[i + 3];
        break;
      case TCP_OPT_WSCALE:
        if (len === 3) out.wscale = Math.min(buf[i + 2], TCP_MAX_WSCALE);
        break;
      case TCP_OPT_SACK_PERMITTED:
        if (len === 2) out.sackPermitted = true;
        break;
      case TCP_OPT_TIMESTAMP:
        if (len === 10) {
          out.hasTimestamp = true;
          out.tsVal = ((buf[i + 2] << 24) | (buf[i + 3] << 16) | (buf[i + 4] << 8) | buf[i + 5]);
          out.tsEcr = ((buf[i + 6] << 24) | (buf[i + 7] << 16) | (buf[i + 8] << 8) | buf[i + 9]);
        }
        break;
      case TCP_OPT_SACK:
        if (len >= 10 && (len - 2) % 8 === 0) {
          const n = Math.min((len - 2) / 8, TCP_MAX_SACK_BLOCKS);
          for (let k = 0; k < n; k++) {
            out.sackBlocks[2 * k] = readU32(buf, i + 2 + 8 * k);
            out.sackBlocks[2 * k + 1] = readU32(buf, i + 6 + 8 * k);
          }
          out.sackCount = n;
        }
        break;
      default:
        break;
    }
    i += len;
  }
  return null;
}

/**
 * Bytes the options take on the wire, padded to a multiple of 4. Layout follows Linux:
 * MSS, SACK-permitted + timestamps (or NOP NOP + one of them), NOP + window scale, NOP NOP + SACK.
 */
export function tcpOptionsLength(o: TcpOptionSet): number {
  let n = 0;
  if (o.mss >= 0) n += 4;
  if (o.hasTimestamp) n += 12; // (SACK-permitted | NOP NOP) + timestamp
  else if (o.sackPermitted) n += 4;
  if (o.wscale >= 0) n += 4;
  if (o.sackCount > 0) n += 4 + 8 * Math.min(o.sackCount, TCP_MAX_SACK_BLOCKS);
  return n;
}

/** Writes the options at buf[offset..]; returns the bytes written (= tcpOptionsLength). Throws if they exceed 40 bytes. */
export function writeTcpOptions(buf: Uint8Array, offset: number, o: TcpOptionSet): number {
  // Every segment of an established connection with timestamps: NOP NOP TS, written directly.
  if (o.hasTimestamp && o.mss < 0 && o.wscale < 0 && o.sackCount === 0 && !o.sackPermitted) {
    // (Bytes written here, not by a call: a value above 2^31 passed to one is boxed.)
    const v = o.tsVal, e = o.tsEcr;
    buf[offset] = TCP_OPT_NOP; buf[offset + 1] = TCP_OPT_NOP; buf[offset + 2] = TCP_OPT_TIMESTAMP; buf[offset + 3] = 10;
    buf[offset + 4] = v >>> 24; buf[offset + 5] = (v >>> 16) & 0xff; buf[offset + 6] = (v >>> 8) & 0xff; buf[offset + 7] = v & 0xff;
    buf[offset + 8] = e >>> 24; buf[offset + 9] = (e >>> 16) & 0xff; buf[offset + 10] = (e >>> 8) & 0xff; buf[offset + 11] = e & 0xff;
    return 12;
  }
  const total = tcpOptionsLength(o);
  if (total > 40) throw new RangeError(`TCP options need ${total} bytes, at most 40 fit`);
  let i = offset;
  if (o.mss >= 0) {
    buf[i++] = TCP_OPT_MSS; buf[i++] = 4; buf[i++] = (o.mss >>> 8) & 0xff; buf[i++] = o.mss & 0xff;
  }
  if (o.hasTimestamp) {
    if (o.sackPermitted) { buf[i++] = TCP_OPT_SACK_PERMITTED; buf[i++] = 2; } else { buf[i++] = TCP_OPT_NOP; buf[i++] = TCP_OPT_NOP; }
    buf[i++] = TCP_OPT_TIMESTAMP; buf[i++] = 10;
    writeU32(buf, i, o.tsVal); writeU32(buf, i + 4, o.tsEcr); i += 8;
  } else if (o.sackPermitted) {
    buf[i++] = TCP_OPT_NOP; buf[i++] = TCP_OPT_NOP; buf[i++] = TCP_OPT_SACK_PERMITTED; buf[i++] = 2;
  }
  if (o.wscale >= 0) {
    buf[i++] = TCP_OPT_NOP; buf[i++] = TCP_OPT_WSCALE; buf[i++] = 3; buf[i++] = Math.min(o.wscale, TCP_MAX_WSCALE);
  }
  if (o.sackCount > 0) {
    const n = Math.min(o.sackCount, TCP_MAX_SACK_BLOCKS);
    buf[i++] = TCP_OPT_NOP; buf[i++] = TCP_OPT_NOP; buf[i++] = TCP_OPT_SACK; buf[i++] = 2 + 8 * n;
    for (let k = 0; k < n; k++) {
      writeU32(buf, i, o.sackBlocks[2 * k]); writeU32(buf, i + 4, o.sackBlocks[2 * k + 1]); i += 8;
    }
  }
  return i - offset;
}

/** The fixed header fields a serializer needs. */
export interface TcpHeaderFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent?: number;
}

/**
 * Writes the 20-byte fixed header with data offset for `optionsLength` option bytes; the checksum
 * field is zeroed (fill it with `writeTcpChecksum`).
 */
export function writeTcpHeader(buf: Uint8Array, offset: number, h: TcpHeaderFields, optionsLength = 0): void {
  writeTcpHeaderRaw(buf, offset, h.srcPort, h.dstPort, h.seq, h.ack, h.flags, h.window, optionsLength, h.urgent ?? 0);
}

/** `writeTcpHeader` without an object, for the hot path. */
export function writeTcpHeaderRaw(buf: Uint8Array, offset: number, srcPort: number, dstPort: number, seq: number, ack: number,
  flags: number, window: number, optionsLength: number, urgent = 0): void {
  const b = offset;
  buf[b] = srcPort >>> 8; buf[b + 1] = srcPort & 0xff;
  buf[b + 2] = dstPort >>> 8; buf[b + 3] = dstPort & 0xff;
  writeU32(buf, b + 4, seq);
  writeU32(buf, b + 8, ack);
  buf[b + 12] = ((TCP_HEADER_LENGTH + optionsLength) / 4) << 4;
  buf[b + 13] = flags & 0xff;
  buf[b + 14] = (window >>> 8) & 0xff; buf[b + 15] = window & 0xff;
  buf[b + 16] = 0; buf[b + 17] = 0;
  buf[b + 18] = (urgent >>> 8) & 0xff; buf[b + 19] = urgent & 0xff;
}

/** The checksum of a whole segment (header + payload) with the IPv4 pseudo-header; 0 means valid on receive. */
export function tcpChecksum(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address): number {
  return finishChecksum(sumWords(buf, offset, length, pseudoHeaderSum(src, dst, TCP_PROTOCOL, length)));
}

/** Computes and stores the checksum of the segment at buf[offset, offset+length). */
export function writeTcpChecksum(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address): void {
  buf[offset + 16] = 0; buf[offset + 17] = 0;
  const c = tcpChecksum(buf, offset, length, src, dst);
  buf[offset + 16] = c >>> 8; buf[offset + 17] = c & 0xff;
}

/**
 * For transmit checksum offload: stores the folded (uncomplemented) pseudo-header sum, which
 * the NIC completes over the segment (the usual "partial checksum" convention).
 */
export function writeTcpPseudoChecksum(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address): void {
  const c = ~finishChecksum(pseudoHeaderSum(src, dst, TCP_PROTOCOL, length)) & 0xffff;
  buf[offset + 16] = c >>> 8; buf[offset + 17] = c & 0xff;
}

/** Short text for flags, tcpdump style: "S", "S.", "F.", "R", "P." ... */
export function formatTcpFlags(flags: number): string {
  let s = '';
  if (flags & TCP_SYN) s += 'S';
  if (flags & TCP_FIN) s += 'F';
  if (flags & TCP_RST) s += 'R';
  if (flags & TCP_PSH) s += 'P';
  if (flags & TCP_URG) s += 'U';
  if (flags & TCP_ECE) s += 'E';
  if (flags & TCP_CWR) s += 'W';
  if (flags & TCP_ACK) s += '.';
  return s;
}

function readU32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

function writeU32(buf: Uint8Array, i: number, v: number): void {
  buf[i] = (v >>> 24) & 0xff; buf[i + 1] = (v >>> 16) & 0xff; buf[i + 2] = (v >>> 8) & 0xff; buf[i + 3] = v & 0xff;
}
