/**
 * What the resolver and the DNS server need from below: UDP sockets and TCP
 * streams, reduced to the few calls they make. Over the Stack this is an
 * adapter on `stack.udp` / `stack.tcp` (see `stack-transport.ts`); tests plug
 * in fakes and drive them in virtual time.
 */
import type { Ipv4Address } from '../wire/ipv4-address';

export interface DnsPeer {
  address: Ipv4Address;
  port: number;
}

export interface DnsDatagramSocket {
  readonly localPort: number;
  send(data: Uint8Array, port: number, address: Ipv4Address): void;
  /** `data` may be kept (it is the caller's copy). */
  onMessage(listener: (data: Uint8Array, from: DnsPeer) => void): void;
  /** Optional: an ICMP error (port/host unreachable) about a datagram this socket sent to `to`. */
  onUnreachable?(listener: (to: DnsPeer) => void): void;
  close(): void;
}

/** A connected byte stream (TCP). */
export interface DnsStream {
  write(data: Uint8Array): void;
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Called once when the stream ends, fails or is refused. */
  onClose(listener: (error?: Error) => void): void;
  close(): void;
}

export interface DnsTransport {
  /**
   * A UDP socket bound to `localPort` (0: any). Throws when the port is taken,
   * so the resolver can draw another one.
   */
  openUdp(localPort: number): DnsDatagramSocket;
  /**
   * A TCP connection to `address:port`. Absent, or returning null, when there
   * is no TCP (then a truncated UDP reply is used as it is); throws when the
   * connection cannot be opened.
   */
  connectTcp?(address: Ipv4Address, port: number): DnsStream | null;
}

/** A TCP listener for the server side. */
export interface DnsStreamListener {
  onConnection(listener: (stream: DnsStream, from: DnsPeer) => void): void;
  close(): void;
}

/**
 * Splits a byte stream into DNS messages framed by a 2-byte length
 * (RFC 1035 4.2.2). Bounded: at most one 64 KiB message is buffered.
 */
export class DnsStreamFramer {
  private buf = new Uint8Array(0);
  constructor(private readonly onMessage: (msg: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    let p = 0;
    while (joined.length - p >= 2) {
      const len = (joined[p] << 8) | joined[p + 1];
      if (joined.length - p - 2 < len) break;
      const msg = joined.slice(p + 2, p + 2 + len);
      p += 2 + len;
      this.onMessage(msg);
    }
    this.buf = joined.slice(p);
  }

  static frame(msg: Uint8Array): Uint8Array {
    const out = new Uint8Array(msg.length + 2);
    out[0] = msg.length >> 8;
    out[1] = msg.length & 0xff;
    out.set(msg, 2);
    return out;
  }
}
