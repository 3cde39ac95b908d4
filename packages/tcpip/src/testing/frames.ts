/**
 * Builders for crafted frames (tests): each returns fresh bytes, with correct
 * lengths and checksums unless told otherwise, so a test states only what
 * matters. Compose them: `ethernet({...}, ipv4({...}, udp({...}, data)))`.
 */
import { MacAddress } from '@pnet/nic';
import { internetChecksum, pseudoHeaderSum, sumWords, finishChecksum } from '../wire/checksum';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ethernetHeaderLength, writeEthernet } from '../wire/ethernet';
import { ARP_REPLY, ARP_REQUEST, writeArp } from '../wire/arp';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP, writeIpv4Header } from '../wire/ipv4';
import { Ipv4Address } from '../wire/ipv4-address';
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, echoRest, setIcmpChecksum, writeIcmpHeader } from '../wire/icmp';
import { writeUdpHeader } from '../wire/udp';
import { toIpv4 } from '../ip/routing';

type Addr = Ipv4Address | string;
const bytesOf = (d: Uint8Array | string | undefined): Uint8Array =>
  d === undefined ? new Uint8Array(0) : typeof d === 'string' ? new TextEncoder().encode(d) : d;

export interface EthernetSpec {
  dst: MacAddress;
  src: MacAddress;
  etherType?: number;
  vlanTags?: number[];
  /** Pad to the 60-byte Ethernet minimum (as real NICs deliver short frames). Default false. */
  pad?: boolean;
}

export function ethernet(spec: EthernetSpec, payload: Uint8Array | string): Uint8Array {
  const p = bytesOf(payload);
  const h = { dst: spec.dst, src: spec.src, etherType: spec.etherType ?? ETHERTYPE_IPV4, vlanTags: spec.vlanTags };
  const hl = ethernetHeaderLength(h);
  const len = spec.pad ? Math.max(60, hl + p.length) : hl + p.length;
  const buf = new Uint8Array(len);
  writeEthernet(buf, 0, h);
  buf.set(p, hl);
  return buf;
}

export interface Ipv4Spec {
  src: Addr;
  dst: Addr;
  protocol: number;
  ttl?: number;
  id?: number;
  tos?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Bytes (a multiple of 8). */
  fragmentOffset?: number;
  options?: Uint8Array;
  /** A wrong value to put in the checksum field (default: computed). */
  checksum?: number;
  /** Override the total length field (default: the real length). */
  totalLength?: number;
}

export function ipv4(spec: Ipv4Spec, payload: Uint8Array | string): Uint8Array {
  const p = bytesOf(payload);
  const hl = 20 + (spec.options?.length ?? 0);
  const buf = new Uint8Array(hl + p.length);
  writeIpv4Header(buf, 0, {
    tos: spec.tos, totalLength: spec.totalLength ?? buf.length, id: spec.id ?? 0, dontFragment: spec.dontFragment,
    moreFragments: spec.moreFragments, fragmentOffset: spec.fragmentOffset, ttl: spec.ttl ?? 64, protocol: spec.protocol,
    src: toIpv4(spec.src, 'src'), dst: toIpv4(spec.dst, 'dst'), options: spec.options,
  });
  if (spec.checksum !== undefined) { buf[10] = spec.checksum >>> 8; buf[11] = spec.checksum & 0xff; }
  buf.set(p, hl);
  return buf;
}

export interface UdpSpec {
  srcPort: number;
  dstPort: number;
  /** For the pseudo-header checksum. */
  src: Addr;
  dst: Addr;
  /** 'none' sends 0; a number is put as is. Default: computed. */
  checksum?: 'none' | number;
  length?: number;
}

export function udp(spec: UdpSpec, data?: Uint8Array | string): Uint8Array {
  const d = bytesOf(data);
  const buf = new Uint8Array(8 + d.length);
  writeUdpHeader(buf, 0, spec.srcPort, spec.dstPort, spec.length ?? buf.length);
  buf.set(d, 8);
  if (spec.checksum === 'none') return buf;
  let c: number;
  if (typeof spec.checksum === 'number') c = spec.checksum;
  else {
    c = finishChecksum(sumWords(buf, 0, buf.length, pseudoHeaderSum(toIpv4(spec.src, 'src'), toIpv4(spec.dst, 'dst'), IP_PROTOCOL_UDP, buf.length)));
    if (c === 0) c = 0xffff;
  }
  buf[6] = c >>> 8; buf[7] = c & 0xff;
  return buf;
}

export interface IcmpSpec {
  type: number;
  code?: number;
  /** The 4 bytes after the checksum. */
  rest?: number;
  checksum?: number;
}

export function icmp(spec: IcmpSpec, data?: Uint8Array | string): Uint8Array {
  const d = bytesOf(data);
  const buf = new Uint8Array(8 + d.length);
  writeIcmpHeader(buf, 0, spec.type, spec.code ?? 0, spec.rest ?? 0);
  buf.set(d, 8);
  setIcmpChecksum(buf, 0, buf.length);
  if (spec.checksum !== undefined) { buf[2] = spec.checksum >>> 8; buf[3] = spec.checksum & 0xff; }
  return buf;
}

export const echoRequest = (id: number, seq: number, data?: Uint8Array | string): Uint8Array =>
  icmp({ type: ICMP_ECHO_REQUEST, rest: echoRest(id, seq) }, data);
export const echoReply = (id: number, seq: number, data?: Uint8Array | string): Uint8Array =>
  icmp({ type: ICMP_ECHO_REPLY, rest: echoRest(id, seq) }, data);

export interface ArpSpec {
  operation: 'request' | 'reply' | number;
  senderMac: MacAddress;
  senderIp: Addr;
  targetMac?: MacAddress;
  targetIp: Addr;
}

export function arp(spec: ArpSpec): Uint8Array {
  const buf = new Uint8Array(28);
  const op = spec.operation === 'request' ? ARP_REQUEST : spec.operation === 'reply' ? ARP_REPLY : spec.operation;
  writeArp(buf, 0, {
    operation: op, senderMac: spec.senderMac, senderIp: toIpv4(spec.senderIp, 'senderIp'),
    targetMac: spec.targetMac ?? (0 as MacAddress), targetIp: toIpv4(spec.targetIp, 'targetIp'),
  });
  return buf;
}

/** An ARP frame (Ethernet + ARP). */
export function arpFrame(eth: Omit<EthernetSpec, 'etherType'>, spec: ArpSpec): Uint8Array {
  return ethernet({ ...eth, etherType: ETHERTYPE_ARP }, arp(spec));
}

/** Splits an IP payload into fragment packets of at most `chunk` payload bytes each (a multiple of 8). */
export function fragments(spec: Omit<Ipv4Spec, 'moreFragments' | 'fragmentOffset'>, payload: Uint8Array, chunk: number): { offset: number; packet: Uint8Array }[] {
  if (chunk % 8 !== 0 || chunk <= 0) throw new RangeError('fragments: chunk must be a positive multiple of 8');
  const out: { offset: number; packet: Uint8Array }[] = [];
  for (let o = 0; o < payload.length; o += chunk) {
    const part = payload.subarray(o, Math.min(payload.length, o + chunk));
    out.push({ offset: o, packet: ipv4({ ...spec, fragmentOffset: o, moreFragments: o + chunk < payload.length }, part) });
  }
  return out;
}

export { internetChecksum, IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP };
