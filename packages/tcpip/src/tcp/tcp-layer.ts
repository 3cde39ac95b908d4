/**
 * The TCP layer of a stack: demultiplexes segments to connections and listeners, answers closed
 * ports with RST, allocates ports, and drives every connection's timers from one heap (one clock
 * wake-up for the whole layer). Implements DESIGN.md's TransportProtocol (`protocol`, `receive`,
 * `receiveIcmpError`, `pollAt`, `poll`).
 */
import type { Clock, Rng, TimerHandle } from '@pnet/nic';
import { DEFAULT_TCP_CONFIG, TcpConfig, resolveTcpConfig } from './config';
import { TcpConnection, TcpConnectionIo, TcpCounters } from './connection';
import { TcpError, TcpErrorCode } from './errors';
import { IsnGenerator } from './isn';
import { SeqNum, seq } from './seq';
import { DeadlineFifo, TimerHeap } from './timer-heap';
import { TimeWaitRecord } from './time-wait';
import { TcpServer, TcpSocket, TcpSocketOptions } from './socket';
import { objectArray } from './object-array';
import {
  TCP_ACK, TCP_FIN, TCP_HEADER_LENGTH, TCP_PROTOCOL, TCP_PSH, TCP_RST, TCP_SYN, TcpOptionSet, TcpSegmentView,
  parseTcp, tcpChecksum, tcpOptionsLength, writeTcpChecksum, writeTcpHeaderRaw, writeTcpOptions,
} from '../wire/tcp';
import { IPV4_ANY, Ipv4Address, formatIpv4, isMulticastIpv4, parseIpv4 } from '../wire/ipv4-address';

/** Writes a transport payload into the frame IP is building (DESIGN.md). */
export interface TcpPayloadWriter {
  writePayload(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address, checksumOffloaded?: boolean): void;
  /** Software GSO (DESIGN.md's PayloadWriter): the header length of each segment, and the writer of one. */
  gsoHeaderLength?: number;
  writeSegment?(buf: Uint8Array, offset: number, dataOffset: number, dataLength: number, last: boolean, src: Ipv4Address,
    dst: Ipv4Address, checksumOffloaded: boolean): void;
}

export interface TcpIpSendOptions {
  dst: Ipv4Address;
  protocol: number;
  src?: Ipv4Address;
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
  iface?: string;
  /** TSO: the MSS a payload longer than the MTU allows is cut into by the NIC (or by IP: software GSO). */
  segmentSize?: number;
}

export interface TcpRoute {
  iface: unknown;
  src: Ipv4Address;
  mtu: number;
}

/** The part of a Stack that TCP uses (a Stack satisfies it structurally: `new TcpLayer(stack)`). */
export interface TcpHost {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ip: {
    send(opts: TcpIpSendOptions, length: number, writer: TcpPayloadWriter): string;
    route(dst: Ipv4Address): TcpRoute | null;
    pathMtu(dst: Ipv4Address): number;
    checksumOffload(iface: unknown, protocol: 'tcp'): { tx: boolean; rx: boolean };
    /** The largest IPv4 packet the interface's NIC segments itself (TSO); absent or 0: none. */
    tsoMaxBytes?(iface: unknown): number;
    /** The largest super-segment IP cuts into MSS-sized frames itself (software GSO); absent or 0: none. */
    gsoMaxBytes?(iface: unknown): number;
    /** The layer registers itself when the host has this (a Stack does). */
    register?(protocol: TcpLayer): void;
  };
  /** Tells the host's driver that pollAt() may have moved earlier (a Stack has it). */
  wake?(): void;
  /** The Stack's per-protocol counters: TCP mirrors rx/tx, drops and errors into `stats.get('tcp')`. */
  readonly stats?: { get(name: string): HostProtocolStats };
}

export interface HostProtocolStats {
  rx: number;
  tx: number;
  drops: Record<string, number>;
  errors: Record<string, number>;
}

/** Reasons that mean the input was malformed (an error), not merely unwanted (a drop). */
const MALFORMED = new Set(['truncated', 'bad-data-offset', 'bad-option', 'checksum', 'port-zero', 'icmp-short']);

/** What IP tells us about a received datagram (DESIGN.md IpPacketInfo). */
export interface TcpPacketInfo {
  src: Ipv4Address;
  dst: Ipv4Address;
  iface: unknown;
  broadcast: boolean;
}

/** An ICMP error quoting one of our segments (the fields of DESIGN.md's IcmpErrorInfo that TCP reads). */
export interface TcpIcmpError {
  /** ICMP type: 3 destination unreachable, 11 time exceeded, 12 parameter problem. */
  type: number;
  code: number;
  kind?: string;
  /** Next-hop MTU for "fragmentation needed" (type 3 code 4), else 0. */
  mtu: number;
  /** Addresses of the quoted (original) datagram: src is us. */
  src: Ipv4Address;
  dst: Ipv4Address;
  /** The quoted transport header (at least 8 bytes): ports and sequence number. */
  quote: Uint8Array;
  quoteOffset: number;
  quoteLength: number;
  /** Raised locally (ARP failed): a soft error. */
  local?: boolean;
}

export interface TcpLayerStats extends TcpCounters {
  rx: number;
  tx: number;
  drops: number;
  errors: Record<string, number>;
  activeOpens: number;
  passiveOpens: number;
  connections: number;
  /** Segments the host handed over by GRO (`groReceive`): headers matched the previous fast-path segment's. */
  groSegments: number;
}

export interface TcpConnectOptions {
  host: Ipv4Address | string;
  port: number;
  localAddress?: Ipv4Address | string;
  localPort?: number;
}

export interface TcpListenOptions {
  port: number;
  address?: Ipv4Address | string;
  backlog?: number;
}

/** A listening endpoint (RFC 9293 LISTEN) with its SYN queue and accept queue. */
export class TcpListener {
  readonly synQueue = new Set<TcpConnection>();
  readonly acceptQueue: TcpConnection[] = objectArray<TcpConnection>();
  closed = false;
  /** Called (synchronously) when the accept queue gains a connection. */
  onAcceptable: (() => void) | null = null;

  constructor(readonly address: Ipv4Address, readonly port: number, readonly backlog: number) {}

  /** RFC 9293 LISTEN while open. */
  get state(): 'LISTEN' | 'CLOSED' {
    return this.closed ? 'CLOSED' : 'LISTEN';
  }

  /** Takes the oldest established connection, if any. */
  accept(): TcpConnection | null {
    const c = this.acceptQueue.shift() ?? null;
    if (c) c.listener = null;
    return c;
  }
}

class SegmentWriter implements TcpPayloadWriter {
  conn: TcpConnection | null = null;
  srcPort = 0;
  dstPort = 0;
  flags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  options: TcpOptionSet | null = null;
  optionsLength = 0;
  dataPos = 0;
  dataLength = 0;
  /** Header + options: the same in every segment IP cuts a super-segment into (software GSO). */
  gsoHeaderLength = TCP_HEADER_LENGTH;
  writePayload(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address, checksumOffloaded?: boolean): void {
    writeTcpHeaderRaw(buf, offset, this.srcPort, this.dstPort, this.seq, this.ack, this.flags, this.window, this.optionsLength);
    if (this.options) writeTcpOptions(buf, offset + TCP_HEADER_LENGTH, this.options);
    if (this.dataLength > 0 && this.conn) {
      this.conn.sendBuffer.copyOut(this.dataPos, buf, offset + TCP_HEADER_LENGTH + this.optionsLength, this.dataLength);
    }
    // With offload the NIC fills the checksum in (the field stays 0).
    if (!checksumOffloaded) writeTcpChecksum(buf, offset, length, src, dst);
  }

  /** One segment of a super-segment (software GSO): what `transmit` would have had written for it alone. */
  writeSegment(buf: Uint8Array, offset: number, dataOffset: number, dataLength: number, last: boolean, src: Ipv4Address,
    dst: Ipv4Address, checksumOffloaded: boolean): void {
    const conn = this.conn;
    if (conn === null) throw new Error('SegmentWriter.writeSegment: no connection (a super-segment without data)');
    const hl = this.gsoHeaderLength;
    // PSH and FIN end the data: only the last segment carries them.
    writeTcpHeaderRaw(buf, offset, this.srcPort, this.dstPort, (this.seq + dataOffset) | 0, this.ack,
      last ? this.flags : this.flags & ~(TCP_PSH | TCP_FIN), this.window, this.optionsLength);
    if (this.options) writeTcpOptions(buf, offset + TCP_HEADER_LENGTH, this.options);
    conn.sendBuffer.copyOut(this.dataPos + dataOffset, buf, offset + hl, dataLength);
    if (!checksumOffloaded) writeTcpChecksum(buf, offset, hl + dataLength, src, dst);
  }
}

/**
 * The demux hash of a 4-tuple: a small integer (a V8 Smi, so the Map neither allocates nor hashes
 * a heap number per segment), mixed with a per-layer secret so a peer cannot aim its ports at one
 * chain. Connections with equal hashes are chained through `demuxNext`.
 */
export function demuxKey(salt: number, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
  let h = Math.imul(remoteIp ^ salt, 0x9e3779b1) ^ Math.imul(((remotePort << 16) | localPort) ^ localIp, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 13)) & 0x3fffffff;
}

export class TcpLayer implements TcpConnectionIo {
  readonly protocol = TCP_PROTOCOL;
  readonly config: TcpConfig;
  readonly stats: TcpLayerStats;
  readonly counters: TcpCounters;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly isn: IsnGenerator;
  /**
   * Demux: the first connection of each chain (`demuxNext`), by the low bits of the 4-tuple's hash.
   * A table of our own rather than a Map keyed by the hash: a lookup is one array load, and insert
   * and remove touch one slot (with thousands of TIME-WAIT records the Map's get/set/delete were
   * ~5 % of a short connection's CPU). It doubles when it holds more entries than half its slots (short chains).
   */
  private demux: (TcpConnection | TimeWaitRecord | null)[] = new Array<TcpConnection | TimeWaitRecord | null>(DEMUX_MIN_SLOTS).fill(null);
  private demuxMask = DEMUX_MIN_SLOTS - 1;
  /** The connection `lookup` found last; cleared when it leaves the demux (unlink). */
  private lastLookup: TcpConnection | TimeWaitRecord | null = null;
  private readonly demuxSalt: number;
  private readonly listeners = new Map<number, TcpListener[]>();
  private readonly portUse = new Map<number, number>();
  /**
   * RFC 6056 3.3.4's table of counters for the ephemeral port search (`ephemeralPort`), made on
   * the first active open (128 KiB: a host that only listens never pays for it).
   */
  private portCounters: Uint16Array | null = null;
  private readonly heap = new TimerHeap<TcpConnection>();
  /** TIME-WAIT connections, in deadline order (all wait the same time). */
  private readonly timeWait = new DeadlineFifo<TcpConnection | TimeWaitRecord>();
  private readonly seg = new TcpSegmentView();
  private readonly writer = new SegmentWriter();
  /** DF on every segment: TCP does path MTU discovery (RFC 1191) instead of relying on fragmentation. */
  private readonly sendOpts: TcpIpSendOptions = { dst: IPV4_ANY, protocol: TCP_PROTOCOL, dontFragment: true };
  private wakeHandle: TimerHandle = 0;
  private wakeAt = Infinity;
  /** The clock for connections: one function shared by all, not a closure per connection. */
  private readonly nowFn = (): number => this.clock.now();
  private readonly wakeFn = (): void => {
    this.wakeHandle = 0;
    this.wakeAt = Infinity;
    this.poll(this.clock.now());
  };
  private readonly hostStats: HostProtocolStats | null;
  private readonly hostWake: (() => void) | null;
  private polling = false;
  /** In a receive batch (beginBatch..endBatch) with coalesceAcks: in-order data defers its ACK to the end. */
  private inBatch = false;
  /** Connections with a deferred ACK, flushed by endBatch (slots nulled after, reused). */
  private readonly ackQueue: (TcpConnection | null)[] = objectArray<TcpConnection | null>();
  private ackQueueLength = 0;
  private challengeWindowStart = -Infinity;
  private challengeCount = 0;
  private connCount = 0;

  constructor(readonly host: TcpHost, config: Partial<TcpConfig> = {}) {
    this.config = resolveTcpConfig(config);
    this.clock = host.clock;
    this.rng = host.rng;
    this.isn = new IsnGenerator(this.rng);
    this.demuxSalt = this.isn.salt; // secret, and no draw from the Rng (the simulation's sequence stays as it was)
    const counters: TcpCounters = {
      segmentsIn: 0, segmentsOut: 0, retransmits: 0, fastRetransmits: 0, timeouts: 0, challengeAcks: 0, rstIn: 0,
      rstOut: 0, pawsDrops: 0, outOfWindow: 0, zeroWindowProbes: 0, keepAliveProbes: 0, dupAcks: 0, oooSegments: 0,
      dsacks: 0, sackRetransmits: 0, fastPathSegments: 0,
    };
    this.stats = Object.assign(counters, {
      rx: 0, tx: 0, drops: 0, errors: {} as Record<string, number>, activeOpens: 0, passiveOpens: 0, connections: 0,
      groSegments: 0,
    });
    this.counters = this.stats;
    this.hostStats = host.stats && typeof host.stats.get === 'function' ? host.stats.get('tcp') : null;
    this.hostWake = typeof host.wake === 'function' && typeof host.ip.register === 'function' ? () => host.wake!() : null;
    if (this.config.ttl !== undefined) this.sendOpts.ttl = this.config.ttl;
    if (typeof host.ip.register === 'function') host.ip.register(this);
  }

  static readonly defaults = DEFAULT_TCP_CONFIG;

  // ------------------------------------------------------------------ user API

  /** Opens a connection and returns its Node-compatible socket. */
  connect(opts: TcpConnectOptions, socketOptions: TcpSocketOptions = {}): TcpSocket {
    const { host, port } = opts;
    try {
      const conn = this.open(opts);
      return new TcpSocket(this, conn, { ...socketOptions, connecting: true });
    } catch (e) {
      if (!(e instanceof TcpError)) throw e;
      // Runtime failures (no route) surface as an 'error' event, as in Node.
      const sock = new TcpSocket(this, null, { ...socketOptions, connecting: true });
      e.syscall = 'connect';
      e.address = typeof host === 'string' ? host : formatIpv4(host);
      e.port = port;
      process.nextTick(() => sock.destroy(e));
      return sock;
    }
  }

  /** Starts listening; returns a Node-like server emitting 'connection' with TcpSockets. */
  listen(opts: TcpListenOptions, socketOptions: TcpSocketOptions = {}): TcpServer {
    const listener = this.openListener(opts);
    return new TcpServer(this, listener, socketOptions);
  }

  /** Active open without a socket (sans-stream use): returns the connection in SYN-SENT. */
  open(opts: TcpConnectOptions, events?: TcpConnection['events']): TcpConnection {
    const dst = toAddress(opts.host, 'host');
    checkPort(opts.port, 'port', false);
    if (dst === IPV4_ANY || isMulticastIpv4(dst) || dst === 0xffffffff) throw new TypeError(`cannot connect to ${formatIpv4(dst)}`);
    const route = this.host.ip.route(dst);
    if (!route) throw new TcpError('EHOSTUNREACH');
    const local = opts.localAddress !== undefined ? toAddress(opts.localAddress, 'localAddress') : route.src;
    let localPort: number;
    if (opts.localPort !== undefined && opts.localPort !== 0) {
      checkPort(opts.localPort, 'localPort', false);
      if (this.lookup(local, opts.localPort, dst, opts.port)) throw new TcpError('EADDRINUSE');
      localPort = opts.localPort;
    } else {
      localPort = this.ephemeralPort(local, dst, opts.port);
    }
    const conn = this.createConnection(local, localPort, dst, opts.port, route);
    if (events) conn.events = events;
    this.stats.activeOpens++;
    conn.openActive(this.isn.next(this.clock.now(), local, localPort, dst, opts.port), this.advMss(route.mtu), this.isn.tsOffset(local, dst));
    return conn;
  }

  /** Starts a listener without a server object (sans-stream use). */
  openListener(opts: TcpListenOptions): TcpListener {
    const address = opts.address !== undefined ? toAddress(opts.address, 'address') : IPV4_ANY;
    let port = opts.port ?? 0;
    checkPort(port, 'port', true);
    const backlog = opts.backlog ?? this.config.backlog;
    if (!Number.isInteger(backlog) || backlog < 0) throw new RangeError(`backlog must be an integer >= 0, got ${backlog}`);
    if (port === 0) port = this.ephemeralPort(address, IPV4_ANY, 0);
    const list = this.listeners.get(port) ?? [];
    for (const l of list) {
      if (l.address === IPV4_ANY || address === IPV4_ANY || l.address === address) {
        throw new TcpError('EADDRINUSE', `${formatIpv4(address)}:${port}`);
      }
    }
    const listener = new TcpListener(address, port, Math.max(1, backlog));
    list.push(listener);
    this.listeners.set(port, list);
    this.usePort(port, 1);
    return listener;
  }

  /** Stops a listener; connections it had not handed out are reset. */
  closeListener(listener: TcpListener): void {
    if (listener.closed) return;
    listener.closed = true;
    const list = this.listeners.get(listener.port);
    if (list) {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.listeners.delete(listener.port);
    }
    this.usePort(listener.port, -1);
    for (const c of [...listener.synQueue, ...listener.acceptQueue]) c.abort();
    listener.synQueue.clear();
    listener.acceptQueue.length = 0;
  }

  /** Live connections (any state but CLOSED, including TIME-WAIT). */
  connections(): TcpConnection[] {
    const out: TcpConnection[] = [];
    for (let i = 0; i < this.demux.length; i++) {
      // A TIME-WAIT record becomes a connection again: the caller may act on it (abort ends TIME-WAIT).
      for (let c = this.demux[i]; c; c = c.demuxNext!) out.push(c instanceof TimeWaitRecord ? (c = this.expand(c)) : c);
    }
    return out;
  }

  // ------------------------------------------------------------------ TransportProtocol

  receive(info: TcpPacketInfo, payload: Uint8Array, offset: number, length: number): void {
    const stats = this.stats;
    stats.rx++;
    if (this.hostStats) this.hostStats.rx++;
    // (The multicast test inline: an address above 2^31 passed to a call is boxed.)
    if (info.broadcast || (info.dst >>> 28) === 0xe) { this.drop('broadcast'); return; }
    // IP verifies transport checksums (DESIGN.md); `verifyChecksums` re-checks for hosts that do not.
    if (this.config.verifyChecksums && !this.offload(info.iface).rx && length >= 0 && offset >= 0 && offset + length <= payload.length &&
        tcpChecksum(payload, offset, length, info.src, info.dst) !== 0) {
      this.drop('checksum');
      return;
    }
    const seg = this.seg;
    const err = parseTcp(payload, offset, length, seg);
    if (err !== null) { this.drop(err); return; }
    if (seg.srcPort === 0 || seg.dstPort === 0) { this.drop('port-zero'); return; }
    try {
      this.dispatch(info, seg, payload);
    } catch (e) {
      // A bug must not take the stack down: count it (tests assert this counter stays 0).
      this.internalError(e);
    }
    this.armWakeup();
  }

  private dispatch(info: TcpPacketInfo, seg: TcpSegmentView, payload: Uint8Array): void {
    const found = this.lookup((info.dst | 0) as Ipv4Address, seg.dstPort, (info.src | 0) as Ipv4Address, seg.srcPort);
    const conn = found instanceof TimeWaitRecord ? this.expand(found) : found;
    const flags = seg.flags;
    const isSyn = (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    if (conn) {
      if (!(isSyn && conn.acceptsNewSyn(seg) && this.findListener(info.dst, seg.dstPort))) {
        if (conn.segmentArrives(seg, payload) && conn === found) this.markFast(conn, seg);
        if (conn !== found) this.compact(conn); // rebuilt from a record: back to one if still in TIME-WAIT
        return;
      }
      conn.finish(null); // TIME-WAIT ends for a new incarnation
    }
    const listener = this.findListener(info.dst, seg.dstPort);
    if (listener) {
      if (flags & TCP_RST) { this.drop('rst-to-listener'); return; }
      if (flags & TCP_ACK) { this.sendReset(info, seg); return; }
      if (!(flags & TCP_SYN)) { this.drop('no-syn-to-listener'); return; }
      this.passiveOpen(listener, info, seg);
      return;
    }
    this.drop('no-connection');
    this.sendReset(info, seg);
  }

  /**
   * GRO (the host's side: Stack.pollInterface, iface/gro.ts). The connection whose fast path took
   * the segment just received, if it did (the host reads it after each frame it hands over
   * whole, and clears it); `groSeg` keeps that segment's fields for the next ones.
   */
  fastConn: TcpConnection | null = null;
  private readonly groSeg = new TcpSegmentView();

  private markFast(conn: TcpConnection, seg: TcpSegmentView): void {
    if (!this.config.gro) return;
    this.fastConn = conn;
    const g = this.groSeg;
    g.srcPort = seg.srcPort; g.dstPort = seg.dstPort; g.ack = seg.ack; g.headerLength = seg.headerLength;
    g.flags = seg.flags; g.window = seg.window; g.urgent = seg.urgent;
    g.mss = seg.mss; g.wscale = seg.wscale; g.sackPermitted = seg.sackPermitted; g.hasTimestamp = seg.hasTimestamp;
    g.tsVal = seg.tsVal; g.tsEcr = seg.tsEcr; g.sackCount = 0;
  }

  /**
   * (GRO) A segment whose headers equal, byte for byte, those of the last segment `fastConn` named
   * but for the sequence number (and IP's identification, lengths and checksums), the checksums
   * verified by the host: it goes straight to the connection, without parsing or demultiplexing
   * again. True when the fast path took it too (the host may go on merging).
   */
  groReceive(conn: TcpConnection, seqNo: number, buf: Uint8Array, payloadOffset: number, payloadLength: number): boolean {
    this.stats.rx++;
    this.stats.groSegments++;
    if (this.hostStats) this.hostStats.rx++;
    const g = this.groSeg;
    g.seq = seqNo;
    g.payloadOffset = payloadOffset;
    g.payloadLength = payloadLength;
    try {
      // Not taken (the buffer filled, an ACK became due, ...): the full way ran, with the same fields.
      if (conn.segmentArrives(g, buf)) return true;
    } catch (e) {
      this.internalError(e);
    }
    this.armWakeup();
    return false;
  }

  private passiveOpen(listener: TcpListener, info: TcpPacketInfo, seg: TcpSegmentView): void {
    if (listener.synQueue.size >= this.config.synQueueLength || listener.acceptQueue.length >= listener.backlog) {
      this.drop('listen-overflow');
      return;
    }
    const route = this.host.ip.route(info.src);
    const mtu = route ? route.mtu : 576;
    const conn = this.createConnection(info.dst, seg.dstPort, info.src, seg.srcPort, route ?? { iface: info.iface, src: info.dst, mtu });
    conn.passive = true;
    conn.listener = listener;
    listener.synQueue.add(conn);
    this.stats.passiveOpens++;
    conn.openPassive(seg, this.isn.next(this.clock.now(), info.dst, seg.dstPort, info.src, seg.srcPort), this.advMss(mtu),
      this.isn.tsOffset(info.dst, info.src));
  }

  receiveIcmpError(error: TcpIcmpError): void {
    if (error.quoteLength < 8) { this.drop('icmp-short'); return; }
    const b = error.quote;
    const o = error.quoteOffset;
    const srcPort = (b[o] << 8) | b[o + 1];
    const dstPort = (b[o + 2] << 8) | b[o + 3];
    const found = this.lookup(error.src, srcPort, error.dst, dstPort);
    if (!found) { this.drop('icmp-no-connection'); return; }
    const conn = found instanceof TimeWaitRecord ? this.expand(found) : found;
    // RFC 5927: the quoted sequence number must be in flight, or the error is ignored.
    const s = seq(((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0);
    if (((s - conn.sndUna) >>> 0) > ((conn.sndMax - conn.sndUna) >>> 0)) { this.drop('icmp-out-of-window'); return; }
    if (error.type === 3 && error.code === 4) {
      const mtu = error.mtu && error.mtu >= 68 ? error.mtu : this.host.ip.pathMtu(error.dst);
      conn.setPathMtu(mtu);
    } else if (error.type === 3 && error.local) {
      conn.icmpError('EHOSTUNREACH', false);
    } else if (error.type === 3) {
      const code: TcpErrorCode = error.code === 0 || error.code === 6 ? 'ENETUNREACH'
        : error.code === 2 || error.code === 3 ? 'ECONNREFUSED' : 'EHOSTUNREACH';
      conn.icmpError(code, error.code === 2 || error.code === 3 || error.code === 1 || error.code === 0);
    } else if (error.type === 11) {
      conn.icmpError('EHOSTUNREACH', false);
    }
    this.armWakeup();
  }

  /** A bug caught at the layer's edge: counted and dropped (PNET_TCP_THROW=1 rethrows it, for debugging). */
  private internalError(e: unknown): void {
    this.drop('internal-error');
    if (process.env.PNET_TCP_THROW) throw e;
  }

  /**
   * The host starts handing over the frames of one receive batch (a poll of an interface). With
   * `coalesceAcks`, in-order data that would be ACKed every second segment is ACKed once, in
   * endBatch, as Linux's GRO makes one ACK cover the segments merged in one NAPI poll.
   */
  beginBatch(): void {
    this.inBatch = this.config.coalesceAcks;
  }

  /** The batch is over: the deferred ACKs go out. */
  endBatch(): void {
    this.inBatch = false;
    const n = this.ackQueueLength;
    if (n === 0) return;
    const q = this.ackQueue;
    const now = this.clock.now();
    for (let i = 0; i < n; i++) {
      const conn = q[i]!;
      q[i] = null;
      try {
        conn.flushAck(now);
      } catch (e) {
        this.internalError(e);
      }
      if (conn.state !== 'CLOSED') this.place(conn, conn.nextDeadline());
    }
    this.ackQueueLength = 0;
    this.armWakeup();
  }

  deferAck(conn: TcpConnection): boolean {
    if (!this.inBatch) return false;
    conn.ackDeferred = true;
    this.ackQueue[this.ackQueueLength++] = conn;
    return true;
  }

  pollAt(): number {
    const h = this.heap.peekDeadline(), t = this.timeWait.peekDeadline();
    // No timer: the constant (Infinity computed into a return is boxed afresh, per driver step).
    if (h === Infinity && t === Infinity) return Infinity;
    return h <= t ? h : t;
  }

  poll(now: number): void {
    this.polling = true;
    let guard = (this.heap.size + this.timeWait.size) * 4 + 16;
    for (;;) {
      const h = this.heap.peekDeadline(), t = this.timeWait.peekDeadline();
      if ((h <= t ? h : t) > now || guard-- <= 0) break;
      const conn = t < h ? this.timeWait.head! : this.heap.peek()!;
      if (conn instanceof TimeWaitRecord) {
        this.endTimeWait(conn); // its only deadline is 2MSL
        continue;
      }
      try {
        conn.onTimer(now);
      } catch (e) {
        this.internalError(e);
      }
      if (conn.state !== 'CLOSED') {
        let d = conn.nextDeadline();
        if (d <= now) { d = now + 1; this.drop('timer-stuck'); }
        this.place(conn, d);
      } else {
        this.heap.remove(conn);
        this.timeWait.remove(conn);
      }
    }
    this.polling = false;
    if (this.hostWake) this.wakeAt = Infinity; // re-plan from scratch: the host's timer may have been the one that fired
    this.armWakeup();
  }

  // ------------------------------------------------------------------ TcpConnectionIo

  transmit(conn: TcpConnection, flags: number, seqNo: SeqNum, ackNo: SeqNum, window: number, options: TcpOptionSet | null,
    dataPos: number, dataLen: number): boolean {
    const w = this.writer;
    w.conn = conn;
    w.srcPort = conn.localPort;
    w.dstPort = conn.remotePort;
    w.flags = flags;
    // As int32 (same bytes on the wire): a V8 small integer, never boxed on its way to the header writer.
    w.seq = seqNo | 0;
    w.ack = flags & TCP_ACK ? ackNo | 0 : 0;
    w.window = window;
    w.options = options;
    w.optionsLength = options ? tcpOptionsLength(options) : 0;
    w.gsoHeaderLength = TCP_HEADER_LENGTH + w.optionsLength;
    w.dataPos = dataPos;
    w.dataLength = dataLen;
    const o = this.sendOpts;
    o.dst = conn.remoteAddress;
    o.src = conn.localAddress;
    o.dontFragment = conn.dontFragment;
    o.segmentSize = dataLen > conn.effMss ? conn.effMss : 0; // a TSO or GSO super-segment (connection.ts sizes it)
    const result = this.host.ip.send(o, TCP_HEADER_LENGTH + w.optionsLength + dataLen, w);
    w.conn = null;
    // GSO: counted as the segments were one by one. A super-segment refused as too big stands for its first
    // segment only (output sends the rest again at the lower MSS); other failures would have hit each segment.
    let n = o.segmentSize > 0 && conn.gso ? Math.ceil(dataLen / o.segmentSize) : 1;
    if (n > 1 && result === 'too-big') {
      this.stats.segmentsOut -= n - 1; // emit counted them all
      n = 1;
    }
    this.stats.tx += n;
    if (this.hostStats) this.hostStats.tx += n;
    if (result === 'sent' || result === 'queued') return true;
    this.stats.errors[`send-${result}`] = (this.stats.errors[`send-${result}`] ?? 0) + n;
    if (result === 'too-big') {
      // A super-segment refused: the route may no longer go through a TSO NIC (else the MSS shrinks below).
      if (o.segmentSize > 0) {
        const route = this.host.ip.route(conn.remoteAddress);
        this.setSegmentation(conn, route !== null ? route.iface : null);
      }
      conn.lowerMtu(this.host.ip.pathMtu(conn.remoteAddress)); // the segment is resent by the RTO
    }
    else if (result === 'no-route' || result === 'unreachable' || result === 'prohibited') conn.softError = 'EHOSTUNREACH';
    return false;
  }

  challengeAckAllowed(now: number): boolean {
    if (now - this.challengeWindowStart >= 1000) {
      this.challengeWindowStart = now;
      this.challengeCount = 0;
    }
    if (this.challengeCount >= this.config.challengeAckLimit) return false;
    this.challengeCount++;
    return true;
  }

  established(conn: TcpConnection): void {
    const l = conn.listener as TcpListener | null;
    if (!l) return;
    l.synQueue.delete(conn);
    l.acceptQueue.push(conn);
    if (l.onAcceptable) l.onAcceptable();
  }

  closed(conn: TcpConnection): void {
    if (conn.demuxKey < 0) {
      // A detached connection (`compact`) aborted by its holder: its TIME-WAIT, kept as a record, ends too.
      const rec = this.lookup(conn.localAddress, conn.localPort, conn.remoteAddress, conn.remotePort);
      if (rec instanceof TimeWaitRecord) this.endTimeWait(rec);
      return;
    }
    if (this.unlink(conn)) {
      this.usePort(conn.localPort, -1);
      this.connCount--;
      this.stats.connections = this.connCount;
    }
    this.heap.remove(conn);
    this.timeWait.remove(conn);
    const l = conn.listener as TcpListener | null;
    if (l) {
      l.synQueue.delete(conn);
      const i = l.acceptQueue.indexOf(conn);
      if (i >= 0) l.acceptQueue.splice(i, 1);
      conn.listener = null;
    }
  }

  reschedule(conn: TcpConnection): void {
    if (conn.state === 'CLOSED' || conn.demuxKey < 0) return; // demuxKey < 0: detached (`compact`)
    this.place(conn, conn.nextDeadline());
    this.armWakeup();
  }

  /** Files a connection's next deadline: TIME-WAIT in the FIFO (when in order), the rest in the heap. */
  private place(conn: TcpConnection, d: number): void {
    if (conn.demuxKey < 0) return; // detached (`compact`): its record holds the timer
    if (d !== Infinity && conn.state === 'TIME-WAIT') {
      if (conn.heapIndex >= 0) this.heap.remove(conn);
      if (this.timeWait.push(conn, d)) return;
    } else if (conn.inFifo) {
      this.timeWait.remove(conn);
    }
    this.heap.update(conn, d);
  }

  // ------------------------------------------------------------------ internals

  private createConnection(local: Ipv4Address, localPort: number, remote: Ipv4Address, remotePort: number,
    route: TcpRoute): TcpConnection {
    const conn = new TcpConnection(this, local, localPort, remote, remotePort, this.nowFn);
    const pmtu = this.host.ip.pathMtu(remote);
    conn.pathMtu = Math.max(68, Math.min(route.mtu, pmtu > 0 ? pmtu : route.mtu));
    conn.txChecksumOffload = this.offload(route.iface).tx;
    this.setSegmentation(conn, route.iface);
    const key = demuxKey(this.demuxSalt, local, localPort, remote, remotePort);
    conn.demuxKey = key;
    if (this.connCount * 2 >= this.demux.length) this.growDemux();
    const slot = key & this.demuxMask;
    conn.demuxNext = this.demux[slot];
    this.demux[slot] = conn;
    this.usePort(localPort, 1);
    this.connCount++;
    this.stats.connections = this.connCount;
    return conn;
  }

  /** TSO when the route's NIC has it, else software GSO when IP does it and the config allows (none without a route). */
  private setSegmentation(conn: TcpConnection, iface: unknown): void {
    const ip = this.host.ip;
    conn.tsoMaxBytes = iface !== null && ip.tsoMaxBytes !== undefined ? ip.tsoMaxBytes(iface) : 0;
    conn.gso = this.config.gso && iface !== null && conn.tsoMaxBytes <= 0 && ip.gsoMaxBytes !== undefined && ip.gsoMaxBytes(iface) > 0;
  }

  private advMss(mtu: number): number {
    return Math.max(88, Math.min(mtu - 40, 65495));
  }

  private offload(iface: unknown): { tx: boolean; rx: boolean } {
    try {
      return this.host.ip.checksumOffload(iface, 'tcp') ?? NO_OFFLOAD;
    } catch {
      return NO_OFFLOAD;
    }
  }

  lookup(local: Ipv4Address, localPort: number, remote: Ipv4Address, remotePort: number): TcpConnection | TimeWaitRecord | null {
    // Addresses compare as int32: the receive path passes them `| 0` (a uint32 above 2^31 is boxed per call).
    local = (local | 0) as Ipv4Address;
    remote = (remote | 0) as Ipv4Address;
    // A run of segments of one connection (bulk) skips the hash and the Map: the last hit is kept while it is linked.
    const last = this.lastLookup;
    if (last !== null && last.localPort === localPort && last.remotePort === remotePort && (last.remoteAddress | 0) === remote &&
        (last.localAddress | 0) === local) return last;
    let c = this.demux[demuxKey(this.demuxSalt, local, localPort, remote, remotePort) & this.demuxMask];
    for (; c; c = c.demuxNext!) {
      if (c.localPort === localPort && c.remotePort === remotePort && (c.remoteAddress | 0) === remote && (c.localAddress | 0) === local) {
        this.lastLookup = c;
        return c;
      }
    }
    return null;
  }

  /** Takes a connection out of its demux chain; false if it was not in it. */
  private unlink(conn: TcpConnection | TimeWaitRecord): boolean {
    if (this.lastLookup === conn) this.lastLookup = null;
    const slot = conn.demuxKey & this.demuxMask;
    const head = this.demux[slot];
    if (head === conn) {
      this.demux[slot] = conn.demuxNext;
      conn.demuxNext = null;
      return true;
    }
    for (let p = head; p; p = p.demuxNext!) {
      if (p.demuxNext === conn) {
        p.demuxNext = conn.demuxNext;
        conn.demuxNext = null;
        return true;
      }
    }
    return false;
  }

  /**
   * A TIME-WAIT connection that no socket holds any more is replaced, in its demux chain and its
   * place in the TIME-WAIT FIFO, by a small record (time-wait.ts); the connection object is
   * detached (`demuxKey` -1: the layer no longer schedules it). Nothing happens when it is not in
   * TIME-WAIT, holds state the record does not keep, or waits in the heap.
   */
  compact(conn: TcpConnection): void {
    if (conn.demuxKey < 0 || !conn.inFifo) return;
    const rec = conn.timeWaitRecord();
    if (!rec) return;
    this.replaceInDemux(conn, rec);
    this.timeWait.replace(conn, rec);
    conn.demuxKey = -1;
  }

  /** The connection a record was made from, taking the record's place (to process a segment). */
  private expand(rec: TimeWaitRecord): TcpConnection {
    const conn = this.rebuild(rec);
    this.replaceInDemux(rec, conn);
    this.timeWait.replace(rec, conn);
    return conn;
  }

  private rebuild(rec: TimeWaitRecord): TcpConnection {
    const conn = new TcpConnection(this, rec.localAddress, rec.localPort, rec.remoteAddress, rec.remotePort, this.nowFn);
    conn.restoreTimeWait(rec);
    return conn;
  }

  private replaceInDemux(old: TcpConnection | TimeWaitRecord, next: TcpConnection | TimeWaitRecord): void {
    if (this.lastLookup === old) this.lastLookup = null;
    const key = old.demuxKey;
    next.demuxKey = key;
    next.demuxNext = old.demuxNext;
    old.demuxNext = null;
    const slot = key & this.demuxMask;
    const head = this.demux[slot];
    if (head === old) { this.demux[slot] = next; return; }
    for (let p = head; p; p = p.demuxNext!) {
      if (p.demuxNext === old) { p.demuxNext = next; return; }
    }
  }

  /** Doubles the demux table, moving every chain entry to its slot under the wider mask. */
  private growDemux(): void {
    const old = this.demux;
    const n = old.length * 2;
    const table = new Array<TcpConnection | TimeWaitRecord | null>(n).fill(null);
    const mask = n - 1;
    for (let i = 0; i < old.length; i++) {
      for (let c = old[i]; c;) {
        const next: TcpConnection | TimeWaitRecord | null = c.demuxNext;
        const slot = c.demuxKey & mask;
        c.demuxNext = table[slot];
        table[slot] = c;
        c = next;
      }
    }
    this.demux = table;
    this.demuxMask = mask;
  }

  /** 2MSL passed for a record: the 4-tuple is free. */
  private endTimeWait(rec: TimeWaitRecord): void {
    this.timeWait.remove(rec);
    rec.state = 'CLOSED';
    if (this.unlink(rec)) {
      this.usePort(rec.localPort, -1);
      this.connCount--;
      this.stats.connections = this.connCount;
    }
  }

  /** The TCP state of a connection a socket holds, following it into TIME-WAIT once detached (`compact`). */
  stateOf(conn: TcpConnection): string {
    if (conn.demuxKey >= 0 || conn.state !== 'TIME-WAIT') return conn.state;
    const now = this.lookup(conn.localAddress, conn.localPort, conn.remoteAddress, conn.remotePort);
    return now instanceof TimeWaitRecord ? now.state : 'CLOSED';
  }

  private findListener(local: Ipv4Address, port: number): TcpListener | null {
    const list = this.listeners.get(port);
    if (!list) return null;
    let any: TcpListener | null = null;
    for (const l of list) {
      if (l.address === local) return l;
      if (l.address === IPV4_ANY) any = l;
    }
    return any;
  }

  private usePort(port: number, delta: number): void {
    const n = (this.portUse.get(port) ?? 0) + delta;
    if (n <= 0) this.portUse.delete(port); else this.portUse.set(port, n);
  }

  /**
   * A port from the ephemeral range, then sequential search. For a connection, RFC 6056 3.3.4
   * (double-hash port selection, as Linux): the search starts at a keyed hash of (local, remote,
   * remote port) plus a counter picked by a second hash, and the counter moves on by the ports
   * tried. Successive connections to one peer take successive ports, so a port comes back only
   * after the whole range; with a random start (3.3.1, used before) a client soon drew a 4-tuple
   * the server still held in TIME-WAIT (with 3000 connections to one server, about every tenth
   * SYN, some of which waited for a retransmission timeout). A listener starts at random.
   * For a connection only the 4-tuple must be unique (so TIME-WAIT toward one peer does not use up
   * ports for all); a listener needs a port nothing else uses. Ports with listeners are never picked.
   */
  private ephemeralPort(local: Ipv4Address, remote: Ipv4Address, remotePort: number): number {
    const lo = this.config.ephemeralPortMin;
    const n = this.config.ephemeralPortMax - lo + 1;
    let start: number;
    let slot = -1;
    if (remotePort !== 0) {
      const h = this.isn.portHash(local, remote, remotePort);
      this.portCounters ??= new Uint16Array(PORT_COUNTERS);
      slot = h[1] & (PORT_COUNTERS - 1);
      start = (h[0] + this.portCounters[slot]) % n;
    } else {
      start = this.rng.nextInt(n);
    }
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++) {
        const p = lo + ((start + i) % n);
        if (!this.portUse.has(p) ||
            (pass === 1 && remotePort !== 0 && !this.listeners.has(p) && !this.lookup(local, p, remote, remotePort))) {
          // Past the port taken, and one further in 1 case of 16 when the first try was free (as Linux
          // since 2022): with exact steps, an observer of a few of our ports could predict the rest.
          if (slot >= 0) {
            const skip = i === 0 && this.rng.nextInt(16) === 0 ? 1 : 0;
            this.portCounters![slot] = (this.portCounters![slot] + i + 1 + skip) % n;
          }
          return p;
        }
      }
      if (remotePort === 0) break;
    }
    throw new TcpError('EADDRNOTAVAIL', 'no free ephemeral port');
  }

  /** RST for a segment that matches no connection (RFC 9293 3.10.7.1). */
  private sendReset(info: TcpPacketInfo, seg: TcpSegmentView): void {
    if (seg.flags & TCP_RST) return;
    const w = this.writer;
    w.conn = null;
    w.srcPort = seg.dstPort;
    w.dstPort = seg.srcPort;
    w.options = null;
    w.optionsLength = 0;
    w.dataLength = 0;
    w.window = 0;
    if (seg.flags & TCP_ACK) {
      w.flags = TCP_RST;
      w.seq = seg.ack | 0; // int32, as in transmit: the fields stay small integers
      w.ack = 0;
    } else {
      w.flags = TCP_RST | TCP_ACK;
      w.seq = 0;
      w.ack = (seg.seq + seg.payloadLength + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0)) | 0;
    }
    const o = this.sendOpts;
    o.dst = info.src;
    o.src = info.dst;
    o.dontFragment = true;
    o.segmentSize = 0;
    this.stats.rstOut++;
    this.stats.segmentsOut++;
    this.stats.tx++;
    if (this.hostStats) this.hostStats.tx++;
    this.host.ip.send(o, TCP_HEADER_LENGTH, w);
  }

  private drop(reason: string): void {
    this.stats.drops++;
    this.stats.errors[reason] = (this.stats.errors[reason] ?? 0) + 1;
    const hs = this.hostStats;
    if (hs) {
      const rec = MALFORMED.has(reason) ? hs.errors : hs.drops;
      rec[reason] = (rec[reason] ?? 0) + 1;
    }
  }

  /**
   * Makes sure someone polls us at the earliest connection deadline. A host with a driver (a
   * Stack: `wake()`) is asked to re-plan, so timers run after the frames already received (an ACK
   * waiting in the NIC ring must not lose against our RTO). Other hosts get one clock wake-up of
   * our own.
   */
  private armWakeup(): void {
    if (this.polling) return; // poll() re-plans once at its end
    const t = this.pollAt();
    if (t >= this.wakeAt) return; // an earlier (or equal) wake-up is already set; a spurious one is harmless
    this.wakeAt = t;
    if (this.hostWake) {
      this.hostWake();
      return;
    }
    if (this.wakeHandle) this.clock.cancel(this.wakeHandle);
    this.wakeHandle = t === Infinity ? 0 : this.clock.schedule(t, this.wakeFn);
  }

  /** Cancels the layer's clock wake-up (for shutting a stack down). */
  stop(): void {
    if (this.wakeHandle) this.clock.cancel(this.wakeHandle);
    this.wakeHandle = 0;
    this.wakeAt = Infinity;
  }
}

const NO_OFFLOAD = Object.freeze({ tx: false, rx: false });
/**
 * Counters of the ephemeral port search (a power of two). Linux went from 256 to 65536 in 2022:
 * with few counters, connections to many servers share them, and the shared steps let an
 * observer link this host's connections (Klein & Pinkas, "Device tracking via Linux's new TCP
 * source port selection algorithm").
 */
const PORT_COUNTERS = 65536;
/** Initial demux table size (a power of two). */
const DEMUX_MIN_SLOTS = 64;

// The last address text parsed, and its value: a client connecting again and again to one host
// (the common case) parses the text once instead of running a regular expression per connection.
let lastAddressText: string | null = null;
let lastAddress = 0 as Ipv4Address;

function toAddress(v: Ipv4Address | string, name: string): Ipv4Address {
  if (typeof v === 'string') {
    if (v !== lastAddressText) {
      lastAddress = parseIpv4(v); // throws on bad text, leaving the cache as it was
      lastAddressText = v;
    }
    return lastAddress;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new TypeError(`${name} must be an IPv4 address`);
  return v;
}

function checkPort(port: number, name: string, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new RangeError(`${name} must be an integer in ${allowZero ? 0 : 1}..65535, got ${port}`);
  }
}
