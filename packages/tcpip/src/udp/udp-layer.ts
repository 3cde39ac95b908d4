/**
 * UDP sockets (Node-like): bind (random ephemeral ports), connect, send with
 * broadcast, receive with the source address, bind to a device (DHCP on an
 * unconfigured NIC), port unreachable for closed ports.
 */
import { EventEmitter } from 'node:events';
import { IPV4_ANY, IPV4_BROADCAST, Ipv4Address, formatIpv4 } from '../wire/ipv4-address';
import { IP_PROTOCOL_UDP } from '../wire/ipv4';
import { ICMP_DEST_UNREACHABLE, ICMP_PORT_UNREACHABLE } from '../wire/icmp';
import { UDP_HEADER_LENGTH, UdpHeader, parseUdp, setUdpChecksum, writeUdpHeader } from '../wire/udp';
import { countDrop, countError } from '../stats';
import type { Stack } from '../iface/stack';
import type { IcmpErrorInfo, IcmpErrorKind, IpPacketInfo, IpSendOptions, IpSendResult, PayloadWriter, TransportProtocol } from '../ip/types';
import { toIpv4 } from '../ip/routing';

export const EPHEMERAL_LOW = 49152;
export const EPHEMERAL_HIGH = 65535;
/** Largest UDP payload in one IPv4 datagram. */
export const MAX_UDP_PAYLOAD = 65535 - 20 - UDP_HEADER_LENGTH;

export interface UdpBindOptions {
  /** 0 or absent: a random free ephemeral port. */
  port?: number;
  /** Local address to bind (default 0.0.0.0: every address). */
  address?: Ipv4Address | string;
  /** Bind to a device: receive only what arrives on it, send only out of it. */
  iface?: string;
  /** SO_REUSEADDR: sockets that all set it may share a port (each broadcast reaches all of them). */
  reuseAddress?: boolean;
}

export interface UdpRemoteInfo {
  address: Ipv4Address;
  port: number;
  iface: string;
  size: number;
  family: 'IPv4';
  /** It was sent to a broadcast address. */
  broadcast: boolean;
}

export interface UdpIcmpError {
  kind: IcmpErrorKind;
  type: number;
  code: number;
  /** Who reported it. */
  from: Ipv4Address;
  /** The destination of the datagram it is about. */
  address: Ipv4Address;
  port: number;
}

export interface UdpSocketEvents {
  message: [data: Buffer, rinfo: UdpRemoteInfo];
  icmpError: [error: UdpIcmpError];
  close: [];
}

export class UdpSocket extends EventEmitter<UdpSocketEvents> {
  remoteAddress: Ipv4Address | null = null;
  remotePort = 0;
  /** TTL of datagrams sent (default: the stack's). */
  ttl: number | undefined = undefined;
  private closedFlag = false;

  constructor(
    private readonly layer: UdpLayer,
    readonly localPort: number,
    readonly localAddress: Ipv4Address,
    readonly iface: string | undefined,
    readonly reuseAddress = false,
  ) {
    super();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  address(): { address: string; port: number; family: 'IPv4' } {
    return { address: formatIpv4(this.localAddress), port: this.localPort, family: 'IPv4' };
  }

  /** Fixes the peer: `send` may then omit it, and only its datagrams are received. */
  connect(address: Ipv4Address | string, port: number): void {
    this.checkOpen('connect');
    const a = toIpv4(address, 'address');
    checkPort(port, false);
    if (a === IPV4_ANY) throw new TypeError('connect: address must not be 0.0.0.0');
    this.remoteAddress = a;
    this.remotePort = port;
  }

  disconnect(): void {
    this.checkOpen('disconnect');
    this.remoteAddress = null;
    this.remotePort = 0;
  }

  /**
   * Sends one datagram (broadcast allowed). Returns what IP did with it
   * ('sent', 'queued' behind ARP, or why not). Bad arguments throw.
   */
  send(data: Uint8Array | string, port?: number, address?: Ipv4Address | string): IpSendResult {
    this.checkOpen('send');
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (!(bytes instanceof Uint8Array)) throw new TypeError('send: data must be a Uint8Array or string');
    if (bytes.length > MAX_UDP_PAYLOAD) throw new RangeError(`send: datagram of ${bytes.length} bytes exceeds ${MAX_UDP_PAYLOAD}`);
    let dst: Ipv4Address;
    let dport: number;
    if (port === undefined && address === undefined) {
      if (this.remoteAddress === null) throw new Error('send: socket is not connected; give a port and address');
      dst = this.remoteAddress;
      dport = this.remotePort;
    } else {
      if (port === undefined || address === undefined) throw new TypeError('send: give both port and address');
      checkPort(port, false);
      dst = toIpv4(address, 'address');
      dport = port;
      if (dst === IPV4_ANY) throw new TypeError('send: address must not be 0.0.0.0');
    }
    return this.layer.sendFrom(this, bytes, dst, dport);
  }

  /** `send` with the destination spelled out (never the connected peer). */
  sendTo(data: Uint8Array | string, port: number, address: Ipv4Address | string): IpSendResult {
    if (port === undefined || address === undefined) throw new TypeError('sendTo: give both port and address');
    return this.send(data, port, address);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.layer.unbind(this);
    this.emit('close');
  }

  private checkOpen(what: string): void {
    if (this.closedFlag) throw new Error(`${what}: socket is closed`);
  }
}

function checkPort(port: unknown, allowZero: boolean): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new RangeError(`bad port ${String(port)} (expected integer ${allowZero ? 0 : 1}..65535)`);
  }
}

class DatagramWriter implements PayloadWriter {
  srcPort = 0;
  dstPort = 0;
  data: Uint8Array = new Uint8Array(0);
  writePayload(buf: Uint8Array, offset: number, length: number, src: Ipv4Address, dst: Ipv4Address, offloaded?: boolean): void {
    writeUdpHeader(buf, offset, this.srcPort, this.dstPort, length);
    buf.set(this.data, offset + UDP_HEADER_LENGTH);
    if (!offloaded) setUdpChecksum(buf, offset, length, src, dst);
  }
}

export class UdpLayer implements TransportProtocol {
  readonly protocol = IP_PROTOCOL_UDP;
  /** Answer datagrams to closed ports with ICMP port unreachable. */
  sendPortUnreachable = true;
  private readonly ports = new Map<number, UdpSocket[]>();
  private readonly rx = new UdpHeader();
  private readonly writer = new DatagramWriter();
  private readonly opts: IpSendOptions = { dst: IPV4_ANY, protocol: IP_PROTOCOL_UDP };

  constructor(private readonly stack: Stack) {}

  /** Opens a socket. Throws when the port is taken (for an overlapping address/device) or the address is not ours. */
  bind(options: UdpBindOptions = {}): UdpSocket {
    if (options === null || typeof options !== 'object') throw new TypeError('bind: options must be an object');
    const port = options.port ?? 0;
    checkPort(port, true);
    const address = options.address === undefined ? IPV4_ANY : toIpv4(options.address, 'address');
    if (address !== IPV4_ANY && address !== IPV4_BROADCAST && !this.stack.isLocalAddress(address)) {
      throw new Error(`bind: EADDRNOTAVAIL: ${formatIpv4(address)} is not an address of this host`);
    }
    if (options.iface !== undefined && !this.stack.interface(options.iface)) throw new Error(`bind: no such device: ${options.iface}`);
    const reuse = options.reuseAddress === true;
    const chosen = port === 0 ? this.ephemeralPort(address, options.iface) : port;
    if (port !== 0 && this.conflicts(port, address, options.iface, reuse)) throw new Error(`bind: EADDRINUSE: UDP port ${port} is already bound`);
    const sock = new UdpSocket(this, chosen, address, options.iface, reuse);
    const list = this.ports.get(chosen);
    if (list) list.push(sock); else this.ports.set(chosen, [sock]);
    return sock;
  }

  /** Sockets open now. */
  get socketCount(): number {
    let n = 0;
    for (const l of this.ports.values()) n += l.length;
    return n;
  }

  /** @internal */
  unbind(sock: UdpSocket): void {
    const list = this.ports.get(sock.localPort);
    if (!list) return;
    const i = list.indexOf(sock);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.ports.delete(sock.localPort);
  }

  /** @internal */
  sendFrom(sock: UdpSocket, data: Uint8Array, dst: Ipv4Address, dstPort: number): IpSendResult {
    const w = this.writer;
    w.srcPort = sock.localPort;
    w.dstPort = dstPort;
    w.data = data;
    const src = sock.localAddress !== IPV4_ANY && sock.localAddress !== IPV4_BROADCAST ? sock.localAddress : undefined;
    const o = this.opts;
    o.dst = dst; o.src = src; o.iface = sock.iface; o.ttl = sock.ttl;
    const res = this.stack.ip.send(o, UDP_HEADER_LENGTH + data.length, w);
    w.data = EMPTY;
    if (res === 'sent' || res === 'queued') this.stack.stats.udp.tx++;
    else countDrop(this.stack.stats.udp, `send-${res}`);
    return res;
  }

  receive(info: IpPacketInfo, buf: Uint8Array, offset: number, length: number): void {
    const stats = this.stack.stats.udp;
    // The checksum was verified by the IP layer (or the NIC).
    const h = parseUdp(buf, offset, length, this.rx);
    if (typeof h === 'string') { countError(stats, h); return; }
    stats.rx++;
    const list = this.ports.get(h.dstPort);
    let delivered = 0;
    if (list !== undefined) {
      if (info.broadcast) {
        // A broadcast goes to every socket that takes it (a snapshot: a listener may close its socket).
        const targets = list.length === 1 ? list : list.slice();
        for (let i = 0; i < targets.length; i++) {
          if (!targets[i].closed && this.score(targets[i], info, h.srcPort) >= 0) { this.deliverTo(targets[i], info, h.srcPort, buf, offset, h.length); delivered++; }
        }
      } else {
        let best: UdpSocket | null = null;
        let bestScore = -1;
        for (let i = 0; i < list.length; i++) {
          const s = this.score(list[i], info, h.srcPort);
          if (s > bestScore) { bestScore = s; best = list[i]; }
        }
        if (best !== null) { this.deliverTo(best, info, h.srcPort, buf, offset, h.length); delivered++; }
      }
    }
    if (delivered === 0) {
      countDrop(stats, 'port-unreachable');
      if (this.sendPortUnreachable && !info.broadcast) this.stack.ip.rejectCurrent(ICMP_DEST_UNREACHABLE, ICMP_PORT_UNREACHABLE);
    }
  }

  receiveIcmpError(e: IcmpErrorInfo): void {
    if (e.quoteLength < 4) return;
    const q = e.quote, o = e.quoteOffset;
    const srcPort = (q[o] << 8) | q[o + 1];
    const dstPort = (q[o + 2] << 8) | q[o + 3];
    const list = this.ports.get(srcPort);
    if (!list) { countDrop(this.stack.stats.udp, 'icmp-error-no-socket'); return; }
    for (const sock of list) {
      if (sock.localAddress !== IPV4_ANY && sock.localAddress !== e.src) continue;
      if (sock.remoteAddress !== null && (sock.remoteAddress !== e.dst || sock.remotePort !== dstPort)) continue;
      sock.emit('icmpError', { kind: e.kind, type: e.type, code: e.code, from: e.from, address: e.dst, port: dstPort });
      return;
    }
  }

  /** How well a socket matches a datagram (-1: not at all). */
  private score(sock: UdpSocket, info: IpPacketInfo, srcPort: number): number {
    let s = 0;
    if (sock.iface !== undefined) {
      if (sock.iface !== info.iface.name) return -1;
      s++;
    }
    if (sock.localAddress !== IPV4_ANY) {
      if (sock.localAddress !== info.dst) return -1;
      s++;
    }
    if (sock.remoteAddress !== null) {
      if (sock.remoteAddress !== info.src || sock.remotePort !== srcPort) return -1;
      s += 2;
    }
    return s;
  }

  private deliverTo(sock: UdpSocket, info: IpPacketInfo, srcPort: number, buf: Uint8Array, offset: number, ulen: number): void {
    const size = ulen - UDP_HEADER_LENGTH;
    const data = Buffer.allocUnsafe(size);
    data.set(buf.subarray(offset + UDP_HEADER_LENGTH, offset + ulen));
    sock.emit('message', data, {
      address: info.src, port: srcPort, iface: info.iface.name, size, family: 'IPv4', broadcast: info.broadcast,
    });
  }

  private conflicts(port: number, address: Ipv4Address, iface: string | undefined, reuse = false): boolean {
    const list = this.ports.get(port);
    if (!list) return false;
    return list.some((s) => !(reuse && s.reuseAddress) && (s.iface === undefined || iface === undefined || s.iface === iface) &&
      (s.localAddress === IPV4_ANY || address === IPV4_ANY || s.localAddress === address));
  }

  private ephemeralPort(address: Ipv4Address, iface: string | undefined): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    for (let i = 0; i < 64; i++) {
      const p = EPHEMERAL_LOW + this.stack.rng.nextInt(span);
      if (!this.conflicts(p, address, iface)) return p;
    }
    const start = this.stack.rng.nextInt(span);
    for (let i = 0; i < span; i++) {
      const p = EPHEMERAL_LOW + ((start + i) % span);
      if (!this.conflicts(p, address, iface)) return p;
    }
    throw new Error('bind: EADDRINUSE: no free ephemeral UDP port');
  }
}

const EMPTY = new Uint8Array(0);
