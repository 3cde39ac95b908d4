/**
 * The neighbour cache: IPv4 -> MAC per interface, with RFC 826 learning and a
 * small state machine (incomplete -> reachable -> stale -> probe), a bounded
 * queue of packets per unresolved neighbour, rate-limited requests, static
 * entries that replies cannot overwrite, and gratuitous ARP.
 */
import { BROADCAST_MAC, MacAddress, ZERO_MAC, formatMac, parseMac } from '@pnet/nic';
import { ARP_PACKET_LENGTH, ARP_REPLY, ARP_REQUEST, ArpPacket, parseArp, writeArp } from '../wire/arp';
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernetSimple } from '../wire/ethernet';
import { Ipv4Address, formatIpv4 } from '../wire/ipv4-address';
import { countDrop, countError } from '../stats';
import type { NetworkInterface } from './network-interface';
import type { Stack } from './stack';
import { toIpv4 } from '../ip/routing';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'probe' | 'static';

export interface ArpTimings {
  /** How long a confirmed entry stays reachable (ms). */
  reachable: number;
  /** How long a stale entry is kept unused before it is forgotten (ms). */
  staleLifetime: number;
  /** Time between requests for one neighbour (ms). */
  retransmit: number;
  /** Requests before an incomplete entry fails (or a probed stale entry is dropped). */
  maxProbes: number;
  /** Packets waiting per unresolved neighbour, at most (and `queueBytes` bytes). */
  queuePackets: number;
  queueBytes: number;
  /** Requests per second over the whole stack, with this burst. */
  requestsPerSecond: number;
  requestBurst: number;
}

export const DEFAULT_ARP_TIMINGS: ArpTimings = {
  reachable: 30_000, staleLifetime: 60_000, retransmit: 1_000, maxProbes: 3,
  queuePackets: 32, queueBytes: 65_536, requestsPerSecond: 20, requestBurst: 10,
};

export interface ArpEntryInfo {
  ip: Ipv4Address;
  mac: MacAddress | null;
  state: NeighborState;
  device: string;
}

class Neighbor {
  mac = ZERO_MAC;
  state: NeighborState = 'incomplete';
  /** When the current state's timer fires (Infinity for none). */
  timerAt = Infinity;
  probes = 0;
  readonly queue: Uint8Array[] = [];
  queuedBytes = 0;
  constructor(readonly iface: NetworkInterface, readonly ip: Ipv4Address) {}
}

export class ArpCache {
  readonly timings: ArpTimings;
  /** Per interface index: neighbours keyed by `ip | 0` (an int32, so lookups box nothing). */
  private readonly tables: Map<number, Neighbor>[] = [];
  private readonly rxPacket = new ArpPacket();
  private nextDue = Infinity;
  private tokens: number;
  private tokensAt = 0;

  constructor(private readonly stack: Stack, timings: Partial<ArpTimings> = {}) {
    this.timings = { ...DEFAULT_ARP_TIMINGS, ...timings };
    this.tokens = this.timings.requestBurst;
  }

  // ---- the user-facing part (Phoenix's arp.list / arp.set) ----

  /** The entries of a device (resolved and pending), or null when the device does not exist. */
  list(device: string): ArpEntryInfo[] | null {
    const iface = this.stack.interface(device);
    if (!iface) return null;
    const out: ArpEntryInfo[] = [];
    for (const n of this.table(iface).values()) {
      out.push({ ip: n.ip, mac: n.state === 'incomplete' ? null : n.mac, state: n.state, device: iface.name });
    }
    return out.sort((a, b) => a.ip - b.ip);
  }

  /** Sets a static entry (MAC as a MacAddress or text), or with `null` removes the entry. */
  set(device: string, ip: Ipv4Address | string, mac: MacAddress | string | null): void {
    const iface = this.stack.interface(device);
    if (!iface) throw new Error(`No such device: ${device}`);
    const addr = toIpv4(ip, 'ip');
    const table = this.table(iface);
    const k = addr | 0;
    if (mac === null) {
      const n = table.get(k);
      if (n) { this.failQueue(n); table.delete(k); }
      return;
    }
    const m = typeof mac === 'string' ? parseMac(mac) : mac;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 0 || m >= 2 ** 48) throw new TypeError(`bad MAC address: ${String(mac)}`);
    const n = table.get(k) ?? new Neighbor(iface, addr);
    table.set(k, n);
    n.mac = m as MacAddress;
    n.state = 'static';
    n.timerAt = Infinity;
    this.flushQueue(n);
  }

  /** Removes every dynamic entry (and static ones with `includeStatic`) of an interface. */
  flush(iface: NetworkInterface, includeStatic = false): void {
    const table = this.table(iface);
    for (const [k, n] of table) {
      if (includeStatic || n.state !== 'static') {
        this.failQueue(n);
        table.delete(k);
      }
    }
  }

  // ---- the stack-facing part ----

  /**
   * The MAC of `ip` on `iface`, or -1 when it is not known yet (a request goes
   * out, rate-limited; queue the packet with `enqueue`).
   */
  resolve(iface: NetworkInterface, ip: Ipv4Address): MacAddress | -1 {
    const table = this.table(iface);
    let n = table.get(ip | 0);
    if (n !== undefined && n.state === 'reachable') return n.mac;
    const now = this.stack.clock.now();
    if (n === undefined) {
      n = new Neighbor(iface, ip);
      table.set(ip | 0, n);
      n.probes = 0;
      this.sendProbe(n, now);
      return -1;
    }
    switch (n.state) {
      case 'incomplete': return -1;
      case 'stale':
        // Still usable; confirm it in the background.
        n.state = 'probe';
        n.probes = 0;
        this.sendProbe(n, now);
        return n.mac;
      default: return n.mac;
    }
  }

  /**
   * `resolve` for the hot path: reads `t.iface`/`t.nextHop`, stores the MAC in
   * `t.mac` (no number crosses the call) and says whether it is known.
   */
  resolveInto(t: { iface: NetworkInterface; nextHop: Ipv4Address; mac: MacAddress }): boolean {
    const n = this.table(t.iface).get(t.nextHop | 0);
    if (n !== undefined && n.state === 'reachable') { t.mac = n.mac; return true; }
    const mac = this.resolve(t.iface, t.nextHop);
    if (mac === -1) return false;
    t.mac = mac;
    return true;
  }

  /** Holds an IPv4 packet (a copy the cache now owns) until `ip` resolves; drops the oldest when full. */
  enqueue(iface: NetworkInterface, ip: Ipv4Address, packet: Uint8Array): void {
    const n = this.table(iface).get(ip | 0);
    if (!n || n.state !== 'incomplete') {
      countDrop(this.stack.stats.arp, 'no-entry-for-queue');
      return;
    }
    n.queue.push(packet);
    n.queuedBytes += packet.length;
    while (n.queue.length > this.timings.queuePackets || n.queuedBytes > this.timings.queueBytes) {
      const old = n.queue.shift()!;
      n.queuedBytes -= old.length;
      countDrop(this.stack.stats.arp, 'queue-overflow');
    }
  }

  /** Announces the interface's address (gratuitous ARP request: sender = target = our address). */
  announce(iface: NetworkInterface): void {
    if (iface.loopback || iface.ip === 0 || !iface.up) return;
    this.transmit(iface, ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, iface.ip);
  }

  /** An ARP packet arrived on `iface` (the Ethernet payload). */
  receive(iface: NetworkInterface, buf: Uint8Array, offset: number, length: number): void {
    const stats = this.stack.stats.arp;
    const p = parseArp(buf, offset, length, this.rxPacket);
    if (typeof p === 'string') { countError(stats, p); return; }
    stats.rx++;
    if (p.operation !== ARP_REQUEST && p.operation !== ARP_REPLY) { countError(stats, 'bad-operation'); return; }
    if (p.senderMac === BROADCAST_MAC || (Math.floor(p.senderMac / 2 ** 40) & 1) === 1) { countError(stats, 'bad-sender-mac'); return; }
    const forUs = iface.ip !== 0 && p.targetIp === iface.ip;
    if (p.senderIp !== 0) {
      if (iface.ip !== 0 && p.senderIp === iface.ip && p.senderMac !== iface.mac) countDrop(stats, 'address-conflict');
      const table = this.table(iface);
      const k = p.senderIp | 0;
      const n = table.get(k);
      if (n !== undefined) {
        if (n.state === 'static') {
          if (n.mac !== p.senderMac) countDrop(stats, 'static-entry-kept');
        } else {
          this.confirm(n, p.senderMac);
        }
      } else if (forUs && p.senderIp !== iface.ip) {
        // RFC 826: whoever asks for us is about to talk to us; learn it.
        const fresh = new Neighbor(iface, p.senderIp);
        table.set(k, fresh);
        this.confirm(fresh, p.senderMac);
      }
    }
    if (p.operation === ARP_REQUEST) {
      if (forUs && iface.up) this.transmit(iface, ARP_REPLY, p.senderMac, p.senderMac, p.senderIp);
      else if (!forUs && p.senderIp !== p.targetIp) countDrop(stats, 'not-for-us');
    }
  }

  pollAt(): number {
    // The constant, not the field: a double read from a field is boxed afresh to be returned (per driver step).
    if (this.nextDue === Infinity) return Infinity;
    return this.nextDue;
  }

  poll(now: number): void {
    if (now < this.nextDue) return;
    let next = Infinity;
    for (const table of this.tables) {
    if (table === undefined) continue;
    for (const [k, n] of table) {
      if (n.timerAt <= now) {
        switch (n.state) {
          case 'incomplete':
            if (n.probes >= this.timings.maxProbes) {
              table.delete(k);
              this.failQueue(n);
              continue;
            }
            this.sendProbe(n, now);
            break;
          case 'probe':
            if (n.probes >= this.timings.maxProbes) { table.delete(k); continue; }
            this.sendProbe(n, now);
            break;
          case 'reachable':
            n.state = 'stale';
            n.timerAt = now + this.timings.staleLifetime;
            break;
          case 'stale':
            table.delete(k);
            continue;
          default:
            n.timerAt = Infinity;
        }
      }
      if (n.timerAt < next) next = n.timerAt;
    }
    }
    this.nextDue = next;
  }

  private table(iface: NetworkInterface): Map<number, Neighbor> {
    return (this.tables[iface.index] ??= new Map());
  }

  private confirm(n: Neighbor, mac: MacAddress): void {
    n.mac = mac;
    n.state = 'reachable';
    n.probes = 0;
    this.setTimer(n, this.stack.clock.now() + this.timings.reachable);
    this.flushQueue(n);
  }

  private setTimer(n: Neighbor, at: number): void {
    n.timerAt = at;
    if (at < this.nextDue) {
      this.nextDue = at;
      this.stack.wake();
    }
  }

  /** Sends a request for `n` (unicast to the old MAC when probing a stale entry), rate-limited. */
  private sendProbe(n: Neighbor, now: number): void {
    this.setTimer(n, now + this.timings.retransmit);
    if (!this.takeToken(now)) {
      countDrop(this.stack.stats.arp, 'request-rate-limited');
      return;
    }
    n.probes++;
    const dst = n.state === 'probe' ? n.mac : BROADCAST_MAC;
    this.transmit(n.iface, ARP_REQUEST, dst, ZERO_MAC, n.ip);
  }

  private takeToken(now: number): boolean {
    const t = this.timings;
    this.tokens = Math.min(t.requestBurst, this.tokens + ((now - this.tokensAt) * t.requestsPerSecond) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private transmit(iface: NetworkInterface, op: number, ethDst: MacAddress, targetMac: MacAddress, targetIp: Ipv4Address): void {
    if (!iface.up || iface.loopback) return;
    const nic = iface.nic;
    const buf = nic.txBuffer();
    writeEthernetSimple(buf, 0, ethDst, iface.mac, ETHERTYPE_ARP);
    writeArp(buf, ETHERNET_HEADER_LENGTH, {
      operation: op, senderMac: iface.mac, senderIp: iface.ip, targetMac, targetIp,
    });
    if (nic.transmit(buf, ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH)) { this.stack.stats.arp.tx++; this.stack.stats.ethernet.tx++; }
    else countDrop(this.stack.stats.arp, 'nic-tx-failed');
  }

  private flushQueue(n: Neighbor): void {
    if (n.queue.length === 0) return;
    const packets = n.queue.splice(0);
    n.queuedBytes = 0;
    const nic = n.iface.nic;
    for (const p of packets) {
      if (!n.iface.up) { countDrop(this.stack.stats.ipv4, 'interface-down'); continue; }
      const buf = nic.txBuffer();
      writeEthernetSimple(buf, 0, n.mac, n.iface.mac, ETHERTYPE_IPV4);
      buf.set(p, ETHERNET_HEADER_LENGTH);
      if (nic.transmit(buf, ETHERNET_HEADER_LENGTH + p.length)) { this.stack.stats.ipv4.tx++; this.stack.stats.ethernet.tx++; }
      else countDrop(this.stack.stats.ipv4, 'nic-tx-failed');
    }
  }

  /** Resolution failed: every waiting packet is dropped and reported as host unreachable. */
  private failQueue(n: Neighbor): void {
    if (n.queue.length === 0) return;
    const packets = n.queue.splice(0);
    n.queuedBytes = 0;
    for (const p of packets) {
      countDrop(this.stack.stats.arp, 'resolution-failed');
      this.stack.ip.hostUnreachable(p);
    }
  }

  /** A text dump like `ip neigh` (for debugging). */
  toString(): string {
    return this.tables.flatMap((t) => (t ? [...t.values()] : [])).map((n) => `${formatIpv4(n.ip)} dev ${n.iface.name} ${n.state === 'incomplete' ? '' : 'lladdr ' + formatMac(n.mac) + ' '}${n.state}`).join('\n');
  }
}
