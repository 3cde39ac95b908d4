/**
 * IPv4 in and out: validation, local delivery (with reassembly and transport
 * checksum verification per offload), forwarding (off unless the stack is a
 * router), routing decisions, fragmentation on send (DF respected) and path
 * MTU learned from ICMP.
 */
import { BROADCAST_MAC, MacAddress, ZERO_MAC } from '@pnet/nic';
import { finishChecksum, pseudoHeaderSum, sumWords } from '../wire/checksum';
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_IPV4 } from '../wire/ethernet';
import {
  IPV4_BROADCAST, Ipv4Address, isMulticastIpv4, readIpv4,
} from '../wire/ipv4-address';
import {
  IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_MIN_HEADER, IPV4_MIN_MTU, IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP,
  Ipv4Header, parseIpv4Header, setIpv4Checksum, writeIpv4Simple,
} from '../wire/ipv4';
import {
  ICMP_ADMIN_PROHIBITED, ICMP_DEST_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED, ICMP_HOST_UNREACHABLE, ICMP_NET_UNREACHABLE,
  ICMP_PROTOCOL_UNREACHABLE, ICMP_TIME_EXCEEDED, ICMP_TTL_EXCEEDED, ICMP_REASSEMBLY_TIME_EXCEEDED,
} from '../wire/icmp';
import { ProtocolStats, countDrop, countError } from '../stats';
import type { NetworkInterface } from '../iface/network-interface';
import type { Stack } from '../iface/stack';
import { Reassembler, ReassemblyLimits, ReassemblyResult } from './reassembly';
import type {
  IcmpErrorInfo, IpPacketInfo, IpSendOptions, IpSendResult, PayloadWriter, RouteResult, TransportProtocol,
} from './types';

/** How long a learned path MTU is trusted (RFC 1191 suggests 10 minutes). */
const PMTU_LIFETIME = 600_000;
const MAX_IP_PAYLOAD = 65535 - IPV4_MIN_HEADER;

const REASSEMBLY_DROP: Record<Exclude<ReassemblyResult, 'complete' | 'incomplete'>, string> = {
  duplicate: 'fragment-duplicate', overlap: 'fragment-overlap', 'too-long': 'fragment-too-long',
  'bad-fragment': 'fragment-bad-length', 'no-memory': 'fragment-no-memory',
};

/**
 * Where the frame being built goes: filled by `linkTarget`, read by
 * `finishFrame`. Addresses travel in this object's (double) fields rather than
 * as arguments, so the hot path boxes no numbers.
 */
class LinkTarget {
  iface!: NetworkInterface;
  nextHop = 0 as Ipv4Address;
  /** The destination MAC; valid when `resolved`. */
  mac = 0 as MacAddress;
  resolved = false;
}

export class Ipv4Layer {
  /** Initial TTL of datagrams this host originates. */
  defaultTtl = 64;
  /** Datagrams forwarded (router mode). */
  forwarded = 0;
  /** Datagrams reassembled from fragments. */
  reassembled = 0;
  /** Datagrams fragmented on send or forward. */
  fragmented = 0;
  /** TCP super-segments cut into frames here (software GSO), and the frames they made. */
  gsoSent = 0;
  gsoFrames = 0;
  readonly reassembler: Reassembler;

  private readonly protocols: (TransportProtocol | undefined)[] = new Array(256).fill(undefined);
  private readonly registered: TransportProtocol[] = [];
  private readonly rxHeader = new Ipv4Header();
  private readonly info: IpPacketInfo;
  private readonly errorInfo: IcmpErrorInfo;
  private readonly pmtu = new Map<number, { mtu: number; expiresAt: number }>();
  private readonly rr: RouteResult;
  // The last routing decision (see routeFor); cacheGen -1: none yet.
  private cacheGen = -1;
  private cacheDst = 0;
  private cacheDevice: string | undefined = undefined;
  private cacheErr: Exclude<IpSendResult, 'sent' | 'queued' | 'too-big' | 'down'> | null = null;
  private cacheIface: NetworkInterface;
  private cacheSrc = 0 as Ipv4Address;
  private cacheNextHop = 0 as Ipv4Address;
  private cacheBroadcast = false;
  private cacheLocal = false;
  private readonly scratch = new Uint8Array(65535);
  private readonly lt = new LinkTarget();
  private nextId: number;
  // The datagram being delivered (for ICMP errors a transport raises about it).
  private curBuf: Uint8Array | null = null;
  private curOff = 0;
  private curLen = 0;
  private curBroadcast = false;
  private curIface: NetworkInterface | null = null;

  constructor(private readonly stack: Stack, reassembly: Partial<ReassemblyLimits> = {}) {
    this.nextId = stack.rng.nextInt(65536);
    this.reassembler = new Reassembler(reassembly);
    this.reassembler.onExpire = (quote, _src, reason) => {
      countDrop(this.stats, reason === 'timeout' ? 'reassembly-timeout' : 'reassembly-evicted');
      if (quote && reason === 'timeout') {
        this.stack.icmp.sendError(ICMP_TIME_EXCEEDED, ICMP_REASSEMBLY_TIME_EXCEEDED, 0, quote, 0, quote.length, false);
      }
    };
    const lo = stack.lo;
    this.info = { src: 0 as Ipv4Address, dst: 0 as Ipv4Address, protocol: 0, ttl: 0, tos: 0, iface: lo, broadcast: false };
    this.errorInfo = {
      type: 0, code: 0, kind: 'unreachable', from: 0 as Ipv4Address, mtu: 0, src: 0 as Ipv4Address, dst: 0 as Ipv4Address,
      protocol: 0, quote: this.scratch, quoteOffset: 0, quoteLength: 0, local: false,
    };
    this.rr = { iface: lo, src: 0 as Ipv4Address, mtu: 0, nextHop: 0 as Ipv4Address, broadcast: false, local: false };
    this.cacheIface = lo;
  }

  private get stats(): ProtocolStats {
    return this.stack.stats.ipv4;
  }

  // ---- the API of DESIGN.md ----

  /** Registers a transport for its protocol number (replacing any earlier one). */
  register(protocol: TransportProtocol): void {
    const n = protocol.protocol;
    if (!Number.isInteger(n) || n < 0 || n > 255) throw new RangeError(`bad protocol number ${n}`);
    const old = this.protocols[n];
    if (old) this.registered.splice(this.registered.indexOf(old), 1);
    this.protocols[n] = protocol;
    this.registered.push(protocol);
    this.stack.wake();
  }

  /** The transport registered for a protocol number. */
  protocol(n: number): TransportProtocol | undefined {
    return this.protocols[n];
  }

  /** Where a datagram to `dst` would go, or null when it would not (no route, unreachable, prohibit, blackhole). */
  route(dst: Ipv4Address, device?: string): RouteResult | null {
    const r = this.resolveRoute(dst, device);
    if (typeof r === 'string') return null;
    return { ...r, mtu: r.local ? r.mtu : Math.min(r.mtu, this.learnedPmtu(dst)) };
  }

  /** The path MTU towards `dst`: the route's MTU lowered by what ICMP taught us, never below 68. */
  pathMtu(dst: Ipv4Address): number {
    const r = this.resolveRoute(dst);
    const linkMtu = typeof r === 'string' ? 1500 : r.mtu;
    return Math.max(IPV4_MIN_MTU, Math.min(linkMtu, this.learnedPmtu(dst)));
  }

  /** The largest IPv4 packet the NIC behind `iface` segments itself (TSO), 0 when it does not. */
  tsoMaxBytes(iface: NetworkInterface): number {
    return iface.nic.capabilities.tsoMaxBytes ?? 0;
  }

  /**
   * The largest TCP super-segment IP cuts into MSS-sized frames itself for `iface` (software GSO,
   * `send`'s `segmentSize`): 0 when its NIC has TSO (the NIC does it).
   */
  gsoMaxBytes(iface: NetworkInterface): number {
    return (iface.nic.capabilities.tsoMaxBytes ?? 0) > 0 ? 0 : 65535;
  }

  /** Whether the NIC behind `iface` computes (tx) / verified (rx) checksums of this protocol. */
  checksumOffload(iface: NetworkInterface, protocol: 'tcp' | 'udp' | 'icmp'): { tx: boolean; rx: boolean } {
    return iface.checksumOffload(protocol);
  }

  /**
   * Sends one datagram of `length` payload bytes written by `writer`. Fragments
   * it when it exceeds the path MTU (unless `dontFragment`: then 'too-big').
   */
  send(opts: IpSendOptions, length: number, writer: PayloadWriter): IpSendResult {
    if (opts === null || typeof opts !== 'object') throw new TypeError('ip.send: options must be an object');
    const dst = opts.dst;
    if (typeof dst !== 'number' || !Number.isInteger(dst) || dst < 0 || dst > 0xffffffff) throw new TypeError(`ip.send: bad dst ${dst}`);
    if (!Number.isInteger(opts.protocol) || opts.protocol < 0 || opts.protocol > 255) throw new RangeError(`ip.send: bad protocol ${opts.protocol}`);
    if (!Number.isInteger(length) || length < 0 || length > MAX_IP_PAYLOAD) throw new RangeError(`ip.send: payload length must be 0..${MAX_IP_PAYLOAD}, got ${length}`);
    const ttl = opts.ttl ?? this.defaultTtl;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError(`ip.send: bad ttl ${ttl}`);
    const r = this.routeFor(dst | 0, opts.iface);
    if (typeof r === 'string') { countDrop(this.stats, r); return r; }
    const iface = r.iface;
    if (!iface.up) { countDrop(this.stats, 'down'); return 'down'; }
    // Addresses cross the calls below as int32 (`| 0`): a uint32 above 2^31 would be boxed at each.
    const src = ((opts.src ?? r.src) | 0) as Ipv4Address;
    const mtu = r.local || this.pmtu.size === 0 ? r.mtu : Math.min(r.mtu, this.learnedPmtu(dst));
    const tos = opts.tos ?? 0;
    const id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xffff;
    const segmentSize = opts.segmentSize ?? 0;
    if (segmentSize !== 0 && (!Number.isInteger(segmentSize) || segmentSize < 0 || segmentSize > MAX_IP_PAYLOAD)) {
      throw new RangeError(`ip.send: segmentSize must be an integer 0..${MAX_IP_PAYLOAD}, got ${segmentSize}`);
    }
    // TSO: a TCP segment of several MSS goes whole; the NIC cuts it into segments the path MTU takes.
    if (IPV4_MIN_HEADER + length <= mtu || (segmentSize > 0 && opts.protocol === IP_PROTOCOL_TCP &&
        segmentSize + IPV4_MIN_HEADER + 20 <= mtu && IPV4_MIN_HEADER + length <= (iface.nic.capabilities.tsoMaxBytes ?? 0))) {
      return this.sendWhole(r, src, (dst | 0) as Ipv4Address, opts.protocol, ttl, tos, id, opts.dontFragment === true, length, writer, segmentSize);
    }
    // Software GSO: the same super-segment cut here, each piece a frame of its own.
    if (segmentSize > 0 && opts.protocol === IP_PROTOCOL_TCP && writer.writeSegment !== undefined) {
      const hl = writer.gsoHeaderLength ?? 0;
      if (hl >= 20 && hl <= 60 && hl < length && hl + segmentSize + IPV4_MIN_HEADER <= mtu) {
        return this.sendSegments(r, src, (dst | 0) as Ipv4Address, ttl, tos, id, opts.dontFragment === true, hl, length - hl,
          segmentSize, writer);
      }
    }
    if (opts.dontFragment) { countDrop(this.stats, 'too-big'); return 'too-big'; }
    return this.sendFragments(r, src, (dst | 0) as Ipv4Address, opts.protocol, ttl, tos, id, mtu, length, writer);
  }

  // ---- receive ----

  /** An IPv4 packet arrived on `iface` (the Ethernet payload, possibly padded). */
  receive(iface: NetworkInterface, buf: Uint8Array, offset: number, length: number, linkBroadcast: boolean): void {
    const stats = this.stats;
    const h = parseIpv4Header(buf, offset, length, this.rxHeader, !iface.checksumOffload('ipv4').rx);
    if (typeof h === 'string') { countError(stats, h); return; }
    stats.rx++;
    const src = h.src, dst = h.dst;
    if (src === IPV4_BROADCAST || isMulticastIpv4(src)) { countError(stats, 'bad-source'); return; }
    if (!iface.loopback && ((src >>> 24) === 127 || (dst >>> 24) === 127)) { countDrop(stats, 'martian'); return; }
    let broadcast = false;
    let local: boolean;
    if (dst === IPV4_BROADCAST) { local = true; broadcast = true; }
    else if (iface.loopback || this.stack.isLocalAddress(dst)) local = true;
    else if (iface.ip !== 0 && dst === iface.broadcastAddress) { local = true; broadcast = true; }
    else if (isMulticastIpv4(dst)) { countDrop(stats, 'multicast'); return; }
    // An unconfigured interface takes UDP to any address: DHCP offers may be unicast to the address on offer.
    else local = iface.ip === 0 && h.protocol === IP_PROTOCOL_UDP;
    if (!local) {
      this.forward(iface, buf, offset, h, linkBroadcast);
      return;
    }
    const hl = h.headerLength;
    // The delivery's fields travel in `info` (reused; no numbers boxed across calls).
    const info = this.info;
    info.src = src; info.dst = dst; info.protocol = h.protocol; info.iface = iface; info.broadcast = broadcast;
    if (h.moreFragments || h.fragmentOffset !== 0) {
      const res = this.reassembler.add(h, buf, offset, offset + hl, h.totalLength - hl, this.stack.clock.now());
      if (res === 'incomplete') { this.stack.wake(); return; }
      if (res !== 'complete') { countDrop(stats, REASSEMBLY_DROP[res]); return; }
      const d = this.reassembler.completed!;
      this.reassembled++;
      const q = d.firstQuote!;
      info.ttl = d.ttl; info.tos = d.tos;
      this.deliver(linkBroadcast, d.buffer, 0, this.reassembler.completeLength, true, q, 0, q.length);
      return;
    }
    info.ttl = h.ttl; info.tos = h.tos;
    this.deliver(linkBroadcast, buf, offset + hl, h.totalLength - hl, false, buf, offset, h.totalLength);
  }

  /**
   * Answers the datagram being delivered right now with an ICMP error (a
   * transport calls this from `receive`, e.g. UDP's port unreachable).
   */
  rejectCurrent(type: number, code: number, rest = 0): void {
    if (this.curBuf === null) return;
    this.stack.icmp.sendError(type, code, rest, this.curBuf, this.curOff, this.curLen, this.curBroadcast);
  }

  /** The interface the datagram being delivered arrived on (null outside delivery). */
  get currentInterface(): NetworkInterface | null {
    return this.curIface;
  }

  /** Hands the datagram described by `this.info` to its transport. */
  private deliver(
    linkBroadcast: boolean, buf: Uint8Array, off: number, len: number, reassembled: boolean,
    qBuf: Uint8Array, qOff: number, qLen: number,
  ): void {
    const info = this.info;
    const protocol = info.protocol;
    const p = this.protocols[protocol];
    // No ICMP errors about link-layer broadcasts either (RFC 1122 3.2.2).
    this.curBuf = qBuf; this.curOff = qOff; this.curLen = qLen; this.curBroadcast = info.broadcast || linkBroadcast; this.curIface = info.iface;
    try {
      if (p === undefined) {
        countDrop(this.stats, 'unknown-protocol');
        this.rejectCurrent(ICMP_DEST_UNREACHABLE, ICMP_PROTOCOL_UNREACHABLE);
        return;
      }
      if (!this.transportChecksumOk(info, buf, off, len, reassembled)) {
        countError(this.protocolStats(protocol), 'bad-checksum');
        return;
      }
      p.receive(info, buf, off, len);
    } finally {
      this.curBuf = null;
      this.curIface = null;
    }
  }

  private protocolStats(protocol: number): ProtocolStats {
    switch (protocol) {
      case IP_PROTOCOL_ICMP: return this.stack.stats.icmp;
      case IP_PROTOCOL_UDP: return this.stack.stats.udp;
      case IP_PROTOCOL_TCP: return this.stack.stats.get('tcp');
      default: return this.stats;
    }
  }

  /** Verifies ICMP/TCP/UDP checksums unless the NIC did (never for reassembled datagrams: no NIC sees them whole). */
  private transportChecksumOk(info: IpPacketInfo, buf: Uint8Array, off: number, len: number, reassembled: boolean): boolean {
    const iface = info.iface;
    // Per-frame offload (`buf` is the NIC's ring slot): the kernel behind a TAP vouches for this one (its checksum may be partial).
    const nic = iface.nic;
    if (!reassembled && nic.rxChecksumOk !== undefined && nic.rxChecksumOk(buf)) return true;
    switch (info.protocol) {
      case IP_PROTOCOL_ICMP:
        if (!reassembled && iface.checksumOffload('icmp').rx) return true;
        return finishChecksum(sumWords(buf, off, len)) === 0;
      case IP_PROTOCOL_TCP:
        if (!reassembled && iface.checksumOffload('tcp').rx) return true;
        return finishChecksum(sumWords(buf, off, len, pseudoHeaderSum(info.src, info.dst, IP_PROTOCOL_TCP, len))) === 0;
      case IP_PROTOCOL_UDP: {
        if (!reassembled && iface.checksumOffload('udp').rx) return true;
        if (len < 8) return true; // UDP counts it as truncated
        if (buf[off + 6] === 0 && buf[off + 7] === 0) return true; // no checksum
        const ulen = (buf[off + 4] << 8) | buf[off + 5];
        if (ulen < 8 || ulen > len) return true; // UDP counts the bad length
        return finishChecksum(sumWords(buf, off, ulen, pseudoHeaderSum(info.src, info.dst, IP_PROTOCOL_UDP, ulen))) === 0;
      }
      default: return true;
    }
  }

  // ---- forwarding ----

  private forward(inIface: NetworkInterface, buf: Uint8Array, off: number, h: Ipv4Header, linkBroadcast: boolean): void {
    const stats = this.stats;
    if (!this.stack.forwarding) { countDrop(stats, 'not-for-us'); return; }
    if (linkBroadcast) { countDrop(stats, 'link-broadcast-not-forwarded'); return; }
    if (h.src === 0 || h.dst === 0) { countDrop(stats, 'bad-address'); return; }
    const total = h.totalLength;
    if (h.ttl <= 1) {
      countDrop(stats, 'ttl-exceeded');
      this.stack.icmp.sendError(ICMP_TIME_EXCEEDED, ICMP_TTL_EXCEEDED, 0, buf, off, total, false);
      return;
    }
    const r = this.routeFor(h.dst | 0);
    if (typeof r === 'string') {
      countDrop(stats, r);
      const code = r === 'no-route' ? ICMP_NET_UNREACHABLE : r === 'unreachable' ? ICMP_HOST_UNREACHABLE
        : r === 'prohibited' ? ICMP_ADMIN_PROHIBITED : -1;
      if (code >= 0) this.stack.icmp.sendError(ICMP_DEST_UNREACHABLE, code, 0, buf, off, total, false);
      return;
    }
    if (r.local || r.broadcast) { countDrop(stats, 'not-forwardable'); return; }
    const out = r.iface;
    if (!out.up) {
      countDrop(stats, 'down');
      this.stack.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_NET_UNREACHABLE, 0, buf, off, total, false);
      return;
    }
    if (total > out.mtu && h.dontFragment) {
      countDrop(stats, 'too-big');
      this.stack.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED, out.mtu, buf, off, total, false);
      return;
    }
    // The packet is ours until the ring slot is released: decrement TTL in place.
    buf[off + 8] = h.ttl - 1;
    setIpv4Checksum(buf, off, h.headerLength);
    this.forwarded++;
    void inIface;
    const resolved = this.linkTarget(r);
    if (total <= out.mtu) {
      const f = this.frameFor(out, resolved, total);
      copyBytes(buf, off, f.buf, f.offset, total);
      this.finishFrame(f.buf, total);
      return;
    }
    // Fragment a forwarded datagram: options are not copied (every fragment gets a 20-byte header).
    this.fragmented++;
    const hl = h.headerLength;
    const payload = total - hl;
    const maxData = (out.mtu - IPV4_MIN_HEADER) & ~7;
    const base = h.fragmentOffset;
    for (let p = 0; p < payload; p += maxData) {
      const n = Math.min(maxData, payload - p);
      const mf = p + n < payload || h.moreFragments;
      const frag = this.frameFor(out, resolved, IPV4_MIN_HEADER + n);
      const o = frag.offset;
      writeIpv4Simple(frag.buf, o, IPV4_MIN_HEADER + n, h.id, (mf ? IPV4_FLAG_MF : 0) | ((base + p) >>> 3), h.ttl - 1,
        h.protocol, h.src, h.dst, h.tos, !out.checksumOffload('ipv4').tx);
      copyBytes(buf, off + hl + p, frag.buf, o + IPV4_MIN_HEADER, n);
      this.finishFrame(frag.buf, IPV4_MIN_HEADER + n);
    }
  }

  // ---- send ----

  private sendWhole(
    r: RouteResult, src: Ipv4Address, dst: Ipv4Address, protocol: number, ttl: number, tos: number, id: number,
    df: boolean, length: number, writer: PayloadWriter, segmentSize = 0,
  ): IpSendResult {
    const iface = r.iface;
    const resolved = this.linkTarget(r);
    const total = IPV4_MIN_HEADER + length;
    const frame = this.frameFor(iface, resolved, total);
    const o = frame.offset;
    writeIpv4Simple(frame.buf, o, total, id, df ? IPV4_FLAG_DF : 0, ttl, protocol, src, dst, tos, !iface.checksumOffload('ipv4').tx);
    writer.writePayload(frame.buf, o + IPV4_MIN_HEADER, length, src, dst, this.transportOffloadTx(iface, protocol));
    return this.finishFrame(frame.buf, total, segmentSize);
  }

  /**
   * Cuts a TCP payload of `dataLength` data bytes behind an `hl`-byte header into frames of
   * `segmentSize` data bytes, as the segment-by-segment path would have sent them: consecutive
   * IP ids from `id`, the writer fills in each segment (sequence number, flags, data, checksum).
   * Route, ARP and offload are looked up once for all.
   */
  private sendSegments(
    r: RouteResult, src: Ipv4Address, dst: Ipv4Address, ttl: number, tos: number, id: number, df: boolean,
    hl: number, dataLength: number, segmentSize: number, writer: PayloadWriter,
  ): IpSendResult {
    const iface = r.iface;
    const resolved = this.linkTarget(r);
    const ipChecksum = !iface.checksumOffload('ipv4').tx;
    const offloaded = iface.checksumOffload('tcp').tx;
    const flags = df ? IPV4_FLAG_DF : 0;
    // The IP header's sum of the words all segments share; each adds its total length and id (the same checksum
    // as summing its header, without reading it back).
    const shared = (0x4500 | (tos & 0xff)) + flags + (((ttl & 0xff) << 8) | IP_PROTOCOL_TCP) +
      (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    let result: IpSendResult = 'sent';
    for (let p = 0; p < dataLength; p += segmentSize) {
      const n = dataLength - p < segmentSize ? dataLength - p : segmentSize;
      const total = IPV4_MIN_HEADER + hl + n;
      const frame = this.frameFor(iface, resolved, total);
      const buf = frame.buf, o = frame.offset;
      writeIpv4Simple(buf, o, total, id, flags, ttl, IP_PROTOCOL_TCP, src, dst, tos, false);
      if (ipChecksum) {
        let sum = shared + total + id;
        sum = (sum >>> 16) + (sum & 0xffff);
        sum = (sum >>> 16) + (sum & 0xffff);
        const c = ~sum & 0xffff;
        buf[o + 10] = c >>> 8; buf[o + 11] = c & 0xff;
      }
      writer.writeSegment!(buf, o + IPV4_MIN_HEADER, p, n, p + n >= dataLength, src, dst, offloaded);
      const res = this.finishFrame(buf, total);
      if (res !== 'sent') result = res;
      id = (id + 1) & 0xffff;
    }
    // send() took the first id.
    this.gsoFrames += Math.ceil(dataLength / segmentSize);
    this.nextId = id;
    this.gsoSent++;
    return result;
  }

  private sendFragments(
    r: RouteResult, src: Ipv4Address, dst: Ipv4Address, protocol: number, ttl: number, tos: number, id: number,
    mtu: number, length: number, writer: PayloadWriter,
  ): IpSendResult {
    const iface = r.iface;
    const scratch = this.scratch;
    // The NIC cannot checksum a datagram it only sees in pieces: the writer computes it.
    writer.writePayload(scratch, 0, length, src, dst, false);
    this.fragmented++;
    const resolved = this.linkTarget(r);
    const maxData = (mtu - IPV4_MIN_HEADER) & ~7;
    let result: IpSendResult = 'sent';
    for (let p = 0; p < length; p += maxData) {
      const n = Math.min(maxData, length - p);
      const mf = p + n < length;
      const frame = this.frameFor(iface, resolved, IPV4_MIN_HEADER + n);
      const o = frame.offset;
      writeIpv4Simple(frame.buf, o, IPV4_MIN_HEADER + n, id, (mf ? IPV4_FLAG_MF : 0) | (p >>> 3), ttl, protocol, src, dst, tos,
        !iface.checksumOffload('ipv4').tx);
      copyBytes(scratch, p, frame.buf, o + IPV4_MIN_HEADER, n);
      const res = this.finishFrame(frame.buf, IPV4_MIN_HEADER + n);
      if (res !== 'sent') result = res;
    }
    return result;
  }

  private transportOffloadTx(iface: NetworkInterface, protocol: number): boolean {
    switch (protocol) {
      case IP_PROTOCOL_TCP: return iface.checksumOffload('tcp').tx;
      case IP_PROTOCOL_UDP: return iface.checksumOffload('udp').tx;
      case IP_PROTOCOL_ICMP: return iface.checksumOffload('icmp').tx;
      default: return false;
    }
  }

  /** Fills `lt` for a route: the destination MAC, or resolved = false while ARP works on it. */
  private linkTarget(r: RouteResult): boolean {
    const lt = this.lt;
    lt.iface = r.iface;
    lt.nextHop = r.nextHop;
    if (r.iface.loopback) { lt.mac = ZERO_MAC; lt.resolved = true; }
    else if (r.broadcast) { lt.mac = BROADCAST_MAC; lt.resolved = true; }
    else lt.resolved = this.stack.arp.resolveInto(lt);
    return lt.resolved;
  }

  private readonly frame: { buf: Uint8Array; offset: number } = { buf: this.scratch, offset: 0 };

  /** Where to build an IP packet of `total` bytes: the NIC's tx buffer, or a fresh copy to queue behind ARP. */
  private frameFor(iface: NetworkInterface, resolved: boolean, total: number): { buf: Uint8Array; offset: number } {
    const f = this.frame;
    if (!resolved) { f.buf = new Uint8Array(total); f.offset = 0; }
    else { f.buf = iface.nic.txBuffer(); f.offset = ETHERNET_HEADER_LENGTH; }
    return f;
  }

  /** Sends (or queues behind ARP) the packet built by `frameFor` for the current `lt`. */
  private finishFrame(buf: Uint8Array, total: number, segmentSize = 0): IpSendResult {
    const lt = this.lt;
    const iface = lt.iface;
    if (!lt.resolved) {
      this.stack.arp.enqueue(iface, lt.nextHop, buf);
      return 'queued';
    }
    // The Ethernet header, written here so the two 48-bit addresses are never passed (boxed) to a call.
    const dst = lt.mac;
    let hi = Math.floor(dst / 4294967296), lo = dst >>> 0;
    buf[0] = hi >>> 8; buf[1] = hi & 0xff; buf[2] = lo >>> 24; buf[3] = (lo >>> 16) & 0xff; buf[4] = (lo >>> 8) & 0xff; buf[5] = lo & 0xff;
    const src = iface.nic.capabilities.mac;
    hi = Math.floor(src / 4294967296); lo = src >>> 0;
    buf[6] = hi >>> 8; buf[7] = hi & 0xff; buf[8] = lo >>> 24; buf[9] = (lo >>> 16) & 0xff; buf[10] = (lo >>> 8) & 0xff; buf[11] = lo & 0xff;
    buf[12] = ETHERTYPE_IPV4 >>> 8; buf[13] = ETHERTYPE_IPV4 & 0xff;
    if (iface.nic.transmit(buf, ETHERNET_HEADER_LENGTH + total, segmentSize)) {
      this.stats.tx++;
      this.stack.stats.ethernet.tx++;
      return 'sent';
    }
    countDrop(this.stats, 'nic-tx-failed');
    return iface.nic.linkUp ? 'sent' : 'down';
  }

  // ---- routing ----

  /** The routing decision for `dst` (optionally only out of `device`), or why there is none. Reuses one object. */
  resolveRoute(dst: Ipv4Address, device?: string): RouteResult | Exclude<IpSendResult, 'sent' | 'queued' | 'too-big' | 'down'> {
    return this.routeFor(dst | 0, device);
  }

  /**
   * `resolveRoute` taking the address as an int32 (`dst | 0`): a small integer crosses the call unboxed.
   * The last decision is kept under the routing generation (bumped on any route or interface address
   * change), so a run of segments to one peer skips the table walk; a stale decision is never used.
   */
  private routeFor(dstI32: number, device?: string): RouteResult | Exclude<IpSendResult, 'sent' | 'queued' | 'too-big' | 'down'> {
    const gen = this.stack.routes.generation;
    if (dstI32 === this.cacheDst && device === this.cacheDevice && gen === this.cacheGen) {
      const err = this.cacheErr;
      if (err !== null) return err;
      const rr = this.rr, iface = this.cacheIface;
      rr.iface = iface;
      rr.src = this.cacheSrc;
      rr.mtu = iface.mtu; // read each time: the NIC's MTU is not under the generation
      rr.nextHop = this.cacheNextHop;
      rr.broadcast = this.cacheBroadcast;
      rr.local = this.cacheLocal;
      return rr;
    }
    const r = this.routeSlow(dstI32, device);
    // The limited broadcast picks an interface that is up: link state is not under the generation.
    if (dstI32 !== (IPV4_BROADCAST | 0)) {
      this.cacheDst = dstI32;
      this.cacheDevice = device;
      this.cacheGen = gen;
      if (typeof r === 'string') this.cacheErr = r;
      else {
        this.cacheErr = null;
        this.cacheIface = r.iface; this.cacheSrc = r.src; this.cacheNextHop = r.nextHop;
        this.cacheBroadcast = r.broadcast; this.cacheLocal = r.local;
      }
    }
    return r;
  }

  private routeSlow(dstI32: number, device?: string): RouteResult | Exclude<IpSendResult, 'sent' | 'queued' | 'too-big' | 'down'> {
    const dst = (dstI32 >>> 0) as Ipv4Address;
    const stack = this.stack;
    const rr = this.rr;
    rr.local = false;
    rr.broadcast = false;
    let bound: NetworkInterface | undefined;
    if (device !== undefined) {
      bound = stack.interface(device);
      if (!bound) throw new Error(`No such device: ${device}`);
      if (dst === IPV4_BROADCAST || (bound.ip !== 0 && dst === bound.broadcastAddress)) return this.fill(bound, dst, true);
      if (bound.loopback) return this.fillLocal(dst);
    }
    const route = stack.routes.lookup(dst, device);
    if (dst === IPV4_BROADCAST) {
      // The limited broadcast never goes to a gateway: it is a link-layer broadcast out of the route's device
      // (or the first interface that is up).
      let out: NetworkInterface | undefined;
      if (route !== null && route.device !== undefined) out = stack.interface(route.device);
      else if (route !== null && route.destination !== undefined) out = stack.interfaces.find((i) => !i.loopback && i.onLink(route.destination!));
      if (out === undefined || out.loopback) out = stack.interfaces.find((i) => !i.loopback && i.up);
      return out ? this.fill(out, dst, true) : 'no-route';
    }
    if (route === null) {
      if (stack.isLocalAddress(dst)) return this.fillLocal(dst);
      return 'no-route';
    }
    switch (route.action) {
      case 'unreachable': return 'unreachable';
      case 'prohibit': return 'prohibited';
      case 'blackhole': return 'blackholed';
      case 'local': return this.fillLocal(dst);
      case 'broadcast': {
        const iface = route.device !== undefined ? stack.interface(route.device) : bound;
        return iface ? this.fill(iface, dst, true) : 'no-route';
      }
      case 'unicast': {
        const nextHop = route.destination ?? dst;
        let iface: NetworkInterface | undefined;
        if (route.device !== undefined) iface = stack.interface(route.device);
        else iface = stack.interfaces.find((i) => !i.loopback && i.onLink(nextHop));
        if (!iface || (bound !== undefined && iface !== bound)) return 'no-route';
        if (iface.loopback) return this.fillLocal(dst);
        const r = this.fill(iface, nextHop, dst === IPV4_BROADCAST || (iface.ip !== 0 && dst === iface.broadcastAddress));
        return r;
      }
    }
  }

  private fill(iface: NetworkInterface, nextHop: Ipv4Address, broadcast: boolean): RouteResult {
    const rr = this.rr;
    rr.iface = iface;
    rr.src = iface.ip;
    rr.mtu = iface.mtu;
    rr.nextHop = nextHop;
    rr.broadcast = broadcast;
    rr.local = false;
    return rr;
  }

  private fillLocal(dst: Ipv4Address): RouteResult {
    const lo = this.stack.lo;
    const rr = this.fill(lo, dst, false);
    rr.local = true;
    rr.src = this.stack.isLocalAddress(dst) && (dst >>> 24) !== 127 ? dst : lo.ip;
    return rr;
  }

  // ---- path MTU ----

  private learnedPmtu(dst: Ipv4Address): number {
    if (this.pmtu.size === 0) return 65535; // the usual case: no Map look-up per datagram sent
    const e = this.pmtu.get(dst);
    if (e === undefined) return 65535;
    if (e.expiresAt <= this.stack.clock.now()) { this.pmtu.delete(dst); return 65535; }
    return e.mtu;
  }

  /** Lowers the path MTU towards `dst` (never below 68); returns the value now in force. */
  learnPathMtu(dst: Ipv4Address, mtu: number): number {
    const clamped = Math.max(IPV4_MIN_MTU, Math.floor(mtu));
    const current = this.learnedPmtu(dst);
    if (clamped < current) this.pmtu.set(dst, { mtu: clamped, expiresAt: this.stack.clock.now() + PMTU_LIFETIME });
    return Math.min(clamped, current);
  }

  // ---- errors ----

  /**
   * An ICMP error about a datagram we sent (from the ICMP layer), or a local
   * one: learns the path MTU, then tells the transport that sent it.
   */
  dispatchIcmpError(e: IcmpErrorInfo): void {
    if (e.kind === 'fragmentation-needed') e.mtu = this.learnPathMtu(e.dst, e.mtu);
    const p = this.protocols[e.protocol];
    if (p?.receiveIcmpError) p.receiveIcmpError(e);
  }

  /** ARP could not resolve the next hop of `packet` (an IPv4 packet we built or forwarded). */
  hostUnreachable(packet: Uint8Array): void {
    if (packet.length < IPV4_MIN_HEADER) return;
    const hl = (packet[0] & 0x0f) * 4;
    const src = readIpv4(packet, 12);
    const fragOffset = ((packet[6] & 0x1f) << 8) | packet[7];
    if (src === 0 || this.stack.isLocalAddress(src)) {
      if (fragOffset !== 0) return; // the first fragment carries the transport header; report once
      const e = this.errorInfo;
      e.type = ICMP_DEST_UNREACHABLE; e.code = ICMP_HOST_UNREACHABLE; e.kind = 'host-unreachable';
      e.from = src; e.mtu = 0; e.src = src; e.dst = readIpv4(packet, 16); e.protocol = packet[9];
      e.quote = packet; e.quoteOffset = hl; e.quoteLength = packet.length - hl; e.local = true;
      this.dispatchIcmpError(e);
    } else {
      this.stack.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_HOST_UNREACHABLE, 0, packet, 0, packet.length, false);
    }
  }

  // ---- timers ----

  pollAt(): number {
    let t = this.reassembler.pollAt();
    const regs = this.registered;
    for (let i = 0; i < regs.length; i++) {
      const p = regs[i];
      if (p.pollAt) {
        const x = p.pollAt();
        if (x < t) t = x;
      }
    }
    return t;
  }

  poll(now: number): void {
    this.reassembler.poll(now);
    const regs = this.registered;
    for (let i = 0; i < regs.length; i++) regs[i].poll?.(now);
  }
}

/** Copies src[from, from+n) to dst[at..] without creating a subarray view (no allocation per frame). */
function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
}
