/**
 * DHCP messages (RFC 2131 over the BOOTP layout of RFC 951, options RFC 2132):
 * a pure codec.
 *
 * Decoding never throws on wire input: it returns `{ ok: false, error }`.
 * Options split over several instances are concatenated (RFC 3396), and the
 * `file`/`sname` fields are read as options when option 52 says so.
 */
import { MacAddress, readMac, writeMac } from '@pnet/nic';
import { Ipv4Address, readIpv4, writeIpv4 } from './ipv4-address';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const BOOTP_REQUEST = 1;
export const BOOTP_REPLY = 2;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Fixed BOOTP part (236) plus the magic cookie. */
export const DHCP_FIXED_LENGTH = 240;
/** Every DHCP host must accept messages this long (RFC 2131 2: 576-byte IP datagrams). */
export const DHCP_MIN_MESSAGE_LENGTH = 300;

export const DhcpMessageType = {
  DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8,
} as const;
export type DhcpMessageTypeValue = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

export const DhcpOption = {
  PAD: 0, SUBNET_MASK: 1, ROUTER: 3, DNS_SERVERS: 6, HOST_NAME: 12, DOMAIN_NAME: 15, BROADCAST_ADDRESS: 28,
  REQUESTED_IP: 50, LEASE_TIME: 51, OVERLOAD: 52, MESSAGE_TYPE: 53, SERVER_ID: 54, PARAMETER_LIST: 55,
  MESSAGE: 56, MAX_MESSAGE_SIZE: 57, RENEWAL_TIME: 58, REBINDING_TIME: 59, CLIENT_ID: 61, END: 255,
} as const;

/** The options this codec knows by name; everything else stays in `other`, raw. */
export interface DhcpOptions {
  messageType?: DhcpMessageTypeValue;
  subnetMask?: Ipv4Address;
  routers?: Ipv4Address[];
  dnsServers?: Ipv4Address[];
  hostName?: string;
  domainName?: string;
  broadcastAddress?: Ipv4Address;
  requestedIp?: Ipv4Address;
  /** Seconds; 0xffffffff means infinite. */
  leaseTime?: number;
  serverId?: Ipv4Address;
  parameterList?: number[];
  message?: string;
  maxMessageSize?: number;
  /** T1, seconds. */
  renewalTime?: number;
  /** T2, seconds. */
  rebindingTime?: number;
  clientId?: Uint8Array;
  /** Other options by code, raw (concatenated if split). */
  other?: Map<number, Uint8Array>;
}

export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  /** Bit 15: the client wants replies broadcast. */
  flags: number;
  ciaddr: Ipv4Address;
  yiaddr: Ipv4Address;
  siaddr: Ipv4Address;
  giaddr: Ipv4Address;
  /** The client's hardware address (Ethernet when htype 1, hlen 6). */
  chaddr: MacAddress;
  sname: string;
  file: string;
  options: DhcpOptions;
}

export const DHCP_FLAG_BROADCAST = 0x8000;

export type DhcpDecodeErrorReason =
  | 'truncated' // shorter than the fixed part, or an option running past the end
  | 'bad-cookie'
  | 'bad-option' // a known option of the wrong length or content
  | 'no-end'; // options never closed by END (a truncated message)

export type DhcpDecodeResult = { ok: true; message: DhcpMessage } | { ok: false; error: DhcpDecodeErrorReason };

export class DhcpEncodeError extends TypeError {}

class DecodeFailure {
  constructor(readonly reason: DhcpDecodeErrorReason) {}
}

function cString(buf: Uint8Array, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len && buf[i] !== 0; i++) s += String.fromCharCode(buf[i]);
  return s;
}

/** Collects raw option values (concatenating repeats) from one area. */
function readOptionArea(buf: Uint8Array, start: number, end: number, into: Map<number, Uint8Array>, mustEnd: boolean): void {
  let p = start;
  while (p < end) {
    const code = buf[p];
    if (code === DhcpOption.PAD) { p++; continue; }
    if (code === DhcpOption.END) return;
    if (p + 1 >= end) throw new DecodeFailure('truncated');
    const len = buf[p + 1];
    if (p + 2 + len > end) throw new DecodeFailure('truncated');
    const value = buf.subarray(p + 2, p + 2 + len);
    const prev = into.get(code);
    if (prev) {
      const joined = new Uint8Array(prev.length + len);
      joined.set(prev);
      joined.set(value, prev.length);
      into.set(code, joined);
    } else {
      into.set(code, value.slice());
    }
    p += 2 + len;
  }
  // sname/file areas may simply end; the main area must be closed by END.
  if (mustEnd) throw new DecodeFailure('no-end');
}

function addrList(v: Uint8Array): Ipv4Address[] {
  if (v.length === 0 || v.length % 4 !== 0) throw new DecodeFailure('bad-option');
  const out: Ipv4Address[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(readIpv4(v, i));
  return out;
}
function oneAddr(v: Uint8Array): Ipv4Address {
  if (v.length !== 4) throw new DecodeFailure('bad-option');
  return readIpv4(v, 0);
}
function u32(v: Uint8Array): number {
  if (v.length !== 4) throw new DecodeFailure('bad-option');
  return readIpv4(v, 0);
}
function text(v: Uint8Array): string {
  let s = '';
  for (const b of v) if (b !== 0) s += String.fromCharCode(b);
  return s;
}

function interpretOptions(raw: Map<number, Uint8Array>): DhcpOptions {
  const o: DhcpOptions = {};
  for (const [code, v] of raw) {
    switch (code) {
      case DhcpOption.MESSAGE_TYPE:
        if (v.length !== 1 || v[0] < 1 || v[0] > 8) throw new DecodeFailure('bad-option');
        o.messageType = v[0] as DhcpMessageTypeValue;
        break;
      case DhcpOption.SUBNET_MASK: o.subnetMask = oneAddr(v); break;
      case DhcpOption.ROUTER: o.routers = addrList(v); break;
      case DhcpOption.DNS_SERVERS: o.dnsServers = addrList(v); break;
      case DhcpOption.HOST_NAME: o.hostName = text(v); break;
      case DhcpOption.DOMAIN_NAME: o.domainName = text(v); break;
      case DhcpOption.BROADCAST_ADDRESS: o.broadcastAddress = oneAddr(v); break;
      case DhcpOption.REQUESTED_IP: o.requestedIp = oneAddr(v); break;
      case DhcpOption.LEASE_TIME: o.leaseTime = u32(v); break;
      case DhcpOption.SERVER_ID: o.serverId = oneAddr(v); break;
      case DhcpOption.PARAMETER_LIST: o.parameterList = Array.from(v); break;
      case DhcpOption.MESSAGE: o.message = text(v); break;
      case DhcpOption.MAX_MESSAGE_SIZE:
        if (v.length !== 2) throw new DecodeFailure('bad-option');
        o.maxMessageSize = (v[0] << 8) | v[1];
        break;
      case DhcpOption.RENEWAL_TIME: o.renewalTime = u32(v); break;
      case DhcpOption.REBINDING_TIME: o.rebindingTime = u32(v); break;
      case DhcpOption.CLIENT_ID: o.clientId = v; break;
      case DhcpOption.OVERLOAD: break; // consumed by the decoder
      default:
        (o.other ??= new Map()).set(code, v);
    }
  }
  return o;
}

/** Decodes `buf[offset, offset+length)`; never throws on bad bytes. */
export function decodeDhcpMessage(buf: Uint8Array, offset = 0, length = buf.length - offset): DhcpDecodeResult {
  try {
    if (offset < 0 || offset + length > buf.length || length < DHCP_FIXED_LENGTH) throw new DecodeFailure('truncated');
    const b = buf.subarray(offset, offset + length);
    if (readIpv4(b, 236) !== DHCP_MAGIC_COOKIE) throw new DecodeFailure('bad-cookie');
    const raw = new Map<number, Uint8Array>();
    readOptionArea(b, DHCP_FIXED_LENGTH, b.length, raw, true);
    const overload = raw.get(DhcpOption.OVERLOAD);
    let sname = cString(b, 44, 64);
    let file = cString(b, 108, 128);
    if (overload) {
      if (overload.length !== 1 || overload[0] < 1 || overload[0] > 3) throw new DecodeFailure('bad-option');
      // RFC 2131 4.1: options continue in `file`, then `sname`.
      if (overload[0] & 1) { readOptionArea(b, 108, 236, raw, false); file = ''; }
      if (overload[0] & 2) { readOptionArea(b, 44, 108, raw, false); sname = ''; }
    }
    const message: DhcpMessage = {
      op: b[0], htype: b[1], hlen: b[2], hops: b[3], xid: readIpv4(b, 4), secs: (b[8] << 8) | b[9],
      flags: (b[10] << 8) | b[11], ciaddr: readIpv4(b, 12), yiaddr: readIpv4(b, 16), siaddr: readIpv4(b, 20),
      giaddr: readIpv4(b, 24), chaddr: readMac(b, 28), sname, file, options: interpretOptions(raw),
    };
    return { ok: true, message };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, error: e.reason };
    return { ok: false, error: 'truncated' };
  }
}

// ---------------------------------------------------------------- encode

function pushOption(out: number[], code: number, value: ArrayLike<number>): void {
  // Values over 255 bytes are split into several instances (RFC 3396).
  let i = 0;
  do {
    const n = Math.min(255, value.length - i);
    out.push(code, n);
    for (let j = 0; j < n; j++) out.push(value[i + j]);
    i += n;
  } while (i < value.length);
}
function addrBytes(addrs: Ipv4Address[], what: string): number[] {
  if (!Array.isArray(addrs) || addrs.length === 0) throw new DhcpEncodeError(`DHCP ${what}: need at least one address`);
  const b = new Uint8Array(4 * addrs.length);
  addrs.forEach((a, i) => writeIpv4(b, 4 * i, a));
  return Array.from(b);
}
function u32Bytes(v: number, what: string): number[] {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new DhcpEncodeError(`DHCP ${what} must be a 32-bit unsigned integer`);
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}
function textBytes(s: string, what: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new DhcpEncodeError(`DHCP ${what} must be Latin-1 text`);
    out.push(c);
  }
  return out;
}

/** Encodes a message, padded to at least 300 bytes. Throws DhcpEncodeError on bad fields. */
export function encodeDhcpMessage(m: DhcpMessage): Uint8Array {
  const o = m.options;
  const opts: number[] = [];
  if (o.messageType !== undefined) pushOption(opts, DhcpOption.MESSAGE_TYPE, [o.messageType]);
  if (o.serverId !== undefined) pushOption(opts, DhcpOption.SERVER_ID, u32Bytes(o.serverId, 'server id'));
  if (o.requestedIp !== undefined) pushOption(opts, DhcpOption.REQUESTED_IP, u32Bytes(o.requestedIp, 'requested IP'));
  if (o.leaseTime !== undefined) pushOption(opts, DhcpOption.LEASE_TIME, u32Bytes(o.leaseTime, 'lease time'));
  if (o.renewalTime !== undefined) pushOption(opts, DhcpOption.RENEWAL_TIME, u32Bytes(o.renewalTime, 'renewal time'));
  if (o.rebindingTime !== undefined) pushOption(opts, DhcpOption.REBINDING_TIME, u32Bytes(o.rebindingTime, 'rebinding time'));
  if (o.subnetMask !== undefined) pushOption(opts, DhcpOption.SUBNET_MASK, u32Bytes(o.subnetMask, 'subnet mask'));
  if (o.broadcastAddress !== undefined) pushOption(opts, DhcpOption.BROADCAST_ADDRESS, u32Bytes(o.broadcastAddress, 'broadcast address'));
  if (o.routers !== undefined) pushOption(opts, DhcpOption.ROUTER, addrBytes(o.routers, 'routers'));
  if (o.dnsServers !== undefined) pushOption(opts, DhcpOption.DNS_SERVERS, addrBytes(o.dnsServers, 'DNS servers'));
  if (o.domainName !== undefined) pushOption(opts, DhcpOption.DOMAIN_NAME, textBytes(o.domainName, 'domain name'));
  if (o.hostName !== undefined) pushOption(opts, DhcpOption.HOST_NAME, textBytes(o.hostName, 'host name'));
  if (o.clientId !== undefined) pushOption(opts, DhcpOption.CLIENT_ID, o.clientId);
  if (o.parameterList !== undefined) pushOption(opts, DhcpOption.PARAMETER_LIST, o.parameterList.map((x) => x & 0xff));
  if (o.maxMessageSize !== undefined) pushOption(opts, DhcpOption.MAX_MESSAGE_SIZE, [(o.maxMessageSize >> 8) & 0xff, o.maxMessageSize & 0xff]);
  if (o.message !== undefined) pushOption(opts, DhcpOption.MESSAGE, textBytes(o.message, 'message'));
  if (o.other) {
    for (const [code, v] of o.other) {
      if (!Number.isInteger(code) || code <= 0 || code >= 255) throw new DhcpEncodeError(`DHCP option code ${code} is invalid`);
      pushOption(opts, code, v);
    }
  }
  opts.push(DhcpOption.END);
  const len = Math.max(DHCP_MIN_MESSAGE_LENGTH, DHCP_FIXED_LENGTH + opts.length);
  const b = new Uint8Array(len);
  b[0] = m.op; b[1] = m.htype; b[2] = m.hlen; b[3] = m.hops;
  writeIpv4(b, 4, (m.xid >>> 0) as Ipv4Address);
  b[8] = (m.secs >> 8) & 0xff; b[9] = m.secs & 0xff;
  b[10] = (m.flags >> 8) & 0xff; b[11] = m.flags & 0xff;
  writeIpv4(b, 12, m.ciaddr); writeIpv4(b, 16, m.yiaddr); writeIpv4(b, 20, m.siaddr); writeIpv4(b, 24, m.giaddr);
  writeMac(b, 28, m.chaddr);
  const sname = textBytes(m.sname, 'sname');
  const file = textBytes(m.file, 'file');
  if (sname.length > 63 || file.length > 127) throw new DhcpEncodeError('DHCP sname/file too long');
  b.set(sname, 44);
  b.set(file, 108);
  writeIpv4(b, 236, DHCP_MAGIC_COOKIE as Ipv4Address);
  b.set(opts, DHCP_FIXED_LENGTH);
  return b;
}

/** A message with BOOTP defaults for Ethernet (op, htype 1, hlen 6, zero addresses). */
export function dhcpMessage(op: number, xid: number, chaddr: MacAddress, options: DhcpOptions, fields: Partial<DhcpMessage> = {}): DhcpMessage {
  const zero = 0 as Ipv4Address;
  return {
    op, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: 0, ciaddr: zero, yiaddr: zero, siaddr: zero, giaddr: zero,
    chaddr, sname: '', file: '', options, ...fields,
  };
}
