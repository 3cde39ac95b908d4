/**
 * The Stack: interfaces (plus `lo`), ARP, routing, IPv4, ICMP, UDP — and the
 * place TCP and DNS plug in. Sans-IO: it only moves when `poll()` runs (frames
 * waiting in the NICs' rings, due timers) and says when it next needs to run
 * with `pollAt()`. `start()` attaches a driver that polls on receive and on
 * the clock; tests may instead call `poll()` themselves in virtual time.
 */
import * as nic from '@pnet/nic';
import type { Clock, Nic, Rng, TimerHandle } from '@pnet/nic';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetHeader, parseEthernet } from '../wire/ethernet';
import { IPV4_LOOPBACK, Ipv4Address } from '../wire/ipv4-address';
import { StackStats, countDrop, countError } from '../stats';
import { ArpCache, ArpTimings } from './arp-cache';
import { LoopbackNic } from './loopback-nic';
import { NetworkInterface } from './network-interface';
import { Route, RoutingTables, toIpv4, toPrefix } from '../ip/routing';
import { Ipv4Layer } from '../ip/ipv4-layer';
import type { ReassemblyLimits } from '../ip/reassembly';
import { IcmpLayer, IcmpRateLimit } from '../icmp/icmp-layer';
import { UdpLayer } from '../udp/udp-layer';
import { TcpLayer } from '../tcp/tcp-layer';
import { TcpGro } from './gro';
import type { TcpConfig } from '../tcp/config';

// Read once: `@pnet/nic` re-exports through getters, and one getter call per frame showed in profiles.
const { BROADCAST_MAC, NO_TIMER } = nic;

export interface StackOptions {
  clock: Clock;
  rng: Rng;
  /** A name for logs and pcaps (default 'stack'). */
  name?: string;
  /** Forward datagrams between interfaces (a router). Default false. */
  forwarding?: boolean;
  arp?: Partial<ArpTimings>;
  reassembly?: Partial<ReassemblyLimits>;
  icmpRateLimit?: Partial<IcmpRateLimit>;
  /** MTU of `lo` (default 16384). */
  loopbackMtu?: number;
  /** TCP settings (src/tcp/config.ts). */
  tcp?: Partial<TcpConfig>;
}

export interface IpconfigInfo {
  ip?: Ipv4Address | string | number;
  /** Prefix length, or a dotted mask. */
  netmask?: number | string;
  up?: boolean;
}

export interface IpconfigResult {
  ip: Ipv4Address;
  /** Prefix length. */
  netmask: number;
  up: boolean;
}

/** Something else that needs the stack's time (DNS, DHCP, ...). */
export interface Pollable {
  pollAt(): number;
  poll(now: number): void;
}

export class Stack {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly name: string;
  readonly stats = new StackStats();
  /** Every interface; `lo` first. */
  readonly interfaces: NetworkInterface[] = [];
  readonly lo: NetworkInterface;
  readonly routes = new RoutingTables();
  readonly arp: ArpCache;
  readonly ip: Ipv4Layer;
  readonly icmp: IcmpLayer;
  readonly udp: UdpLayer;
  /** TCP (src/tcp/tcp-layer.ts); it registers itself with `ip.register`. */
  readonly tcp: TcpLayer;
  /** DNS resolver (the DNS engineer's), attached the same way. */
  dns: any = undefined;
  /** Forward datagrams not addressed to us (router mode). */
  forwarding: boolean;

  private readonly eth = new EthernetHeader();
  private readonly gro: TcpGro;
  private readonly pollables: Pollable[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private running = false;
  private timer: TimerHandle = NO_TIMER;
  private timerAt = Infinity;
  private readonly runDriver = (): void => {
    this.timer = NO_TIMER;
    this.timerAt = Infinity;
    try {
      this.poll();
    } finally {
      if (this.running) this.scheduleAt(this.pollAt());
    }
  };

  constructor(options: StackOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('new Stack({ clock, rng, name? }): options object required');
    if (!options.clock || typeof options.clock.now !== 'function') throw new TypeError('new Stack: options.clock must be a Clock');
    if (!options.rng || typeof options.rng.nextU32 !== 'function') throw new TypeError('new Stack: options.rng must be an Rng');
    this.clock = options.clock;
    this.rng = options.rng;
    this.name = options.name ?? 'stack';
    this.forwarding = options.forwarding ?? false;
    const loNic = new LoopbackNic(this.clock, options.loopbackMtu ?? 16384);
    this.lo = new NetworkInterface('lo', 0, loNic, true);
    this.interfaces.push(this.lo);
    this.watch(this.lo);
    this.arp = new ArpCache(this, options.arp);
    this.ip = new Ipv4Layer(this, options.reassembly);
    this.icmp = new IcmpLayer(this, options.icmpRateLimit);
    this.udp = new UdpLayer(this);
    this.ip.register(this.icmp);
    this.ip.register(this.udp);
    this.tcp = new TcpLayer(this, options.tcp);
    this.gro = new TcpGro(this.tcp, this.stats);
    this.ipconfig('lo', { ip: IPV4_LOOPBACK, netmask: 8, up: true });
  }

  // ---- interfaces and addressing ----

  /** Adds a NIC as `eth0`, `eth1`, ... (or `name`), optionally configured at once. */
  addInterface(nic: Nic, options: { name?: string } & IpconfigInfo = {}): NetworkInterface {
    if (!nic || typeof nic.transmit !== 'function') throw new TypeError('addInterface: a Nic is required');
    if (this.interfaces.some((i) => i.nic === nic)) throw new Error(`addInterface: ${nic.name} is already attached`);
    const name = options.name ?? `eth${this.interfaces.length - 1}`;
    if (this.interface(name)) throw new Error(`addInterface: an interface named ${name} exists`);
    const iface = new NetworkInterface(name, this.interfaces.length, nic, false);
    this.interfaces.push(iface);
    this.routes.invalidate(); // decisions for routes naming this device, or gateways on its subnet
    this.watch(iface);
    if (options.ip !== undefined || options.netmask !== undefined || options.up !== undefined) {
      this.ipconfig(name, { ip: options.ip, netmask: options.netmask, up: options.up });
    }
    return iface;
  }

  interface(name: string): NetworkInterface | undefined {
    const list = this.interfaces;
    for (let i = 0; i < list.length; i++) if (list[i].name === name) return list[i];
    return undefined;
  }

  /**
   * Phoenix's ipconfig: reads (no `info`) or changes a device's address, mask
   * and state; null for an unknown device. A new address replaces the
   * device's routes in table 0 (local, broadcast and the connected subnet)
   * and is announced with a gratuitous ARP.
   */
  ipconfig(device: string, info?: IpconfigInfo): IpconfigResult | null {
    if (typeof device !== 'string') throw new TypeError(`bad argument #1 to 'ipconfig' (expected string, got ${typeof device})`);
    const iface = this.interface(device);
    if (!iface) return null;
    if (info !== undefined) {
      if (info === null || typeof info !== 'object') throw new TypeError(`bad argument #2 to 'ipconfig' (expected table, got ${info === null ? 'nil' : typeof info})`);
      let ip = iface.ip;
      let prefix = iface.prefix;
      if (info.ip !== undefined) ip = toIpv4(info.ip, 'field "ip"');
      if (info.netmask !== undefined) prefix = toPrefix(info.netmask, 'field "netmask"');
      else if (info.ip !== undefined && iface.ip === 0) prefix = classfulPrefix(ip);
      if (info.up !== undefined && typeof info.up !== 'boolean') throw new TypeError('bad field "up" (expected boolean)');
      const wasUp = iface.adminUp;
      if (info.up !== undefined) iface.adminUp = info.up;
      const changed = ip !== iface.ip || prefix !== iface.prefix;
      if (changed) {
        this.gro.reset(); // (called from a handler inside a receive batch) the next frame is checked in full
        this.routes.invalidate(); // local addresses, on-link subnets and sources change even without routes
        this.routes.removeWhere((r) => iface.autoRoutes.includes(r));
        iface.autoRoutes = [];
        iface.ip = ip;
        iface.prefix = ip === 0 ? 0 : prefix;
        if (ip !== 0) this.addInterfaceRoutes(iface);
        this.arp.flush(iface);
      }
      if ((changed || (!wasUp && iface.adminUp)) && iface.up) this.arp.announce(iface);
    }
    return { ip: iface.ip, netmask: iface.prefix, up: iface.adminUp };
  }

  /** Whether `addr` is one of this host's addresses (127/8 included). */
  isLocalAddress(addr: Ipv4Address): boolean {
    if ((addr >>> 24) === 127) return true;
    const list = this.interfaces;
    for (let i = 0; i < list.length; i++) if (list[i].ip === addr && addr !== 0) return true;
    return false;
  }

  private addInterfaceRoutes(iface: NetworkInterface): void {
    const add = (spec: Parameters<RoutingTables['add']>[0]): void => {
      try {
        iface.autoRoutes.push(this.routes.add(spec));
      } catch {
        // The user already has a route there; theirs stays.
      }
    };
    const net = (iface.ip & iface.netmask) >>> 0 as Ipv4Address;
    if (iface.prefix < 32) add({ table: 0, source: net, sourceNetmask: iface.prefix, action: 'unicast', device: iface.name });
    if (!iface.loopback) add({ table: 0, source: iface.ip, sourceNetmask: 32, action: 'local', device: iface.name });
    if (iface.prefix < 31) add({ table: 0, source: iface.broadcastAddress, sourceNetmask: 32, action: 'broadcast', device: iface.name });
  }

  private watch(iface: NetworkInterface): void {
    this.unsubscribe.push(iface.nic.onReceive(() => {
      if (this.running) this.scheduleAt(this.clock.now());
    }));
    this.unsubscribe.push(iface.nic.onLinkChange((up) => {
      if (up && iface.ip !== 0) this.arp.announce(iface);
    }));
  }

  // ---- driving ----

  /** Registers something that needs the stack's time; returns a function that removes it. */
  addPollable(p: Pollable): () => void {
    this.pollables.push(p);
    this.wake();
    return () => {
      const i = this.pollables.indexOf(p);
      if (i >= 0) this.pollables.splice(i, 1);
    };
  }

  /** Processes received frames (at most `maxBurst` per NIC) and due timers. */
  poll(now: number = this.clock.now()): void {
    const list = this.interfaces;
    for (let i = 0; i < list.length; i++) this.pollInterface(list[i]);
    // (Asked first: ARP's poll, not optimised at one call per driver step, would box its deadline to compare it.)
    if (this.arp.pollAt() <= now) this.arp.poll(now);
    this.ip.poll(now);
    const ps = this.pollables;
    for (let i = 0; i < ps.length; i++) ps[i].poll(now);
  }

  /** When `poll` next has work: now if frames wait, else the earliest timer, else Infinity. */
  pollAt(): number {
    const list = this.interfaces;
    for (let i = 0; i < list.length; i++) if (list[i].nic.rx.size > 0) return this.clock.now();
    let t = Math.min(this.arp.pollAt(), this.ip.pollAt());
    const ps = this.pollables;
    for (let i = 0; i < ps.length; i++) {
      const x = ps[i].pollAt();
      if (x < t) t = x;
    }
    return t;
  }

  /** Something changed that may move `pollAt()` earlier (a new timer): the driver re-plans. Cheap; call freely. */
  wake(): void {
    if (this.running) this.scheduleAt(this.pollAt());
  }

  /** Attaches the driver: polls when frames arrive and when timers are due, on the stack's clock. */
  start(): this {
    if (this.running) return this;
    this.running = true;
    this.scheduleAt(this.pollAt());
    return this;
  }

  /** Detaches the driver (timers are cancelled so the process can exit). `poll()` still works by hand. */
  stop(): void {
    this.running = false;
    if (this.timer !== NO_TIMER) this.clock.cancel(this.timer);
    this.timer = NO_TIMER;
    this.timerAt = Infinity;
  }

  get started(): boolean {
    return this.running;
  }

  private scheduleAt(at: number): void {
    if (at === Infinity) return;
    if (this.timer !== NO_TIMER) {
      if (this.timerAt <= at) return;
      this.clock.cancel(this.timer);
    }
    this.timerAt = at;
    this.timer = this.clock.schedule(at, this.runDriver);
  }

  private pollInterface(iface: NetworkInterface): void {
    const ring = iface.nic.rx;
    if (ring.size === 0) return;
    let budget = Math.max(1, iface.nic.capabilities.maxBurst);
    // One receive batch: TCP may ACK the in-order data of a connection once, at its end.
    const tcp = this.tcp;
    // GRO (gro.ts): a frame continuing the previous one's run of in-order data skips the layers.
    const gro = tcp.config.gro && tcp.config.coalesceAcks && TcpGro.eligible(iface) ? this.gro : null;
    tcp.beginBatch();
    try {
      while (budget-- > 0) {
        const f = ring.peek();
        if (f === null) break;
        try {
          if (gro === null) {
            this.receiveFrame(iface, f.data, f.length);
          } else if (!gro.receive(iface, f.data, f.length)) {
            tcp.fastConn = null;
            this.receiveFrame(iface, f.data, f.length);
            gro.capture(iface, f.data, f.length);
          }
        } finally {
          ring.release();
        }
      }
    } finally {
      if (gro !== null) gro.reset();
      tcp.endBatch();
    }
  }

  /** One Ethernet frame from `iface` (borrowed for the call). */
  receiveFrame(iface: NetworkInterface, buf: Uint8Array, length: number): void {
    const stats = this.stats.ethernet;
    const eh = parseEthernet(buf, 0, length, this.eth);
    if (typeof eh === 'string') { countError(stats, eh); return; }
    stats.rx++;
    if (!iface.adminUp) { countDrop(stats, 'interface-down'); return; }
    let broadcast = false;
    if (!iface.loopback) {
      if (eh.dst === BROADCAST_MAC) broadcast = true;
      // (The multicast bit is tested inline: passing the 48-bit address to a call would box it.)
      else if (eh.dst !== iface.mac) { countDrop(stats, (Math.floor(eh.dst / 1099511627776) & 1) === 1 ? 'multicast' : 'other-host'); return; }
    }
    const tags = eh.vlanTags;
    for (let i = 0; i < tags.length; i++) {
      // Priority tags (VLAN 0) are untagged traffic; other VLANs are not configured here.
      if ((tags[i] & 0x0fff) !== 0) { countDrop(stats, 'vlan'); return; }
    }
    const hl = eh.headerLength;
    switch (eh.etherType) {
      case ETHERTYPE_IPV4:
        this.ip.receive(iface, buf, hl, length - hl, broadcast);
        return;
      case ETHERTYPE_ARP:
        if (iface.loopback) { countDrop(stats, 'arp-on-loopback'); return; }
        this.arp.receive(iface, buf, hl, length - hl);
        return;
      default:
        countDrop(stats, 'unknown-ethertype');
    }
  }

  /** Routes as text, ARP entries as text (for debugging). */
  toString(): string {
    return `${this.name}\n${this.interfaces.map((i) => `${i.name} ${i.ip >>> 24}.${(i.ip >>> 16) & 255}.${(i.ip >>> 8) & 255}.${i.ip & 255}/${i.prefix}`).join('\n')}\n${this.routes}\n${this.arp}`;
  }

  /** Stops the driver and detaches from the NICs (the NICs themselves stay open). */
  close(): void {
    this.stop();
    for (const u of this.unsubscribe.splice(0)) u();
  }
}

function classfulPrefix(ip: Ipv4Address): number {
  const a = ip >>> 24;
  return a < 128 ? 8 : a < 192 ? 16 : 24;
}

export type { Route };
