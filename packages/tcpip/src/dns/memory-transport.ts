/**
 * An in-memory network of UDP ports and TCP streams in virtual time, for
 * running the resolver against the DNS server without a Stack (tests, quick
 * simulations). Every datagram and stream chunk arrives `latency` ms after it
 * was sent, through the injected Clock; `filter` can drop or rewrite any
 * datagram (loss, spoofing, corruption).
 */
import type { Clock } from '@pnet/nic';
import type { Ipv4Address } from '../wire/ipv4-address';
import type { DnsServerTransport } from './server';
import type { DnsDatagramSocket, DnsPeer, DnsStream, DnsStreamListener } from './transport';

export interface MemoryDatagram {
  src: DnsPeer;
  dst: DnsPeer;
  data: Uint8Array;
}

/** Returns false to drop, a datagram to deliver instead, or true to deliver as is. */
export type MemoryFilter = (d: MemoryDatagram) => boolean | MemoryDatagram;

interface Port {
  listener: ((data: Uint8Array, from: DnsPeer) => void) | null;
}

export class MemoryNetwork {
  filter: MemoryFilter | null = null;
  /** Every datagram handed to the network, before the filter. */
  readonly sent: MemoryDatagram[] = [];
  private readonly udp = new Map<string, Port>();
  private readonly tcp = new Map<string, (stream: DnsStream, from: DnsPeer) => void>();
  private nextEphemeral = 40000;

  constructor(readonly clock: Clock, readonly latency = 1) {}

  /** A transport for the host at `address`. */
  host(address: Ipv4Address): DnsServerTransport {
    return {
      openUdp: (port) => this.openUdp(address, port),
      connectTcp: (dst, port) => this.connectTcp(address, dst, port),
      listenTcp: (port) => this.listenTcp(address, port),
    };
  }

  /** Delivers a datagram as if `src` had sent it (spoofing in tests). */
  inject(d: MemoryDatagram): void {
    this.clock.schedule(this.clock.now() + this.latency, () => {
      const p = this.udp.get(`${d.dst.address}:${d.dst.port}`);
      p?.listener?.(d.data.slice(), { ...d.src });
    });
  }

  private openUdp(address: Ipv4Address, port: number): DnsDatagramSocket {
    if (port === 0) port = this.nextEphemeral++;
    const key = `${address}:${port}`;
    if (this.udp.has(key)) throw new Error(`EADDRINUSE ${key}`);
    const p: Port = { listener: null };
    this.udp.set(key, p);
    let open = true;
    return {
      localPort: port,
      send: (data, dport, daddr) => {
        if (!open) throw new Error('socket closed');
        let d: MemoryDatagram = { src: { address, port }, dst: { address: daddr, port: dport }, data: data.slice() };
        this.sent.push(d);
        if (this.filter) {
          const f = this.filter(d);
          if (f === false) return;
          if (f !== true) d = f;
        }
        this.inject(d);
      },
      onMessage: (l) => { p.listener = l; },
      close: () => {
        if (open && this.udp.get(key) === p) this.udp.delete(key);
        open = false;
        p.listener = null;
      },
    };
  }

  private listenTcp(address: Ipv4Address, port: number): DnsStreamListener {
    const key = `${address}:${port}`;
    if (this.tcp.has(key)) throw new Error(`EADDRINUSE ${key}`);
    let handler: ((stream: DnsStream, from: DnsPeer) => void) | null = null;
    this.tcp.set(key, (s, from) => handler?.(s, from));
    return {
      onConnection: (l) => { handler = l; },
      close: () => { this.tcp.delete(key); },
    };
  }

  private connectTcp(src: Ipv4Address, dst: Ipv4Address, port: number): DnsStream {
    const a = new MemoryStream(this.clock, this.latency);
    const b = new MemoryStream(this.clock, this.latency);
    a.peer = b;
    b.peer = a;
    const accept = this.tcp.get(`${dst}:${port}`);
    this.clock.schedule(this.clock.now() + this.latency, () => {
      if (accept) accept(b, { address: src, port: this.nextEphemeral++ });
      else a.end(new Error('ECONNREFUSED'));
    });
    return a;
  }
}

class MemoryStream implements DnsStream {
  peer: MemoryStream | null = null;
  private dataListener: ((chunk: Uint8Array) => void) | null = null;
  private closeListener: ((e?: Error) => void) | null = null;
  private closed = false;

  constructor(private readonly clock: Clock, private readonly latency: number) {}

  write(data: Uint8Array): void {
    if (this.closed) throw new Error('stream closed');
    const copy = data.slice();
    const peer = this.peer;
    // Split in two chunks so the reader's framing is exercised.
    const cut = copy.length >> 1;
    for (const part of cut > 0 ? [copy.subarray(0, cut), copy.subarray(cut)] : [copy]) {
      this.clock.schedule(this.clock.now() + this.latency, () => {
        if (peer && !peer.closed) peer.dataListener?.(part);
      });
    }
  }

  onData(l: (chunk: Uint8Array) => void): void { this.dataListener = l; }
  onClose(l: (e?: Error) => void): void { this.closeListener = l; }

  close(): void {
    if (this.closed) return;
    this.end();
    const peer = this.peer;
    this.clock.schedule(this.clock.now() + this.latency, () => peer?.end());
  }

  end(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeListener?.(error);
  }
}
