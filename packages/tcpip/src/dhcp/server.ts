/**
 * A small DHCP server (RFC 2131) for the simulated world and for tests: one
 * subnet, an address pool, leases by client identifier (or hardware address),
 * options netmask, router, DNS servers, domain name, lease time, T1, T2.
 *
 * `handle()` is pure apart from the lease table (bytes in, replies out, time
 * from the Clock); `listen()` binds it to a port-67 socket. Replies go to the
 * client's address when it has one (ciaddr), else to the link broadcast:
 * unicast to a yiaddr would need an ARP entry we cannot add from here.
 * Relayed requests (giaddr) are answered through the relay.
 */
import type { Clock } from '@pnet/nic';
import {
  BOOTP_REPLY, BOOTP_REQUEST, decodeDhcpMessage, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessage, DhcpMessageType,
  DhcpMessageTypeValue, DhcpOptions, dhcpMessage, encodeDhcpMessage,
} from '../wire/dhcp';
import { formatIpv4, IPV4_ANY, IPV4_BROADCAST, Ipv4Address, maskToPrefix, prefixToMask } from '../wire/ipv4-address';
import type { DhcpPeer, DhcpSocket } from './transport';
import { countDrop, countError, ProtocolStats } from '../stats';

export interface DhcpServerOptions {
  clock: Clock;
  /** Our address on the subnet: the server identifier. */
  serverId: Ipv4Address;
  /** First and last address to lease (inclusive). */
  pool: { start: Ipv4Address; end: Ipv4Address };
  /** Prefix length or dotted netmask of the subnet. */
  netmask: number | Ipv4Address;
  routers?: Ipv4Address[];
  dnsServers?: Ipv4Address[];
  domainName?: string;
  /** Seconds (3600). */
  leaseTime?: number;
  /** T1, seconds (half the lease). */
  renewalTime?: number;
  /** T2, seconds (7/8 of the lease). */
  rebindingTime?: number;
  /** How long an offered address is held for the client, ms (60 s). */
  offerHold?: number;
  /** Also count messages here (rx, tx, errors and drops by reason), e.g. `stack.stats.get('dhcp')`. */
  counters?: ProtocolStats;
  /** How long an address declined by a client is kept out of the pool, ms (10 min). */
  declineHold?: number;
}

export interface DhcpServerLease {
  address: Ipv4Address;
  clientKey: string;
  chaddr: number;
  state: 'offered' | 'bound' | 'declined';
  /** Clock time (ms) when the binding ends. */
  expires: number;
}

export interface DhcpServerStats {
  discovers: number;
  requests: number;
  releases: number;
  declines: number;
  informs: number;
  offers: number;
  acks: number;
  naks: number;
  malformed: number;
  ignored: number;
  poolExhausted: number;
}

export interface DhcpReply {
  data: Uint8Array;
  address: Ipv4Address;
  port: number;
}

export class DhcpServer {
  readonly stats: DhcpServerStats = {
    discovers: 0, requests: 0, releases: 0, declines: 0, informs: 0, offers: 0, acks: 0, naks: 0, malformed: 0, ignored: 0,
    poolExhausted: 0,
  };
  private readonly byAddress = new Map<Ipv4Address, DhcpServerLease>();
  private readonly byClient = new Map<string, DhcpServerLease>();
  private readonly mask: number;
  private readonly leaseTime: number;
  private readonly t1: number;
  private readonly t2: number;
  private socket: DhcpSocket | null = null;
  /** Where messages are also counted (from the options; `serveDhcp` sets the stack's). */
  counters: ProtocolStats | null;

  constructor(private readonly o: DhcpServerOptions) {
    if (!o || !o.clock || o.serverId === undefined || !o.pool) throw new TypeError('DhcpServer: clock, serverId and pool are required');
    const prefix = o.netmask <= 32 ? o.netmask : maskToPrefix(o.netmask);
    if (prefix < 0 || prefix > 32) throw new TypeError(`DhcpServer: bad netmask ${o.netmask}`);
    this.mask = prefixToMask(prefix);
    if (o.pool.start > o.pool.end || !this.onSubnet(o.pool.start) || !this.onSubnet(o.pool.end)) {
      throw new TypeError(`DhcpServer: pool ${formatIpv4(o.pool.start)}-${formatIpv4(o.pool.end)} is not inside the server's subnet`);
    }
    this.counters = o.counters ?? null;
    this.leaseTime = o.leaseTime ?? 3600;
    this.t1 = o.renewalTime ?? Math.floor(this.leaseTime / 2);
    this.t2 = o.rebindingTime ?? Math.floor(this.leaseTime * 7 / 8);
    if (!(this.t1 < this.t2 && this.t2 <= this.leaseTime)) throw new TypeError('DhcpServer: need renewalTime < rebindingTime <= leaseTime');
  }

  /** Current bindings (expired ones are dropped). */
  leases(): DhcpServerLease[] {
    this.expire();
    return [...this.byAddress.values()].map((l) => ({ ...l }));
  }

  listen(socket: DhcpSocket): void {
    if (this.socket) throw new Error('DhcpServer: already listening');
    this.socket = socket;
    socket.onMessage((data, from) => {
      for (const r of this.handle(data, from)) {
        try { socket.send(r.data, r.address, r.port); } catch { /* no route: the client retransmits */ }
      }
    });
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  /** Handles one datagram that arrived on port 67; returns the replies to send. */
  handle(data: Uint8Array, _from?: DhcpPeer): DhcpReply[] {
    const c = this.counters;
    if (c) c.rx++;
    const d = decodeDhcpMessage(data);
    if (!d.ok) { this.stats.malformed++; if (c) countError(c, d.error); return []; }
    const replies = this.dispatch(d.message);
    if (c) c.tx += replies.length;
    return replies;
  }

  private ignore(reason: string): DhcpReply[] {
    this.stats.ignored++;
    if (this.counters) countDrop(this.counters, reason);
    return [];
  }

  private dispatch(m: DhcpMessage): DhcpReply[] {
    if (m.op !== BOOTP_REQUEST || m.htype !== 1 || m.hlen !== 6 || m.options.messageType === undefined) return this.ignore('not-a-request');
    this.expire();
    switch (m.options.messageType) {
      case DhcpMessageType.DISCOVER: return this.discover(m);
      case DhcpMessageType.REQUEST: return this.request(m);
      case DhcpMessageType.RELEASE: return this.release(m);
      case DhcpMessageType.DECLINE: return this.decline(m);
      case DhcpMessageType.INFORM: return this.inform(m);
      default: return this.ignore('unexpected-type');
    }
  }

  // ------------------------------------------------------------ leases

  private onSubnet(a: Ipv4Address): boolean {
    return ((a & this.mask) >>> 0) === ((this.o.serverId & this.mask) >>> 0);
  }

  private inPool(a: Ipv4Address): boolean {
    return a >= this.o.pool.start && a <= this.o.pool.end && a !== this.o.serverId;
  }

  private clientKey(m: DhcpMessage): string {
    return m.options.clientId ? `id:${Buffer.from(m.options.clientId).toString('hex')}` : `hw:${m.chaddr}`;
  }

  private expire(): void {
    const now = this.o.clock.now();
    for (const l of [...this.byAddress.values()]) if (l.expires <= now) this.drop(l);
  }

  private drop(l: DhcpServerLease): void {
    this.byAddress.delete(l.address);
    if (this.byClient.get(l.clientKey) === l) this.byClient.delete(l.clientKey);
  }

  private bind(m: DhcpMessage, address: Ipv4Address, state: 'offered' | 'bound', holdMs: number): void {
    const key = this.clientKey(m);
    const old = this.byClient.get(key);
    if (old && old.address !== address) this.drop(old);
    const l: DhcpServerLease = { address, clientKey: key, chaddr: m.chaddr, state, expires: this.o.clock.now() + holdMs };
    this.byAddress.set(address, l);
    this.byClient.set(key, l);
  }

  private free(a: Ipv4Address, key: string): boolean {
    if (!this.inPool(a)) return false;
    const l = this.byAddress.get(a);
    return !l || l.clientKey === key;
  }

  private pick(m: DhcpMessage): Ipv4Address | null {
    const key = this.clientKey(m);
    const mine = this.byClient.get(key);
    if (mine && mine.state !== 'declined') return mine.address;
    const wanted = m.options.requestedIp;
    if (wanted !== undefined && this.free(wanted, key)) return wanted;
    for (let a = this.o.pool.start as number; a <= this.o.pool.end; a++) {
      if (this.free(a as Ipv4Address, key)) return a as Ipv4Address;
    }
    return null;
  }

  // ------------------------------------------------------------ messages

  private discover(m: DhcpMessage): DhcpReply[] {
    this.stats.discovers++;
    const a = this.pick(m);
    if (a === null) { this.stats.poolExhausted++; return []; }
    this.bind(m, a, 'offered', this.o.offerHold ?? 60_000);
    this.stats.offers++;
    return [this.reply(m, DhcpMessageType.OFFER, a, this.leaseOptions())];
  }

  private request(m: DhcpMessage): DhcpReply[] {
    this.stats.requests++;
    const key = this.clientKey(m);
    const sid = m.options.serverId;
    const mine = this.byClient.get(key);
    if (sid !== undefined) {
      // SELECTING: the client answers an offer, ours or another server's.
      if (sid !== this.o.serverId) {
        if (mine && mine.state === 'offered') this.drop(mine);
        return this.ignore('other-server');
      }
      const want = m.options.requestedIp;
      if (mine && want === mine.address && mine.state !== 'declined') return [this.ack(m, want)];
      return [this.nak(m, 'offer no longer valid')];
    }
    const want = m.options.requestedIp ?? (m.ciaddr !== IPV4_ANY ? m.ciaddr : undefined);
    if (want === undefined) return this.ignore('no-address');
    if (m.options.requestedIp !== undefined && m.ciaddr === IPV4_ANY) {
      // INIT-REBOOT: the client checks an address it remembers.
      if (!this.onSubnet(want)) return [this.nak(m, 'wrong network')];
      if (mine?.address === want || this.free(want, key)) return [this.ack(m, want)];
      return [this.nak(m, 'address not available')];
    }
    // RENEWING / REBINDING: ciaddr is the leased address.
    if (mine && mine.address === want && mine.state === 'bound') return [this.ack(m, want)];
    // We are authoritative for our subnet: an address there that we did not lease is wrong.
    if (this.onSubnet(want)) return [this.nak(m, 'no such lease')];
    return this.ignore('other-network'); // another network's client (RFC 2131 4.3.2: stay silent)
  }

  private release(m: DhcpMessage): DhcpReply[] {
    this.stats.releases++;
    const mine = this.byClient.get(this.clientKey(m));
    if (mine && mine.address === m.ciaddr) this.drop(mine);
    return [];
  }

  private decline(m: DhcpMessage): DhcpReply[] {
    this.stats.declines++;
    const a = m.options.requestedIp;
    const mine = this.byClient.get(this.clientKey(m));
    if (a !== undefined && mine && mine.address === a) {
      this.drop(mine);
      // Keep the address out of the pool for a while: someone else is using it.
      this.byAddress.set(a, { address: a, clientKey: '', chaddr: 0, state: 'declined', expires: this.o.clock.now() + (this.o.declineHold ?? 600_000) });
    }
    return [];
  }

  private inform(m: DhcpMessage): DhcpReply[] {
    this.stats.informs++;
    const opts = this.leaseOptions();
    delete opts.leaseTime; delete opts.renewalTime; delete opts.rebindingTime;
    this.stats.acks++;
    return [this.reply(m, DhcpMessageType.ACK, IPV4_ANY, opts)];
  }

  private ack(m: DhcpMessage, a: Ipv4Address): DhcpReply {
    this.bind(m, a, 'bound', this.leaseTime === 0xffffffff ? Infinity : this.leaseTime * 1000);
    this.stats.acks++;
    return this.reply(m, DhcpMessageType.ACK, a, this.leaseOptions());
  }

  private nak(m: DhcpMessage, why: string): DhcpReply {
    this.stats.naks++;
    return this.reply(m, DhcpMessageType.NAK, IPV4_ANY, { message: why });
  }

  private leaseOptions(): DhcpOptions {
    const o: DhcpOptions = {
      leaseTime: this.leaseTime, renewalTime: this.t1, rebindingTime: this.t2, subnetMask: this.mask as Ipv4Address,
      broadcastAddress: ((this.o.serverId | ~this.mask) >>> 0) as Ipv4Address,
    };
    if (this.o.routers?.length) o.routers = this.o.routers;
    if (this.o.dnsServers?.length) o.dnsServers = this.o.dnsServers;
    if (this.o.domainName !== undefined) o.domainName = this.o.domainName;
    return o;
  }

  private reply(m: DhcpMessage, type: DhcpMessageTypeValue, yiaddr: Ipv4Address, options: DhcpOptions): DhcpReply {
    const msg = dhcpMessage(BOOTP_REPLY, m.xid, m.chaddr, { messageType: type, serverId: this.o.serverId, ...options }, {
      yiaddr, flags: m.flags, giaddr: m.giaddr, ciaddr: type === DhcpMessageType.NAK ? IPV4_ANY : m.ciaddr,
      siaddr: IPV4_ANY,
    });
    if (m.options.clientId) msg.options.clientId = m.options.clientId;
    const data = encodeDhcpMessage(msg);
    // RFC 2131 4.1: through the relay; NAKs broadcast; to ciaddr when the client has one; else broadcast.
    if (m.giaddr !== IPV4_ANY) return { data, address: m.giaddr, port: DHCP_SERVER_PORT };
    if (type !== DhcpMessageType.NAK && m.ciaddr !== IPV4_ANY) return { data, address: m.ciaddr, port: DHCP_CLIENT_PORT };
    return { data, address: IPV4_BROADCAST, port: DHCP_CLIENT_PORT };
  }
}
