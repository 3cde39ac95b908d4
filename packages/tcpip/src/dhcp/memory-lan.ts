/**
 * An in-memory broadcast domain of UDP ports in virtual time, for running the
 * DHCP client against the server without a Stack. A datagram to
 * 255.255.255.255 reaches every other socket on that port; a unicast one the
 * sockets whose host currently has that address. `filter` can drop or rewrite
 * datagrams (loss, a second server, corruption).
 */
import type { Clock } from '@pnet/nic';
import { IPV4_ANY, IPV4_BROADCAST, Ipv4Address } from '../wire/ipv4-address';
import type { DhcpPeer, DhcpSocket } from './transport';

export interface LanDatagram {
  src: DhcpPeer;
  dst: DhcpPeer;
  data: Uint8Array;
  /** Clock time it was sent (set by the LAN). */
  at?: number;
}

interface Member {
  address: () => Ipv4Address;
  port: number;
  listener: ((data: Uint8Array, from: DhcpPeer) => void) | null;
}

export class MemoryLan {
  filter: ((d: LanDatagram) => boolean | LanDatagram) | null = null;
  /** Every datagram sent, before the filter. */
  readonly sent: LanDatagram[] = [];
  private readonly members = new Set<Member>();

  constructor(readonly clock: Clock, readonly latency = 1) {}

  /** A socket on `port` for a host whose address (0.0.0.0 while unconfigured) `address()` tells. */
  socket(address: () => Ipv4Address, port: number): DhcpSocket {
    const me: Member = { address, port, listener: null };
    this.members.add(me);
    return {
      send: (data, dst, dport) => {
        let d: LanDatagram = { src: { address: address(), port }, dst: { address: dst, port: dport }, data: data.slice(), at: this.clock.now() };
        this.sent.push(d);
        if (this.filter) {
          const f = this.filter(d);
          if (f === false) return;
          if (f !== true) d = f;
        }
        this.deliver(d, me);
      },
      onMessage: (l) => { me.listener = l; },
      close: () => { this.members.delete(me); me.listener = null; },
    };
  }

  /** Delivers a datagram as if some other host had sent it. */
  inject(d: LanDatagram): void {
    this.deliver(d, null);
  }

  private deliver(d: LanDatagram, from: Member | null): void {
    const targets = [...this.members].filter((m) => m !== from && m.port === d.dst.port &&
      (d.dst.address === IPV4_BROADCAST || (d.dst.address !== IPV4_ANY && m.address() === d.dst.address)));
    for (const t of targets) {
      this.clock.schedule(this.clock.now() + this.latency, () => t.listener?.(d.data.slice(), { ...d.src }));
    }
  }
}
