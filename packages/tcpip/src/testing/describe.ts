/**
 * One-line, tcpdump-like descriptions of frames, and partial matchers, for
 * readable test failures. Other protocols add a describer with
 * `registerDescriber(protocolNumber, fn)` (e.g. TCP).
 */
import { MacAddress, formatMac } from '@pnet/nic';
import { finishChecksum, pseudoHeaderSum, sumWords } from '../wire/checksum';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetHeader, parseEthernet } from '../wire/ethernet';
import { ArpPacket, parseArp } from '../wire/arp';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, Ipv4Header, parseIpv4Header } from '../wire/ipv4';
import { Ipv4Address, formatIpv4 } from '../wire/ipv4-address';
import { IcmpHeader, parseIcmp } from '../wire/icmp';
import { UdpHeader, parseUdp } from '../wire/udp';
import { toIpv4 } from '../ip/routing';

export type TransportDescriber = (buf: Uint8Array, offset: number, length: number, ip: Ipv4Header) => string;
const describers = new Map<number, TransportDescriber>();

/** Adds (or replaces) how IP payloads of `protocol` are described. */
export function registerDescriber(protocol: number, fn: TransportDescriber): void {
  describers.set(protocol, fn);
}

/** The decoded layers of a frame (fresh objects; for tests). */
export interface DecodedFrame {
  eth: EthernetHeader;
  arp?: ArpPacket;
  ipv4?: Ipv4Header;
  /** IP payload range in the frame. */
  ipPayloadOffset?: number;
  ipPayloadLength?: number;
  icmp?: IcmpHeader;
  udp?: UdpHeader;
  /** The bytes after the transport header (UDP/ICMP) or the IP payload for other protocols. */
  payload?: Uint8Array;
  /** Problems found (bad checksums, malformed headers). */
  problems: string[];
}

export function decodeFrame(frame: Uint8Array, verifyChecksums = true): DecodedFrame | string {
  const eth = parseEthernet(frame, 0, frame.length, new EthernetHeader());
  if (typeof eth === 'string') return `ethernet: ${eth}`;
  const out: DecodedFrame = { eth, problems: [] };
  const hl = eth.headerLength;
  if (eth.etherType === ETHERTYPE_ARP) {
    const a = parseArp(frame, hl, frame.length - hl, new ArpPacket());
    if (typeof a === 'string') out.problems.push(`arp: ${a}`); else out.arp = a;
    return out;
  }
  if (eth.etherType !== ETHERTYPE_IPV4) return out;
  const ip = parseIpv4Header(frame, hl, frame.length - hl, new Ipv4Header(), false);
  if (typeof ip === 'string') { out.problems.push(`ipv4: ${ip}`); return out; }
  out.ipv4 = ip;
  if (verifyChecksums && finishChecksum(sumWords(frame, hl, ip.headerLength)) !== 0) out.problems.push('ipv4: bad header checksum');
  const po = hl + ip.headerLength;
  const pl = ip.totalLength - ip.headerLength;
  out.ipPayloadOffset = po;
  out.ipPayloadLength = pl;
  const first = ip.fragmentOffset === 0;
  const whole = first && !ip.moreFragments;
  if (first && ip.protocol === IP_PROTOCOL_ICMP) {
    const h = parseIcmp(frame, po, pl, new IcmpHeader(), false);
    if (typeof h === 'string') out.problems.push(`icmp: ${h}`);
    else {
      out.icmp = h;
      out.payload = frame.slice(po + 8, po + pl);
      if (verifyChecksums && whole && finishChecksum(sumWords(frame, po, pl)) !== 0) out.problems.push('icmp: bad checksum');
    }
  } else if (first && ip.protocol === IP_PROTOCOL_UDP) {
    const h = parseUdp(frame, po, whole ? pl : Math.max(pl, 8) , new UdpHeader());
    if (typeof h === 'string' && whole) out.problems.push(`udp: ${h}`);
    else if (typeof h !== 'string') {
      out.udp = h;
      out.payload = frame.slice(po + 8, po + Math.min(pl, h.length));
      if (verifyChecksums && whole && h.checksum !== 0 &&
        finishChecksum(sumWords(frame, po, h.length, pseudoHeaderSum(ip.src, ip.dst, IP_PROTOCOL_UDP, h.length))) !== 0) {
        out.problems.push('udp: bad checksum');
      }
    }
  } else {
    out.payload = frame.slice(po, po + pl);
  }
  return out;
}

/** A tcpdump-like line for a frame. */
export function describeFrame(frame: Uint8Array): string {
  const d = decodeFrame(frame);
  if (typeof d === 'string') return `<${d}> ${hex(frame, 64)}`;
  const e = d.eth;
  let s = `${formatMac(e.src)} > ${formatMac(e.dst)}${e.vlanTags.length ? ` vlan ${e.vlanTags.map((t) => t & 0xfff).join('.')}` : ''}`;
  if (d.arp) {
    const a = d.arp;
    s += a.operation === 1 ? `, ARP who-has ${formatIpv4(a.targetIp)} tell ${formatIpv4(a.senderIp)}`
      : a.operation === 2 ? `, ARP reply ${formatIpv4(a.senderIp)} is-at ${formatMac(a.senderMac)} (to ${formatIpv4(a.targetIp)})`
        : `, ARP op ${a.operation}`;
  } else if (d.ipv4) {
    const ip = d.ipv4;
    s += `, IPv4 ${formatIpv4(ip.src)} > ${formatIpv4(ip.dst)} ttl ${ip.ttl} id ${ip.id} len ${ip.totalLength}`;
    if (ip.dontFragment) s += ' DF';
    if (ip.moreFragments || ip.fragmentOffset) s += ` frag ${ip.fragmentOffset}${ip.moreFragments ? '+' : ''}`;
    const custom = describers.get(ip.protocol);
    if (custom && ip.fragmentOffset === 0) s += `, ${custom(frame, d.ipPayloadOffset!, d.ipPayloadLength!, ip)}`;
    else if (d.icmp) s += `, ICMP type ${d.icmp.type} code ${d.icmp.code}${d.icmp.type === 0 || d.icmp.type === 8 ? ` id ${d.icmp.identifier} seq ${d.icmp.sequence}` : ''} data ${d.payload!.length}`;
    else if (d.udp) s += `, UDP ${d.udp.srcPort} > ${d.udp.dstPort} len ${d.udp.length - 8}`;
    else s += `, proto ${ip.protocol === IP_PROTOCOL_TCP ? 'tcp' : ip.protocol}`;
  } else {
    s += `, ethertype 0x${e.etherType.toString(16).padStart(4, '0')}`;
  }
  if (d.problems.length) s += ` [${d.problems.join('; ')}]`;
  return s;
}

export function hex(b: Uint8Array, max = Infinity): string {
  const n = Math.min(b.length, max);
  let s = '';
  for (let i = 0; i < n; i++) s += (i && i % 16 === 0 ? '\n' : i ? ' ' : '') + b[i].toString(16).padStart(2, '0');
  return n < b.length ? `${s} ...(${b.length} bytes)` : s;
}

type Addr = Ipv4Address | string;
/** What a test expects of a frame; absent fields are not checked. */
export interface FrameMatch {
  eth?: { dst?: MacAddress; src?: MacAddress; etherType?: number };
  arp?: { operation?: number; senderMac?: MacAddress; senderIp?: Addr; targetMac?: MacAddress; targetIp?: Addr };
  ipv4?: {
    src?: Addr; dst?: Addr; protocol?: number; ttl?: number; tos?: number; id?: number; dontFragment?: boolean;
    moreFragments?: boolean; fragmentOffset?: number; totalLength?: number;
  };
  icmp?: { type?: number; code?: number; rest?: number; identifier?: number; sequence?: number };
  udp?: { srcPort?: number; dstPort?: number; length?: number };
  /** Bytes after the UDP/ICMP header (or the IP payload of other protocols). */
  payload?: Uint8Array | string;
  /** Anything else: return true, or a string saying what is wrong. */
  check?: (frame: Uint8Array, decoded: DecodedFrame) => boolean | string;
}

/** The ways `frame` differs from `m` (empty when it matches). Bad checksums always count. */
export function mismatches(frame: Uint8Array, m: FrameMatch, verifyChecksums = true): string[] {
  const d = decodeFrame(frame, verifyChecksums);
  if (typeof d === 'string') return [d];
  const out = [...d.problems];
  const cmp = (layer: string, actual: object | undefined, want: object | undefined): void => {
    if (!want) return;
    if (!actual) { out.push(`no ${layer} layer`); return; }
    for (const [k, v] of Object.entries(want)) {
      if (v === undefined) continue;
      let expected = v;
      if ((k === 'src' || k === 'dst' || k === 'senderIp' || k === 'targetIp') && typeof v === 'string') expected = toIpv4(v, k);
      const got = (actual as Record<string, unknown>)[k];
      if (got !== expected) out.push(`${layer}.${k}: expected ${fmt(k, expected)}, got ${fmt(k, got)}`);
    }
  };
  cmp('eth', d.eth, m.eth);
  cmp('arp', d.arp, m.arp);
  cmp('ipv4', d.ipv4, m.ipv4);
  cmp('icmp', d.icmp, m.icmp);
  cmp('udp', d.udp, m.udp);
  if (m.payload !== undefined) {
    const want = typeof m.payload === 'string' ? new TextEncoder().encode(m.payload) : m.payload;
    const got = d.payload ?? new Uint8Array(0);
    if (got.length !== want.length || got.some((x, i) => x !== want[i])) {
      out.push(`payload: expected ${want.length} bytes [${hex(want, 24)}], got ${got.length} bytes [${hex(got, 24)}]`);
    }
  }
  if (m.check) {
    const r = m.check(frame, d);
    if (r !== true) out.push(typeof r === 'string' ? r : 'check() failed');
  }
  return out;
}

function fmt(k: string, v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (k === 'src' || k === 'dst' || k === 'senderIp' || k === 'targetIp') return formatIpv4(v);
  if (k.endsWith('Mac') || k === 'dst' || k === 'src') return formatMac(v as MacAddress);
  return String(v);
}
