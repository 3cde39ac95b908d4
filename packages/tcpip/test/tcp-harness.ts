/**
 * Test helpers for TCP:
 *  - `FakeNet`: a tiny fake IP layer moving segments between TcpLayers in virtual time, with
 *    seeded loss / reordering / duplication / corruption and an optional rate-limited queue.
 *  - `TcpScript`: packetdrill-style segment-level scripting against one TcpLayer: inject
 *    segments from a scripted peer, read what the stack sends, advance virtual time.
 */
import { Rng, SimLink, SimNic, VirtualClock, localMac } from '@pnet/nic';
import type { Impairments as LinkImpairments } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import type { TcpConfig } from '../src/tcp/config';
import type { TcpConnection, TcpConnectionEvents } from '../src/tcp/connection';
import { TcpHost, TcpIpSendOptions, TcpLayer, TcpPayloadWriter, TcpRoute } from '../src/tcp/tcp-layer';
import { Ipv4Address, ipv4, parseIpv4 } from '../src/wire/ipv4-address';
import {
  TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, TcpOptionSet, TcpSegmentView, formatTcpFlags, parseTcp,
  tcpChecksum, tcpOptionsLength, writeTcpChecksum, writeTcpHeaderRaw, writeTcpOptions,
} from '../src/wire/tcp';

export interface Impairments {
  loss?: number;
  reorder?: number;
  duplicate?: number;
  corrupt?: number;
  /** One-way delay, ms. */
  delay?: number;
  /** Extra delay for reordered packets, ms (uniform in [0, reorderDelay]). */
  reorderDelay?: number;
  /** Link rate in bytes per ms (0: infinite). */
  rate?: number;
  /** Packets that may wait in a direction's queue (drop-tail). */
  queue?: number;
}

class FakeIp {
  constructor(private readonly host: FakeHost) {}
  send(opts: TcpIpSendOptions, length: number, writer: TcpPayloadWriter): string {
    return this.host.send(opts, length, writer);
  }
  route(dst: Ipv4Address): TcpRoute | null {
    return this.host.net.reachable(dst) ? { iface: this.host, src: this.host.address, mtu: this.host.mtu } : null;
  }
  pathMtu(_dst: Ipv4Address): number {
    return this.host.pathMtu;
  }
  checksumOffload(_iface: unknown, _p: 'tcp'): { tx: boolean; rx: boolean } {
    return { tx: false, rx: false };
  }
}

export class FakeHost implements TcpHost {
  readonly ip: FakeIp;
  readonly tcp: TcpLayer;
  mtu = 1500;
  pathMtu = 1500;
  checksumDrops = 0;
  /** When set, outgoing segments go here instead of the network. */
  capture: ((bytes: Uint8Array, src: Ipv4Address, dst: Ipv4Address) => void) | null = null;

  constructor(readonly net: FakeNet, readonly address: Ipv4Address, config: Partial<TcpConfig> = {}, mtu = 1500) {
    this.mtu = mtu;
    this.pathMtu = mtu;
    this.ip = new FakeIp(this);
    this.tcp = new TcpLayer(this, config);
  }

  get clock(): VirtualClock { return this.net.clock; }
  get rng(): Rng { return this.net.rng; }

  send(opts: TcpIpSendOptions, length: number, writer: TcpPayloadWriter): string {
    if (!this.net.reachable(opts.dst)) return 'no-route';
    if (length + 20 > this.mtu) return 'too-big';
    const buf = new Uint8Array(length);
    const src = opts.src ?? this.address;
    writer.writePayload(buf, 0, length, src, opts.dst);
    if (this.capture) { this.capture(buf, src, opts.dst); return 'sent'; }
    this.net.transmit(src, opts.dst, buf);
    return 'sent';
  }

  /** Like IP: verify the checksum, then hand to TCP. */
  deliver(src: Ipv4Address, dst: Ipv4Address, buf: Uint8Array): void {
    if (tcpChecksum(buf, 0, buf.length, src, dst) !== 0) { this.checksumDrops++; return; }
    this.tcp.receive({ src, dst, iface: this, broadcast: false }, buf, 0, buf.length);
  }
}

export class FakeNet {
  readonly clock = new VirtualClock();
  readonly rng: Rng;
  readonly hosts = new Map<number, FakeHost>();
  impair: Impairments = {};
  /** Per direction (src->dst) time the link is busy until. */
  private busy = new Map<string, { until: number; queued: number }>();
  stats = { sent: 0, lost: 0, duplicated: 0, corrupted: 0, reordered: 0, queueDrops: 0 };
  /** Sees every packet put on the wire (before impairments). */
  tap: ((src: Ipv4Address, dst: Ipv4Address, bytes: Uint8Array) => void) | null = null;
  private readonly impairRng: Rng;

  constructor(seed = 1, impair: Impairments = {}) {
    this.rng = new Rng(seed);
    this.impairRng = new Rng(seed * 7919 + 1);
    this.impair = impair;
  }

  addHost(address: string, config: Partial<TcpConfig> = {}, mtu = 1500): FakeHost {
    const a = parseIpv4(address);
    const h = new FakeHost(this, a, config, mtu);
    this.hosts.set(a, h);
    return h;
  }

  reachable(dst: Ipv4Address): boolean {
    return this.hosts.has(dst);
  }

  transmit(src: Ipv4Address, dst: Ipv4Address, bytes: Uint8Array): void {
    this.stats.sent++;
    if (this.tap) this.tap(src, dst, bytes);
    const im = this.impair;
    const r = this.impairRng;
    if (im.loss && r.next() < im.loss) { this.stats.lost++; return; }
    let when = this.clock.now() + (im.delay ?? 1);
    if (im.rate) {
      const key = `${src}>${dst}`;
      let q = this.busy.get(key);
      if (!q) { q = { until: 0, queued: 0 }; this.busy.set(key, q); }
      const now = this.clock.now();
      const start = Math.max(now, q.until);
      const waiting = (start - now) * im.rate / 1500;
      if (im.queue !== undefined && waiting > im.queue) { this.stats.queueDrops++; return; }
      q.until = start + (bytes.length + 40) / im.rate;
      when = q.until + (im.delay ?? 1);
    }
    const copies = im.duplicate && r.next() < im.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let data = bytes;
      if (im.corrupt && r.next() < im.corrupt) {
        data = Uint8Array.from(bytes);
        data[r.nextInt(data.length)] ^= 1 << r.nextInt(8);
        this.stats.corrupted++;
      }
      let t = when + c * 0.01;
      if (im.reorder && r.next() < im.reorder) {
        t += r.next() * (im.reorderDelay ?? 3 * (im.delay ?? 1));
        this.stats.reordered++;
      }
      const d = data;
      this.clock.schedule(t, () => this.hosts.get(dst)?.deliver(src, dst, d));
    }
  }
}

// ---------------------------------------------------------------- raw-connection apps

/** Records what a connection reports; events are deferred through the clock (no re-entry). */
export class Recorder implements TcpConnectionEvents {
  connected = false;
  ended = false;
  closed = false;
  error: string | null = null;
  timeouts = 0;
  received: Uint8Array[] = [];
  conn: TcpConnection | null = null;
  autoRead = true;
  onDataHook: (() => void) | null = null;
  onWritableHook: (() => void) | null = null;

  constructor(private readonly clock: VirtualClock) {}

  attach(conn: TcpConnection): this {
    this.conn = conn;
    conn.events = this;
    return this;
  }

  private later(fn: () => void): void {
    this.clock.schedule(this.clock.now(), fn);
  }

  onConnect(): void { this.connected = true; }
  onData(): void {
    this.later(() => {
      if (this.autoRead) this.drain();
      this.onDataHook?.();
    });
  }
  onWritable(): void { this.later(() => this.onWritableHook?.()); }
  onEnd(): void { this.ended = true; }
  onTimeout(): void { this.timeouts++; }
  onClose(err: { code: string } | null): void {
    this.closed = true;
    this.error = err ? err.code : null;
  }

  drain(): void {
    const b = this.conn?.readBuffer();
    if (b) this.received.push(b);
  }

  text(): string {
    return Buffer.concat(this.received).toString('latin1');
  }

  bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}

/** Connects `client` to a listener on `server` and runs until both sides are ESTABLISHED. */
export function connectPair(net: FakeNet, client: FakeHost, server: FakeHost, port = 80,
  clientRec = new Recorder(net.clock), serverRec = new Recorder(net.clock)):
  { c: TcpConnection; s: TcpConnection; cr: Recorder; sr: Recorder } {
  const listener = server.tcp.openListener({ port });
  let s: TcpConnection | null = null;
  listener.onAcceptable = () => {
    s = listener.accept();
    if (s) serverRec.attach(s);
  };
  const c = client.tcp.open({ host: server.address, port }, clientRec);
  clientRec.conn = c;
  for (let i = 0; i < 100000 && !(s && clientRec.connected); i++) if (!net.clock.step()) break;
  if (!s) throw new Error('connectPair: no connection accepted');
  return { c, s, cr: clientRec, sr: serverRec };
}

// ---------------------------------------------------------------- segment scripting

export interface SegSpec {
  /** tcpdump-style flags: 'S', 'S.', '.', 'P.', 'F.', 'R', 'R.' */
  flags: string;
  /** Relative to the script peer's ISN. */
  seq?: number;
  /** Relative to the stack's ISN (learned from its SYN / SYN-ACK). */
  ack?: number;
  win?: number;
  /** Payload bytes, or a length (filled with a pattern). */
  data?: Uint8Array | number | string;
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  /** SACK blocks [start, end), relative to the stack's ISN. */
  sack?: [number, number][];
  ts?: [number, number];
  srcPort?: number;
  dstPort?: number;
  /** Raw absolute seq/ack (no ISN offset). */
  raw?: boolean;
}

export interface SeenSeg {
  flags: string;
  seq: number;
  ack: number;
  win: number;
  len: number;
  data: Buffer;
  mss: number;
  wscale: number;
  sackOk: boolean;
  /** SACK blocks, relative to the peer's ISN. */
  sack: [number, number][];
  ts: [number, number] | null;
  srcPort: number;
  dstPort: number;
  time: number;
  absSeq: number;
  absAck: number;
}

export function parseFlags(s: string): number {
  let f = 0;
  for (const ch of s) {
    switch (ch) {
      case 'S': f |= TCP_SYN; break;
      case 'F': f |= TCP_FIN; break;
      case 'R': f |= TCP_RST; break;
      case 'P': f |= TCP_PSH; break;
      case 'U': f |= TCP_URG; break;
      case '.': f |= TCP_ACK; break;
      default: throw new Error(`bad flag ${ch}`);
    }
  }
  return f;
}

/**
 * One TcpLayer at 192.0.2.1 and a scripted peer at 192.0.2.2 (port 40000 by default).
 * The peer's ISN is `peerIsn`; seq/ack in specs are relative (packetdrill style).
 */
export class TcpScript {
  readonly net: FakeNet;
  readonly host: FakeHost;
  readonly peer: Ipv4Address = parseIpv4('192.0.2.2');
  readonly local: Ipv4Address = parseIpv4('192.0.2.1');
  readonly out: SeenSeg[] = [];
  peerIsn = 1_000_000;
  /** The stack's ISN, learned from the first SYN it sends. */
  stackIsn: number | null = null;
  peerPort = 40000;
  localPort = 8080;
  private readonly view = new TcpSegmentView();

  constructor(config: Partial<TcpConfig> = {}, seed = 1) {
    this.net = new FakeNet(seed);
    this.host = this.net.addHost('192.0.2.1', config);
    this.net.hosts.set(this.peer, this.host); // make the peer "reachable"; its packets are captured
    this.host.capture = (bytes, _src, _dst) => this.record(bytes);
  }

  get tcp(): TcpLayer { return this.host.tcp; }
  get clock(): VirtualClock { return this.net.clock; }
  get now(): number { return this.net.clock.now(); }

  private record(bytes: Uint8Array): void {
    const v = this.view;
    const err = parseTcp(bytes, 0, bytes.length, v);
    if (err) throw new Error(`stack sent a malformed segment: ${err}`);
    if (tcpChecksum(bytes, 0, bytes.length, this.local, this.peer) !== 0) throw new Error('stack sent a bad checksum');
    if (v.flags & TCP_SYN) this.stackIsn = v.seq; // the latest SYN or SYN-ACK sets the base
    const base = this.stackIsn ?? 0;
    this.out.push({
      flags: formatTcpFlags(v.flags),
      seq: (v.seq - base) >>> 0,
      ack: v.flags & TCP_ACK ? (v.ack - this.peerIsn) >>> 0 : 0,
      win: v.window,
      len: v.payloadLength,
      data: Buffer.from(bytes.subarray(v.payloadOffset, v.payloadOffset + v.payloadLength)),
      mss: v.mss,
      wscale: v.wscale,
      sackOk: v.sackPermitted,
      sack: Array.from({ length: v.sackCount }, (_, i) => [(v.sackBlocks[2 * i] - this.peerIsn) >>> 0, (v.sackBlocks[2 * i + 1] - this.peerIsn) >>> 0] as [number, number]),
      ts: v.hasTimestamp ? [v.tsVal >>> 0, v.tsEcr >>> 0] : null,
      srcPort: v.srcPort,
      dstPort: v.dstPort,
      time: this.now,
      absSeq: v.seq,
      absAck: v.ack,
    });
  }

  /** Builds the bytes of a segment from the peer. */
  build(spec: SegSpec): Uint8Array {
    const o = new TcpOptionSet();
    if (spec.mss !== undefined) o.mss = spec.mss;
    if (spec.wscale !== undefined) o.wscale = spec.wscale;
    if (spec.sackOk) o.sackPermitted = true;
    if (spec.ts) { o.hasTimestamp = true; o.tsVal = spec.ts[0]; o.tsEcr = spec.ts[1]; }
    if (spec.sack) {
      spec.sack.forEach(([a, b], k) => {
        o.sackBlocks[2 * k] = ((this.stackIsn ?? 0) + a) >>> 0;
        o.sackBlocks[2 * k + 1] = ((this.stackIsn ?? 0) + b) >>> 0;
      });
      o.sackCount = spec.sack.length;
    }
    const optLen = tcpOptionsLength(o);
    let data: Uint8Array;
    if (spec.data === undefined) data = new Uint8Array(0);
    else if (typeof spec.data === 'number') data = Uint8Array.from({ length: spec.data }, (_, i) => (i * 7 + 3) & 0xff);
    else if (typeof spec.data === 'string') data = Buffer.from(spec.data, 'latin1');
    else data = spec.data;
    const len = 20 + optLen + data.length;
    const buf = new Uint8Array(len);
    const flags = parseFlags(spec.flags);
    const seqNo = spec.raw ? (spec.seq ?? 0) : (this.peerIsn + (spec.seq ?? 0)) >>> 0;
    const ackNo = flags & TCP_ACK ? (spec.raw ? (spec.ack ?? 0) : ((this.stackIsn ?? 0) + (spec.ack ?? 0)) >>> 0) : 0;
    writeTcpHeaderRaw(buf, 0, spec.srcPort ?? this.peerPort, spec.dstPort ?? this.localPort, seqNo, ackNo, flags,
      spec.win ?? 65535, optLen);
    writeTcpOptions(buf, 20, o);
    buf.set(data, 20 + optLen);
    writeTcpChecksum(buf, 0, len, this.peer, this.local);
    return buf;
  }

  /** Delivers a segment from the peer now (as IP would). */
  inject(spec: SegSpec): void {
    const b = this.build(spec);
    this.host.deliver(this.peer, this.local, b);
  }

  /** Delivers raw bytes (checksum filled in unless `keepChecksum`). */
  injectBytes(bytes: Uint8Array, fixChecksum = true): void {
    if (fixChecksum && bytes.length >= 18) writeTcpChecksum(bytes, 0, bytes.length, this.peer, this.local);
    this.tcp.receive({ src: this.peer, dst: this.local, iface: this.host, broadcast: false }, bytes, 0, bytes.length);
  }

  /** The next segment the stack sent (undefined if none). */
  next(): SeenSeg | undefined {
    return this.out.shift();
  }

  /** Drops everything captured so far. */
  clear(): void {
    this.out.length = 0;
  }

  advance(ms: number): void {
    this.net.clock.advance(ms);
  }

  /** Listens on localPort and performs a handshake from the peer; returns the accepted connection. */
  acceptOne(opts: { mss?: number; wscale?: number; ts?: boolean; win?: number; rtt?: number; sack?: boolean } = {}): TcpConnection {
    const l = this.tcp.openListener({ port: this.localPort });
    this.inject({ flags: 'S', seq: 0, win: opts.win ?? 65535, mss: opts.mss ?? 1460, wscale: opts.wscale,
      ts: opts.ts ? [100, 0] : undefined, sackOk: opts.sack });
    const synack = this.next();
    if (!synack || synack.flags !== 'S.') throw new Error(`expected SYN-ACK, got ${JSON.stringify(synack)}`);
    if (opts.rtt) this.advance(opts.rtt);
    this.inject({ flags: '.', seq: 1, ack: 1, win: opts.win ?? 65535, ts: opts.ts ? [101, synack.ts![0]] : undefined });
    const c = l.accept();
    if (!c) throw new Error('no connection accepted');
    return c;
  }

  /** Opens a connection to the peer and completes the handshake; returns it ESTABLISHED. */
  connectOne(opts: { mss?: number; win?: number } = {}): TcpConnection {
    const c = this.tcp.open({ host: this.peer, port: this.peerPort, localPort: this.localPort });
    const syn = this.next();
    if (!syn || syn.flags !== 'S') throw new Error(`expected SYN, got ${JSON.stringify(syn)}`);
    this.inject({ flags: 'S.', seq: 0, ack: 1, win: opts.win ?? 65535, mss: opts.mss ?? 1460 });
    const ack = this.next();
    if (!ack || ack.flags !== '.') throw new Error(`expected ACK, got ${JSON.stringify(ack)}`);
    return c;
  }
}

/** A deterministic byte stream for transfers. */
export function pattern(seed: number, length: number): Buffer {
  const r = new Rng(seed);
  const b = Buffer.allocUnsafe(length);
  r.fill(b);
  return b;
}

/**
 * Two Stacks, A (192.0.2.1, seeded `seedA`) and B (192.0.2.2, `seedB`), on one SimLink with
 * one-way `delay` and `impair` each way, ARP entries set statically (these runs measure TCP, not
 * ARP retries under loss), both started.
 */
export function simLinkPair(clock: VirtualClock, o: { seedA: number; seedB: number; linkSeed: number; delay: number;
  impair?: LinkImpairments; tcpA?: object; tcpB?: object }): { a: Stack; b: Stack } {
  const a = new Stack({ clock, rng: new Rng(o.seedA), name: 'a', tcp: o.tcpA });
  const b = new Stack({ clock, rng: new Rng(o.seedB), name: 'b', tcp: o.tcpB });
  const na = new SimNic({ name: 'a0', mac: localMac(1), clock });
  const nb = new SimNic({ name: 'b0', mac: localMac(2), clock });
  const imp = o.impair ?? {};
  new SimLink({ clock, seed: o.linkSeed, delay: o.delay, aToB: imp, bToA: imp }).connect(na, nb);
  a.addInterface(na, { ip: ipv4(192, 0, 2, 1), netmask: 24 });
  b.addInterface(nb, { ip: ipv4(192, 0, 2, 2), netmask: 24 });
  a.arp.set('eth0', ipv4(192, 0, 2, 2), localMac(2));
  b.arp.set('eth0', ipv4(192, 0, 2, 1), localMac(1));
  a.start();
  b.start();
  return { a, b };
}
