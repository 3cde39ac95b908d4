/**
 * ICMP: answers echo requests, sends pings and matches their replies, sends
 * rate-limited errors (never about errors, broadcasts or later fragments),
 * and turns received errors into `IcmpErrorInfo` for the transport that sent
 * the quoted datagram (PMTU is learned on the way, in the IP layer).
 */
import {
  ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_FRAGMENTATION_NEEDED, ICMP_HEADER_LENGTH,
  ICMP_HOST_UNREACHABLE, ICMP_NET_UNREACHABLE, ICMP_PARAMETER_PROBLEM, ICMP_PORT_UNREACHABLE, ICMP_PROTOCOL_UNREACHABLE,
  ICMP_REASSEMBLY_TIME_EXCEEDED, ICMP_TIME_EXCEEDED, IcmpHeader, echoRest, isIcmpError, parseIcmp, setIcmpChecksum,
  writeIcmpHeader,
} from '../wire/icmp';
import { IPV4_BROADCAST, Ipv4Address, isMulticastIpv4, readIpv4 } from '../wire/ipv4-address';
import { IPV4_MIN_HEADER, IPV4_MIN_MTU, IP_PROTOCOL_ICMP } from '../wire/ipv4';
import { countDrop, countError } from '../stats';
import type { Stack } from '../iface/stack';
import type { IcmpErrorInfo, IcmpErrorKind, IpPacketInfo, IpSendOptions, IpSendResult, PayloadWriter, TransportProtocol } from '../ip/types';
import { toIpv4 } from '../ip/routing';

export interface PingOptions {
  /** Payload bytes after the 8-byte ICMP header (default 56, like ping). */
  size?: number;
  /** ms to wait for the reply (default 3000). */
  timeout?: number;
  ttl?: number;
  dontFragment?: boolean;
  /** Send out of this device. */
  iface?: string;
}

export interface PingResult {
  /** Round-trip time in ms on the stack's clock. */
  rtt: number;
  /** TTL of the reply. */
  ttl: number;
  /** Payload bytes of the reply (after the ICMP header). */
  bytes: number;
  seq: number;
  from: Ipv4Address;
}

/** What the ICMP layer saw (for Phoenix's `network_event`: ping, pong, unreachable, timeout). */
export interface IcmpEvent {
  type: 'ping' | 'pong' | 'unreachable' | 'timeout';
  from: Ipv4Address;
  /** ICMP type and code as received. */
  icmpType: number;
  code: number;
}

export interface IcmpRateLimit {
  /** Errors per second, sustained. */
  perSecond: number;
  burst: number;
}

interface PendingPing {
  resolve(r: PingResult): void;
  reject(e: Error): void;
  sentAt: number;
  deadline: number;
}

const KIND_MESSAGES: Record<IcmpErrorKind, string> = {
  'net-unreachable': 'Destination net unreachable',
  'host-unreachable': 'Destination host unreachable',
  'protocol-unreachable': 'Destination protocol unreachable',
  'port-unreachable': 'Destination port unreachable',
  'fragmentation-needed': 'Frag needed and DF set',
  prohibited: 'Packet filtered',
  unreachable: 'Destination unreachable',
  'time-exceeded': 'Time to live exceeded',
  'reassembly-time-exceeded': 'Fragment reassembly time exceeded',
  'parameter-problem': 'Parameter problem',
};

const SEND_FAILURES: Record<Exclude<IpSendResult, 'sent' | 'queued'>, string> = {
  'no-route': 'Network is unreachable',
  unreachable: 'No route to host',
  prohibited: 'Permission denied (prohibited route)',
  blackholed: 'Invalid argument (blackhole route)',
  'too-big': 'Message too long',
  down: 'Network is down',
};

/** RFC 1191 plateaus, for "fragmentation needed" from routers that do not say the next-hop MTU. */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

export class IcmpLayer implements TransportProtocol {
  readonly protocol = IP_PROTOCOL_ICMP;
  /** Answer echo requests (ping). */
  replyToEcho = true;
  /** Answer echo requests sent to a broadcast address (off, as on Linux). */
  replyToBroadcastEcho = false;
  /** ICMP error messages sent. */
  errorsSent = 0;

  private readonly rx = new IcmpHeader();
  private readonly pings = new Map<number, PendingPing>();
  private readonly identifier: number;
  private seq = 0;
  private nextDeadline = Infinity;
  private readonly rate: IcmpRateLimit;
  private tokens: number;
  private tokensAt = 0;
  private listeners: ((e: IcmpEvent) => void)[] = [];
  private readonly event: IcmpEvent = { type: 'ping', from: 0 as Ipv4Address, icmpType: 0, code: 0 };
  private readonly error: IcmpErrorInfo = {
    type: 0, code: 0, kind: 'unreachable', from: 0 as Ipv4Address, mtu: 0, src: 0 as Ipv4Address, dst: 0 as Ipv4Address,
    protocol: 0, quote: new Uint8Array(0), quoteOffset: 0, quoteLength: 0, local: false,
  };
  private readonly writer = new MessageWriter();
  /** One options object for every send (no allocation per echo reply or error). */
  private readonly opts: IpSendOptions = { dst: 0 as Ipv4Address, protocol: IP_PROTOCOL_ICMP };

  constructor(private readonly stack: Stack, rate: Partial<IcmpRateLimit> = {}) {
    this.identifier = stack.rng.nextInt(65536);
    this.rate = { perSecond: 100, burst: 50, ...rate };
    this.tokens = this.rate.burst;
  }

  /** Listens to ICMP traffic (echo requests answered, replies, errors). Returns a function that stops listening. */
  onEvent(listener: (e: IcmpEvent) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }

  /** Sends an echo request and resolves with the reply's RTT (virtual or real ms). Rejects on timeout or error. */
  ping(dst: Ipv4Address | string, options: PingOptions = {}): Promise<PingResult> {
    const addr = toIpv4(dst, 'ping destination');
    const size = options.size ?? 56;
    if (!Number.isInteger(size) || size < 0 || size > 65507) throw new RangeError(`ping: size must be 0..65507, got ${size}`);
    const timeout = options.timeout ?? 3000;
    if (!(timeout > 0)) throw new RangeError(`ping: timeout must be > 0, got ${timeout}`);
    this.seq = (this.seq + 1) & 0xffff;
    const seq = this.seq;
    const now = this.stack.clock.now();
    return new Promise<PingResult>((resolve, reject) => {
      const w = this.writer;
      w.set(ICMP_ECHO_REQUEST, 0, echoRest(this.identifier, seq), null, 0, size);
      const res = this.stack.ip.send(this.options(addr, undefined, 0, options.ttl, options.dontFragment, options.iface), ICMP_HEADER_LENGTH + size, w);
      if (res !== 'sent' && res !== 'queued') {
        reject(new Error(`ping: ${SEND_FAILURES[res]}`));
        return;
      }
      this.stack.stats.icmp.tx++;
      this.pings.get(seq)?.reject(new Error('ping: sequence number reused'));
      this.pings.set(seq, { resolve, reject, sentAt: now, deadline: now + timeout });
      if (now + timeout < this.nextDeadline) this.nextDeadline = now + timeout;
      this.stack.wake();
    });
  }

  /** Sends an echo request without waiting (Phoenix's `control(ip, "ping")`); the reply shows up as a 'pong' event. */
  sendEcho(dst: Ipv4Address, identifier: number, sequence: number, data: Uint8Array = new Uint8Array(0), type = ICMP_ECHO_REQUEST): IpSendResult {
    const w = this.writer;
    w.set(type, 0, echoRest(identifier, sequence), data, 0, data.length);
    const res = this.stack.ip.send(this.options(dst), ICMP_HEADER_LENGTH + data.length, w);
    if (res === 'sent' || res === 'queued') this.stack.stats.icmp.tx++;
    return res;
  }

  /**
   * Sends an ICMP error about the datagram quoted in q[qOff, qOff+qLen) (its IP
   * header first). Nothing is sent about ICMP errors, broadcasts, multicasts,
   * non-first fragments or bogus sources; errors are rate-limited.
   */
  sendError(type: number, code: number, rest: number, q: Uint8Array, qOff: number, qLen: number, origBroadcast: boolean): void {
    const stats = this.stack.stats.icmp;
    if (qLen < IPV4_MIN_HEADER || origBroadcast) return;
    const src = readIpv4(q, qOff + 12);
    const dst = readIpv4(q, qOff + 16);
    if (src === 0 || src === IPV4_BROADCAST || isMulticastIpv4(src) || isMulticastIpv4(dst) || dst === IPV4_BROADCAST) return;
    if ((((q[qOff + 6] & 0x1f) << 8) | q[qOff + 7]) !== 0) return;
    const hl = (q[qOff] & 0x0f) * 4;
    if (q[qOff + 9] === IP_PROTOCOL_ICMP && (qLen <= hl || isIcmpError(q[qOff + hl]) || q[qOff + hl] > 18)) return;
    if (!this.takeToken()) { countDrop(stats, 'error-rate-limited'); return; }
    // At most 576 bytes in all (RFC 1812).
    const quoteLen = Math.min(qLen, 576 - IPV4_MIN_HEADER - ICMP_HEADER_LENGTH);
    const w = this.writer;
    w.set(type, code, rest >>> 0, q, qOff, quoteLen);
    const res = this.stack.ip.send(this.options(src, undefined, 0xc0), ICMP_HEADER_LENGTH + quoteLen, w);
    if (res === 'sent' || res === 'queued') { stats.tx++; this.errorsSent++; }
    else countDrop(stats, 'error-not-sent');
  }

  receive(info: IpPacketInfo, buf: Uint8Array, offset: number, length: number): void {
    const stats = this.stack.stats.icmp;
    // The checksum was verified by the IP layer (or the NIC).
    const h = parseIcmp(buf, offset, length, this.rx, false);
    if (typeof h === 'string') { countError(stats, h); return; }
    stats.rx++;
    switch (h.type) {
      case ICMP_ECHO_REQUEST: {
        if (!this.replyToEcho) { countDrop(stats, 'echo-disabled'); return; }
        if (info.broadcast && !this.replyToBroadcastEcho) { countDrop(stats, 'broadcast-echo'); return; }
        this.emit('ping', info.src, h.type, h.code);
        const w = this.writer;
        w.set(ICMP_ECHO_REPLY, 0, h.rest, buf, offset + ICMP_HEADER_LENGTH, length - ICMP_HEADER_LENGTH);
        const src = info.broadcast || !this.stack.isLocalAddress(info.dst) ? undefined : info.dst;
        const res = this.stack.ip.send(this.options(info.src, src, info.tos), length, w);
        if (res === 'sent' || res === 'queued') stats.tx++;
        else countDrop(stats, 'echo-reply-not-sent');
        return;
      }
      case ICMP_ECHO_REPLY: {
        this.emit('pong', info.src, h.type, h.code);
        const p = h.identifier === this.identifier ? this.pings.get(h.sequence) : undefined;
        if (p === undefined) { countDrop(stats, 'unmatched-echo-reply'); return; }
        this.pings.delete(h.sequence);
        p.resolve({ rtt: this.stack.clock.now() - p.sentAt, ttl: info.ttl, bytes: length - ICMP_HEADER_LENGTH, seq: h.sequence, from: info.src });
        return;
      }
      case ICMP_DEST_UNREACHABLE:
      case ICMP_TIME_EXCEEDED:
      case ICMP_PARAMETER_PROBLEM:
        this.receiveError(info, h, buf, offset, length);
        return;
      default:
        countDrop(stats, 'unhandled-type');
    }
  }

  private receiveError(info: IpPacketInfo, h: IcmpHeader, buf: Uint8Array, offset: number, length: number): void {
    const stats = this.stack.stats.icmp;
    const q = offset + ICMP_HEADER_LENGTH;
    const end = offset + length;
    if (end - q < IPV4_MIN_HEADER || buf[q] >>> 4 !== 4) { countError(stats, 'bad-quote'); return; }
    const hl = (buf[q] & 0x0f) * 4;
    if (hl < IPV4_MIN_HEADER || q + hl > end) { countError(stats, 'bad-quote'); return; }
    const src = readIpv4(buf, q + 12);
    if (!this.stack.isLocalAddress(src)) { countDrop(stats, 'error-not-ours'); return; }
    const kind = errorKind(h.type, h.code);
    this.emit(h.type === ICMP_TIME_EXCEEDED ? 'timeout' : 'unreachable', info.src, h.type, h.code);
    const e = this.error;
    e.type = h.type; e.code = h.code; e.kind = kind; e.from = info.src; e.local = false;
    e.src = src; e.dst = readIpv4(buf, q + 16); e.protocol = buf[q + 9];
    e.quote = buf; e.quoteOffset = q + hl; e.quoteLength = end - (q + hl);
    e.mtu = 0;
    if (kind === 'fragmentation-needed') {
      let mtu = h.nextHopMtu;
      const quotedTotal = (buf[q + 2] << 8) | buf[q + 3];
      if (mtu === 0 || mtu >= quotedTotal) {
        // Old router (RFC 1191 section 5): guess the next plateau below the datagram's size.
        mtu = PLATEAUS.find((p) => p < quotedTotal) ?? IPV4_MIN_MTU;
      }
      e.mtu = Math.max(IPV4_MIN_MTU, mtu);
    }
    this.stack.ip.dispatchIcmpError(e);
  }

  /** Errors about our own echo requests fail the matching ping. */
  receiveIcmpError(e: IcmpErrorInfo): void {
    if (e.quoteLength < ICMP_HEADER_LENGTH || e.quote[e.quoteOffset] !== ICMP_ECHO_REQUEST) return;
    const id = (e.quote[e.quoteOffset + 4] << 8) | e.quote[e.quoteOffset + 5];
    const seq = (e.quote[e.quoteOffset + 6] << 8) | e.quote[e.quoteOffset + 7];
    if (id !== this.identifier) return;
    const p = this.pings.get(seq);
    if (!p) return;
    this.pings.delete(seq);
    const err = new Error(`ping: ${KIND_MESSAGES[e.kind]}`) as Error & { kind: IcmpErrorKind; from: Ipv4Address };
    err.kind = e.kind;
    err.from = e.from;
    p.reject(err);
  }

  pollAt(): number {
    // The constant, not the field: a double read from a field is boxed afresh to be returned (per driver step).
    if (this.nextDeadline === Infinity) return Infinity;
    return this.nextDeadline;
  }

  poll(now: number): void {
    // Through pollAt: a double field read by code V8 has not optimised (this runs once per driver step,
    // pollAt more often) is boxed afresh on each read.
    if (now < this.pollAt()) return;
    let next = Infinity;
    for (const [seq, p] of this.pings) {
      if (p.deadline <= now) {
        this.pings.delete(seq);
        p.reject(Object.assign(new Error('ping: Request timed out'), { kind: 'timeout' }));
      } else if (p.deadline < next) next = p.deadline;
    }
    this.nextDeadline = next;
  }

  private options(dst: Ipv4Address, src?: Ipv4Address, tos = 0, ttl?: number, dontFragment?: boolean, iface?: string): IpSendOptions {
    const o = this.opts;
    o.dst = dst; o.src = src; o.tos = tos; o.ttl = ttl; o.dontFragment = dontFragment; o.iface = iface;
    return o;
  }

  private takeToken(): boolean {
    const now = this.stack.clock.now();
    const r = this.rate;
    this.tokens = Math.min(r.burst, this.tokens + ((now - this.tokensAt) * r.perSecond) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private emit(type: IcmpEvent['type'], from: Ipv4Address, icmpType: number, code: number): void {
    const ls = this.listeners;
    if (ls.length === 0) return;
    const e = this.event;
    e.type = type; e.from = from; e.icmpType = icmpType; e.code = code;
    for (let i = 0; i < ls.length; i++) ls[i](e);
  }
}

function errorKind(type: number, code: number): IcmpErrorKind {
  if (type === ICMP_TIME_EXCEEDED) return code === ICMP_REASSEMBLY_TIME_EXCEEDED ? 'reassembly-time-exceeded' : 'time-exceeded';
  if (type === ICMP_PARAMETER_PROBLEM) return 'parameter-problem';
  switch (code) {
    case ICMP_NET_UNREACHABLE: case 6: return 'net-unreachable';
    case ICMP_HOST_UNREACHABLE: case 7: return 'host-unreachable';
    case ICMP_PROTOCOL_UNREACHABLE: return 'protocol-unreachable';
    case ICMP_PORT_UNREACHABLE: return 'port-unreachable';
    case ICMP_FRAGMENTATION_NEEDED: return 'fragmentation-needed';
    case 9: case 10: case 13: return 'prohibited';
    default: return 'unreachable';
  }
}

/**
 * Writes one ICMP message: header + payload copied from a source range (or a
 * counting pattern when there is no source, for pings). Reused for every send.
 */
class MessageWriter implements PayloadWriter {
  private type = 0;
  private code = 0;
  private rest = 0;
  private src: Uint8Array | null = null;
  private srcOff = 0;

  set(type: number, code: number, rest: number, src: Uint8Array | null, srcOff: number, srcLen: number): void {
    this.type = type; this.code = code; this.rest = rest; this.src = src; this.srcOff = srcOff;
    void srcLen; // the message length given to ip.send decides how much is copied
  }

  writePayload(buf: Uint8Array, offset: number, length: number, _s: Ipv4Address, _d: Ipv4Address, offloaded?: boolean): void {
    writeIcmpHeader(buf, offset, this.type, this.code, this.rest);
    const n = length - ICMP_HEADER_LENGTH;
    const o = offset + ICMP_HEADER_LENGTH;
    const src = this.src;
    if (src !== null) {
      if (src === buf && this.srcOff < o && this.srcOff + n > this.srcOff) buf.copyWithin(o, this.srcOff, this.srcOff + n);
      else for (let i = 0; i < n; i++) buf[o + i] = src[this.srcOff + i];
    } else {
      for (let i = 0; i < n; i++) buf[o + i] = (i + 0x10) & 0xff;
    }
    this.src = null;
    if (!offloaded) setIcmpChecksum(buf, offset, length);
  }
}
