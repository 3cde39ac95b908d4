/**
 * DNS messages (RFC 1035, RFC 3596 AAAA, RFC 6891 OPT): a pure codec.
 *
 * Decoding never throws on wire input: it returns `{ ok: false, error }` with
 * a reason the protocol code counts. Names are decompressed safely: every
 * compression pointer must point strictly before the run of labels it
 * interrupts, so a chain of pointers can only move backwards and always ends;
 * pointers past the message, label types 01/10, labels over 63 octets and
 * names over 255 octets are rejected. Section counts that cannot fit in the
 * bytes that are left are rejected before anything is allocated.
 *
 * Encoding compresses owner names and the names inside CNAME/NS/PTR/SOA data
 * (the types RFC 3597 allows) against every earlier name suffix.
 *
 * Names are text: labels joined by '.', no trailing dot, '' for the root.
 * A '.' or '\' inside a label is written '\.' / '\\', other bytes outside
 * 0x21..0x7e as '\DDD' (decimal), as in zone files.
 */
import { Ipv4Address, readIpv4, writeIpv4 } from './ipv4-address';

export const DnsType = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41, ANY: 255,
} as const;
export const DNS_CLASS_IN = 1;

export const DnsRcode = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5,
} as const;

export const DnsOpcode = { QUERY: 0 } as const;

/** The classic UDP payload limit without EDNS (RFC 1035 4.2.1). */
export const DNS_UDP_MAX = 512;
export const DNS_HEADER_LENGTH = 12;
export const DNS_MAX_NAME_LENGTH = 255;
export const DNS_MAX_LABEL_LENGTH = 63;

export interface DnsFlags {
  /** Response (true) or query. */
  qr: boolean;
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated: the reply did not fit, ask again over TCP. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  rcode: number;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export type DnsRdata =
  | { kind: 'a'; address: Ipv4Address }
  | { kind: 'aaaa'; address: Uint8Array }
  | { kind: 'name'; name: string }
  | { kind: 'soa'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { kind: 'raw'; bytes: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  /** For OPT records this is the requester's UDP payload size. */
  class: number;
  /** Seconds (unsigned 32-bit). For OPT records: extended rcode, version and flags. */
  ttl: number;
  data: DnsRdata;
}

export interface DnsMessage {
  id: number;
  flags: DnsFlags;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export type DnsDecodeErrorReason =
  | 'truncated' // ran past the end of the message
  | 'bad-pointer' // compression pointer past the end or forwards
  | 'pointer-loop' // compression pointer back into the name it is part of
  | 'bad-label-type' // label type 01 or 10 (RFC 6891 retired them)
  | 'label-too-long'
  | 'name-too-long'
  | 'count-too-large' // section counts that cannot fit in the bytes left
  | 'bad-rdata' // A/AAAA of the wrong length, names overrunning the rdata
  | 'trailing-bytes';

export type DnsDecodeResult =
  | { ok: true; message: DnsMessage }
  | { ok: false; error: DnsDecodeErrorReason };

/** Thrown by the encoder on bad input from the API (never by the decoder). */
export class DnsEncodeError extends TypeError {}

// ---------------------------------------------------------------- names

class DecodeFailure {
  constructor(readonly reason: DnsDecodeErrorReason) {}
}

function labelToText(buf: Uint8Array, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len; i++) {
    const c = buf[i];
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/**
 * Reads a possibly compressed name at `offset` of the message `buf[0, end)`.
 * Returns the name and the offset just after it in the original position.
 */
function readName(buf: Uint8Array, base: number, offset: number, end: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1; // where the caller continues: after the first pointer, or after the root label
  let runStart = offset; // the start of the label run we are in; pointers must land before it
  let wireLength = 1; // the root label
  for (let jumps = 0; ; ) {
    if (pos >= end) throw new DecodeFailure('truncated');
    const len = buf[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const type = len & 0xc0;
    if (type === 0xc0) {
      if (pos + 1 >= end) throw new DecodeFailure('truncated');
      const target = base + (((len & 0x3f) << 8) | buf[pos + 1]);
      if (next < 0) next = pos + 2;
      if (target >= end || target > pos) throw new DecodeFailure('bad-pointer');
      if (target >= runStart) throw new DecodeFailure('pointer-loop');
      // Strictly decreasing targets bound the chain; the count is a second guard.
      if (++jumps > 127) throw new DecodeFailure('pointer-loop');
      pos = runStart = target;
      continue;
    }
    if (type !== 0) throw new DecodeFailure('bad-label-type');
    if (len > DNS_MAX_LABEL_LENGTH) throw new DecodeFailure('label-too-long');
    if (pos + 1 + len > end) throw new DecodeFailure('truncated');
    wireLength += len + 1;
    if (wireLength > DNS_MAX_NAME_LENGTH) throw new DecodeFailure('name-too-long');
    labels.push(labelToText(buf, pos + 1, len));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Splits presentation text into label byte arrays; throws DnsEncodeError on bad text. */
export function nameToLabels(name: string): Uint8Array[] {
  if (typeof name !== 'string') throw new DnsEncodeError('DNS name must be a string');
  if (name.endsWith('.') && !name.endsWith('\\.')) name = name.slice(0, -1);
  if (name === '') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let total = 1;
  const finish = (): void => {
    if (cur.length === 0) throw new DnsEncodeError(`empty label in DNS name ${JSON.stringify(name)}`);
    if (cur.length > DNS_MAX_LABEL_LENGTH) throw new DnsEncodeError(`label longer than 63 octets in ${JSON.stringify(name)}`);
    total += cur.length + 1;
    labels.push(Uint8Array.from(cur));
    cur = [];
  };
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch === 0x2e) { finish(); continue; }
    if (ch === 0x5c) {
      const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw new DnsEncodeError(`bad escape in DNS name ${JSON.stringify(name)}`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < name.length) {
        cur.push(name.charCodeAt(++i) & 0xff);
      } else {
        throw new DnsEncodeError(`dangling escape in DNS name ${JSON.stringify(name)}`);
      }
      continue;
    }
    if (ch > 0xff) throw new DnsEncodeError(`non-ASCII character in DNS name ${JSON.stringify(name)}`);
    cur.push(ch);
  }
  finish();
  if (total > DNS_MAX_NAME_LENGTH) throw new DnsEncodeError(`DNS name longer than 255 octets: ${name.slice(0, 40)}...`);
  return labels;
}

/** Lower-cases ASCII letters: DNS names compare case-insensitively (RFC 4343). */
export function canonicalName(name: string): string {
  let n = name.toLowerCase();
  if (n.endsWith('.') && !n.endsWith('\\.')) n = n.slice(0, -1);
  return n;
}

// ---------------------------------------------------------------- decode

function readRdata(buf: Uint8Array, base: number, type: number, start: number, rdlen: number, end: number): DnsRdata {
  const rdEnd = start + rdlen;
  switch (type) {
    case DnsType.A:
      if (rdlen !== 4) throw new DecodeFailure('bad-rdata');
      return { kind: 'a', address: readIpv4(buf, start) };
    case DnsType.AAAA:
      if (rdlen !== 16) throw new DecodeFailure('bad-rdata');
      return { kind: 'aaaa', address: buf.slice(start, rdEnd) };
    case DnsType.CNAME:
    case DnsType.NS:
    case DnsType.PTR: {
      const n = readName(buf, base, start, end);
      if (n.next !== rdEnd) throw new DecodeFailure('bad-rdata');
      return { kind: 'name', name: n.name };
    }
    case DnsType.SOA: {
      const m = readName(buf, base, start, end);
      const r = readName(buf, base, m.next, end);
      if (r.next + 20 !== rdEnd) throw new DecodeFailure('bad-rdata');
      const v = new DataView(buf.buffer, buf.byteOffset + r.next, 20);
      return {
        kind: 'soa', mname: m.name, rname: r.name, serial: v.getUint32(0), refresh: v.getUint32(4),
        retry: v.getUint32(8), expire: v.getUint32(12), minimum: v.getUint32(16),
      };
    }
    default:
      return { kind: 'raw', bytes: buf.slice(start, rdEnd) };
  }
}

/**
 * Decodes the DNS message in `buf[offset, offset+length)`. Never throws on bad
 * bytes; compression pointers are relative to `offset`.
 */
export function decodeDnsMessage(buf: Uint8Array, offset = 0, length = buf.length - offset): DnsDecodeResult {
  try {
    return { ok: true, message: decodeOrThrow(buf, offset, offset + length) };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, error: e.reason };
    // A RangeError from a typed array would be a bug here, but wire input must never escape as an exception.
    return { ok: false, error: 'truncated' };
  }
}

function decodeOrThrow(buf: Uint8Array, base: number, end: number): DnsMessage {
  if (base < 0 || end > buf.length || end - base < DNS_HEADER_LENGTH) throw new DecodeFailure('truncated');
  const u16 = (p: number): number => (buf[p] << 8) | buf[p + 1];
  const id = u16(base);
  const f = u16(base + 2);
  const qd = u16(base + 4), an = u16(base + 6), ns = u16(base + 8), ar = u16(base + 10);
  // A question takes at least 5 bytes (root name, type, class), a record at least 11.
  if (qd * 5 + (an + ns + ar) * 11 > end - base - DNS_HEADER_LENGTH) throw new DecodeFailure('count-too-large');
  const flags: DnsFlags = {
    qr: (f & 0x8000) !== 0, opcode: (f >> 11) & 0xf, aa: (f & 0x0400) !== 0, tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0, ra: (f & 0x0080) !== 0, rcode: f & 0xf,
  };
  let pos = base + DNS_HEADER_LENGTH;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const n = readName(buf, base, pos, end);
    if (n.next + 4 > end) throw new DecodeFailure('truncated');
    questions.push({ name: n.name, type: u16(n.next), class: u16(n.next + 2) });
    pos = n.next + 4;
  }
  const readSection = (count: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const n = readName(buf, base, pos, end);
      const p = n.next;
      if (p + 10 > end) throw new DecodeFailure('truncated');
      const type = u16(p);
      const cls = u16(p + 2);
      const ttl = ((buf[p + 4] << 24) | (buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]) >>> 0;
      const rdlen = u16(p + 8);
      if (p + 10 + rdlen > end) throw new DecodeFailure('truncated');
      out.push({ name: n.name, type, class: cls, ttl, data: readRdata(buf, base, type, p + 10, rdlen, end) });
      pos = p + 10 + rdlen;
    }
    return out;
  };
  const answers = readSection(an);
  const authorities = readSection(ns);
  const additionals = readSection(ar);
  if (pos !== end) throw new DecodeFailure('trailing-bytes');
  return { id, flags, questions, answers, authorities, additionals };
}

// ---------------------------------------------------------------- encode

export interface DnsEncodeOptions {
  /** Compress names (default true). */
  compress?: boolean;
  /**
   * Largest message to produce. When the full message is larger, whole records
   * are dropped from the end and TC is set (what a server does for UDP).
   */
  maxSize?: number;
}

class Writer {
  buf = new Uint8Array(512);
  len = 0;
  /** Name suffix -> offset of its first occurrence. */
  readonly names = new Map<string, number>();
  constructor(readonly compress: boolean) {}

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number): void { this.ensure(1); this.buf[this.len++] = v; }
  u16(v: number): void { this.ensure(2); this.buf[this.len++] = (v >> 8) & 0xff; this.buf[this.len++] = v & 0xff; }
  u32(v: number): void { this.u16(Math.floor(v / 65536) & 0xffff); this.u16(v & 0xffff); }
  bytes(b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.len); this.len += b.length; }

  name(name: string, compressible = true): void {
    const labels = nameToLabels(name);
    const keys: string[] = [];
    // Suffix keys: the wire labels from i to the end. Case-sensitive on purpose, so every name
    // decodes with exactly the case it was given (DNS 0x20 and users' spelling survive).
    for (let i = labels.length - 1; i >= 0; i--) {
      let k = '';
      for (const b of labels[i]) k += String.fromCharCode(b);
      keys[i] = k.length + ':' + k + (i + 1 < labels.length ? '.' + keys[i + 1] : '');
    }
    for (let i = 0; i < labels.length; i++) {
      if (this.compress && compressible) {
        const at = this.names.get(keys[i]);
        if (at !== undefined) { this.u16(0xc000 | at); return; }
      }
      if (this.len < 0x4000) this.names.set(keys[i], this.len);
      this.u8(labels[i].length);
      this.bytes(labels[i]);
    }
    this.u8(0);
  }
}

function u32Field(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new DnsEncodeError(`DNS ${what} must be a 32-bit unsigned integer, got ${v}`);
  return v;
}
function u16Field(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new DnsEncodeError(`DNS ${what} must be a 16-bit unsigned integer, got ${v}`);
  return v;
}

function writeRecord(w: Writer, r: DnsRecord): void {
  w.name(r.name);
  w.u16(u16Field(r.type, 'type'));
  w.u16(u16Field(r.class, 'class'));
  w.u32(u32Field(r.ttl, 'ttl'));
  const lenAt = w.len;
  w.u16(0);
  const d = r.data;
  switch (d.kind) {
    case 'a':
      w.ensure(4); writeIpv4(w.buf, w.len, d.address); w.len += 4;
      break;
    case 'aaaa':
      if (!(d.address instanceof Uint8Array) || d.address.length !== 16) throw new DnsEncodeError('AAAA address must be 16 bytes');
      w.bytes(d.address);
      break;
    case 'name':
      w.name(d.name);
      break;
    case 'soa':
      w.name(d.mname); w.name(d.rname);
      w.u32(u32Field(d.serial, 'SOA serial')); w.u32(u32Field(d.refresh, 'SOA refresh')); w.u32(u32Field(d.retry, 'SOA retry'));
      w.u32(u32Field(d.expire, 'SOA expire')); w.u32(u32Field(d.minimum, 'SOA minimum'));
      break;
    case 'raw':
      w.bytes(d.bytes);
      break;
    default:
      throw new DnsEncodeError('unknown DNS rdata kind');
  }
  const rdlen = w.len - lenAt - 2;
  if (rdlen > 0xffff) throw new DnsEncodeError('DNS rdata longer than 65535 bytes');
  w.buf[lenAt] = rdlen >> 8;
  w.buf[lenAt + 1] = rdlen & 0xff;
}

/** Encodes a message; throws DnsEncodeError on invalid fields (API input). */
export function encodeDnsMessage(msg: DnsMessage, options: DnsEncodeOptions = {}): Uint8Array {
  const w = new Writer(options.compress !== false);
  const f = msg.flags;
  w.u16(u16Field(msg.id, 'id'));
  w.u16((f.qr ? 0x8000 : 0) | ((f.opcode & 0xf) << 11) | (f.aa ? 0x0400 : 0) | (f.tc ? 0x0200 : 0) |
    (f.rd ? 0x0100 : 0) | (f.ra ? 0x0080 : 0) | (f.rcode & 0xf));
  const sections = [msg.answers, msg.authorities, msg.additionals];
  w.u16(u16Field(msg.questions.length, 'question count'));
  for (const s of sections) w.u16(u16Field(s.length, 'record count'));
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(u16Field(q.type, 'type'));
    w.u16(u16Field(q.class, 'class'));
  }
  const questionsEnd = w.len;
  // Offsets after each record, to cut the message at a record boundary if it is too big:
  // compression only points backwards, so every prefix is a valid message.
  const ends: number[] = [];
  for (const s of sections) for (const r of s) { writeRecord(w, r); ends.push(w.len); }
  const max = options.maxSize;
  if (max === undefined || w.len <= max) return w.buf.slice(0, w.len);
  let keep = 0;
  while (keep < ends.length && ends[keep] <= max) keep++;
  const questionsFit = questionsEnd <= max;
  const out = w.buf.slice(0, keep > 0 ? ends[keep - 1] : questionsFit ? questionsEnd : DNS_HEADER_LENGTH);
  out[2] |= 0x02; // TC
  if (!questionsFit) { out[4] = 0; out[5] = 0; }
  let left = keep;
  for (let i = 0; i < 3; i++) {
    const n = Math.min(left, sections[i].length);
    left -= n;
    out[6 + 2 * i] = n >> 8;
    out[7 + 2 * i] = n & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------- helpers

export function dnsQuery(id: number, name: string, type: number, rd = true): DnsMessage {
  return {
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd, ra: false, rcode: 0 },
    questions: [{ name, type, class: DNS_CLASS_IN }],
    answers: [], authorities: [], additionals: [],
  };
}

/** Text form of a 16-byte IPv6 address (RFC 5952: lower case, longest zero run as ::). */
export function formatIpv6(a: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((a[i] << 8) | a[i + 1]);
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return hex(words.slice(0, bestStart)) + '::' + hex(words.slice(bestStart + bestLen));
}

/** Parses IPv6 text (no zone, no embedded IPv4) into 16 bytes; null when invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  if (typeof text !== 'string' || !/^[0-9a-fA-F:]+$/.test(text)) return null;
  const parts = text.split('::');
  if (parts.length > 2) return null;
  const toWords = (s: string): number[] | null => {
    if (s === '') return [];
    const ws = s.split(':');
    if (ws.some((w) => w.length < 1 || w.length > 4)) return null;
    return ws.map((w) => parseInt(w, 16));
  };
  const head = toWords(parts[0]);
  const tail = parts.length === 2 ? toWords(parts[1]) : [];
  if (!head || !tail) return null;
  if (parts.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return null;
  const words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}
