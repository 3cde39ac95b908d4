/**
 * A DHCP client (RFC 2131) as a state machine driven by the Clock:
 *
 *   INIT -> SELECTING (DISCOVER) -> REQUESTING (REQUEST) -> BOUND
 *   INIT -> REBOOTING (REQUEST for a remembered address, `initReboot`) -> BOUND, or INIT on NAK/silence
 *   (with an interface that can probe: ACK -> CHECKING (ARP) -> BOUND, or DECLINE and INIT after 10 s)
 *   BOUND -T1-> RENEWING (unicast REQUEST) -T2-> REBINDING (broadcast REQUEST) -expiry-> INIT
 *
 * Retransmissions back off as RFC 2131 4.1 asks: 4 s, 8 s, ... up to 64 s,
 * each randomized by +-1 s (from the injected Rng). While renewing or
 * rebinding it retransmits after half the time left to T2 / expiry, but not
 * sooner than 60 s (4.4.5). A NAK sends it back to INIT after a randomized
 * backoff that grows with consecutive NAKs. Replies must carry our xid and
 * hardware address; everything else is counted and ignored.
 *
 * The lease is applied through a `DhcpInterfaceConfigurator` (address,
 * netmask, default route, DNS servers) and removed on expiry, NAK or stop;
 * `stop()` sends a RELEASE first.
 */
import { EventEmitter } from 'node:events';
import type { Clock, Rng, TimerHandle } from '@pnet/nic';
import {
  BOOTP_REPLY, BOOTP_REQUEST, decodeDhcpMessage, DHCP_FLAG_BROADCAST, DHCP_SERVER_PORT, DhcpMessage, DhcpMessageType,
  DhcpMessageTypeValue, DhcpOption, DhcpOptions, dhcpMessage, encodeDhcpMessage,
} from '../wire/dhcp';
import { IPV4_ANY, IPV4_BROADCAST, Ipv4Address, maskToPrefix, prefixToMask } from '../wire/ipv4-address';
import { countDrop, countError, ProtocolStats } from '../stats';
import type { DhcpInterfaceConfigurator, DhcpLease, DhcpPeer, DhcpSocket } from './transport';

export type DhcpClientState =
  | 'stopped' | 'init' | 'rebooting' | 'selecting' | 'requesting' | 'checking' | 'bound' | 'renewing' | 'rebinding';

export interface DhcpClientOptions {
  clock: Clock;
  rng: Rng;
  /** Port 68 on the interface being configured. */
  socket: DhcpSocket;
  iface: DhcpInterfaceConfigurator;
  hostName?: string;
  clientId?: Uint8Array;
  /** An address to ask for in DISCOVER (e.g. the last lease). */
  requestedIp?: Ipv4Address;
  /**
   * Start in INIT-REBOOT (RFC 2131 3.2): first ask to keep `requestedIp` with a
   * broadcast REQUEST; a NAK or no answer falls back to DISCOVER.
   */
  initReboot?: boolean;
  /** Ask servers to broadcast their replies (true): we cannot receive unicast before we have an address. */
  broadcastFlag?: boolean;
  /** REQUEST transmissions in REQUESTING before starting over with DISCOVER (4). */
  maxRequestAttempts?: number;
  /** Also count messages here (rx, tx, errors and drops by reason), e.g. `stack.stats.get('dhcp')`. */
  counters?: ProtocolStats;
  /** Ms the address stays configured after a RELEASE on stop (0: removed at once). */
  releaseLinger?: number;
  /** Longest wait before the first DISCOVER, ms; the actual wait is random in [0, initDelay) (0: none). RFC 2131 suggests 1-10 s. */
  initDelay?: number;
}

export interface DhcpClientStats {
  discovers: number;
  requests: number;
  declines: number;
  releases: number;
  offers: number;
  acks: number;
  naks: number;
  /** Replies for another xid or hardware address, or of the wrong kind for the state. */
  ignored: number;
  malformed: number;
  sendErrors: number;
  expirations: number;
}

const PARAMETERS = [DhcpOption.SUBNET_MASK, DhcpOption.ROUTER, DhcpOption.DNS_SERVERS, DhcpOption.DOMAIN_NAME,
  DhcpOption.BROADCAST_ADDRESS, DhcpOption.LEASE_TIME, DhcpOption.SERVER_ID, DhcpOption.RENEWAL_TIME, DhcpOption.REBINDING_TIME];
const INFINITE = 0xffffffff;
const MIN_RENEW_RETRANSMIT = 60_000;
const MIN_LEASE = 20;

export class DhcpClientMachine extends EventEmitter {
  readonly stats: DhcpClientStats = {
    discovers: 0, requests: 0, declines: 0, releases: 0, offers: 0, acks: 0, naks: 0, ignored: 0, malformed: 0, sendErrors: 0, expirations: 0,
  };
  private st: DhcpClientState = 'stopped';
  private current: DhcpLease | null = null;
  private xid = 0;
  private timer: TimerHandle = 0;
  private attempts = 0;
  private offer: DhcpMessage | null = null;
  private acquireStart = 0;
  private requestSentAt = 0;
  private consecutiveNaks = 0;
  private lingerTimer: TimerHandle = 0;
  private finishLinger: (() => void) | null = null;
  private waiters: { resolve: (l: DhcpLease) => void; reject: (e: Error) => void; timer: TimerHandle }[] = [];
  private readonly o: Required<Omit<DhcpClientOptions, 'hostName' | 'clientId' | 'requestedIp' | 'counters'>> & DhcpClientOptions;
  private rebootPending: boolean;

  constructor(options: DhcpClientOptions) {
    super();
    if (!options || !options.clock || !options.rng || !options.socket || !options.iface) {
      throw new TypeError('DhcpClient: clock, rng, socket and iface are required');
    }
    this.o = { broadcastFlag: true, maxRequestAttempts: 4, initDelay: 0, releaseLinger: 0, initReboot: false, ...options };
    this.rebootPending = this.o.initReboot && this.o.requestedIp !== undefined;
    this.o.socket.onMessage((data, from) => this.receive(data, from));
  }

  get state(): DhcpClientState {
    return this.st;
  }

  /** The lease in force (BOUND, RENEWING, REBINDING), or null. */
  get lease(): DhcpLease | null {
    return this.current;
  }

  /**
   * Starts acquiring (if stopped) and resolves with the first lease. With
   * `timeout` (ms), rejects if no lease came by then and stops the client.
   */
  start(opts: { timeout?: number } = {}): Promise<DhcpLease> {
    if (this.current) return Promise.resolve(this.current);
    this.finishLinger?.(); // a stopped lease still lingering goes now, before a new one
    const p = new Promise<DhcpLease>((resolve, reject) => {
      const w = { resolve, reject, timer: 0 as TimerHandle };
      if (opts.timeout !== undefined) {
        w.timer = this.o.clock.schedule(this.o.clock.now() + opts.timeout, () => {
          this.waiters = this.waiters.filter((x) => x !== w);
          this.stop();
          reject(new Error(`DHCP: no lease within ${opts.timeout} ms`));
        });
      }
      this.waiters.push(w);
    });
    if (this.st === 'stopped') {
      const delay = this.o.initDelay > 0 ? this.o.rng.next() * this.o.initDelay : 0;
      this.enterInit(delay);
    }
    return p;
  }

  /**
   * Releases the lease (unless `release: false`), removes the configuration
   * and stops. With `releaseLinger` the address stays configured that many ms
   * after the RELEASE (so a unicast RELEASE waiting for ARP still goes out);
   * the promise resolves once the configuration is gone.
   */
  stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.st === 'stopped') return Promise.resolve();
    this.cancelTimer();
    const lease = this.current;
    this.current = null;
    this.setState('stopped');
    for (const w of this.waiters.splice(0)) {
      this.o.clock.cancel(w.timer);
      w.reject(new Error('DHCP: client stopped'));
    }
    if (!lease) return Promise.resolve();
    let linger = 0;
    if (opts.release !== false && lease.serverId !== IPV4_ANY) {
      this.xid = this.o.rng.nextU32();
      this.transmit(DhcpMessageType.RELEASE, { serverId: lease.serverId }, { ciaddr: lease.address }, lease.serverId);
      this.stats.releases++;
      linger = this.o.releaseLinger;
    }
    this.emit('released', lease);
    if (linger <= 0) {
      this.o.iface.remove(lease);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.o.clock.cancel(this.lingerTimer);
        this.lingerTimer = 0;
        this.finishLinger = null;
        this.o.iface.remove(lease);
        resolve();
      };
      this.finishLinger = done;
      this.lingerTimer = this.o.clock.schedule(this.o.clock.now() + linger, done);
    });
  }

  /** Closes the socket too; the machine cannot be started again. */
  close(): void {
    this.stop();
    this.o.socket.close();
  }

  // ------------------------------------------------------------ states

  private setState(s: DhcpClientState): void {
    if (this.st === s) return;
    this.st = s;
    this.emit('state', s);
  }

  private cancelTimer(): void {
    this.o.clock.cancel(this.timer);
    this.timer = 0;
  }

  private at(time: number, fn: () => void): void {
    this.cancelTimer();
    this.timer = this.o.clock.schedule(time, fn);
  }

  /** RFC 2131 4.1: 4 s, 8 s, ... 64 s, randomized by a uniform +-1 s. */
  private backoff(n: number): number {
    return Math.min(4000 * 2 ** n, 64_000) + (this.o.rng.next() * 2000 - 1000);
  }

  private enterInit(delay: number): void {
    this.setState('init');
    this.offer = null;
    this.at(this.o.clock.now() + delay, () => {
      this.acquireStart = this.o.clock.now();
      this.xid = this.o.rng.nextU32();
      this.attempts = 0;
      if (this.rebootPending) {
        // Only once: after a NAK or silence, a normal DISCOVER.
        this.rebootPending = false;
        this.setState('rebooting');
        this.sendRebootRequest();
        return;
      }
      this.setState('selecting');
      this.sendDiscover();
    });
  }

  private sendRebootRequest(): void {
    if (this.attempts >= this.o.maxRequestAttempts) {
      this.enterInit(0);
      return;
    }
    this.requestSentAt = this.o.clock.now();
    this.transmit(DhcpMessageType.REQUEST, { requestedIp: this.o.requestedIp! }, {}, IPV4_BROADCAST);
    this.stats.requests++;
    this.at(this.o.clock.now() + this.backoff(this.attempts++), () => this.sendRebootRequest());
  }

  private sendDiscover(): void {
    const opts: DhcpOptions = {};
    if (this.o.requestedIp !== undefined) opts.requestedIp = this.o.requestedIp;
    this.transmit(DhcpMessageType.DISCOVER, opts, {}, IPV4_BROADCAST);
    this.stats.discovers++;
    this.at(this.o.clock.now() + this.backoff(this.attempts++), () => this.sendDiscover());
  }

  private sendSelectingRequest(): void {
    const offer = this.offer!;
    if (this.attempts >= this.o.maxRequestAttempts) {
      this.enterInit(0);
      return;
    }
    this.requestSentAt = this.o.clock.now();
    this.transmit(DhcpMessageType.REQUEST, { requestedIp: offer.yiaddr, serverId: offer.options.serverId! }, {}, IPV4_BROADCAST);
    this.stats.requests++;
    this.at(this.o.clock.now() + this.backoff(this.attempts++), () => this.sendSelectingRequest());
  }

  private leaseTimes(lease: DhcpLease): { t1: number; t2: number; expiry: number } {
    const base = lease.obtainedAt;
    return { t1: base + lease.renewalTime * 1000, t2: base + lease.rebindingTime * 1000, expiry: base + lease.leaseTime * 1000 };
  }

  private enterBound(): void {
    this.setState('bound');
    const lease = this.current!;
    if (lease.leaseTime === INFINITE) { this.cancelTimer(); return; }
    this.at(this.leaseTimes(lease).t1, () => {
      this.xid = this.o.rng.nextU32();
      this.acquireStart = this.o.clock.now();
      this.setState('renewing');
      this.renewStep();
    });
  }

  /** RENEWING/REBINDING: send, then wait half the time left (at least 60 s) or until the next deadline. */
  private renewStep(): void {
    const lease = this.current!;
    const { t2, expiry } = this.leaseTimes(lease);
    const now = this.o.clock.now();
    if (this.st === 'renewing' && now >= t2) {
      this.setState('rebinding');
      this.xid = this.o.rng.nextU32();
    }
    if (this.st === 'rebinding' && now >= expiry) {
      this.expire();
      return;
    }
    const deadline = this.st === 'renewing' ? t2 : expiry;
    this.requestSentAt = now;
    this.transmit(DhcpMessageType.REQUEST, {}, { ciaddr: lease.address }, this.st === 'renewing' ? lease.serverId : IPV4_BROADCAST);
    this.stats.requests++;
    const wait = Math.max(MIN_RENEW_RETRANSMIT, (deadline - now) / 2);
    this.at(Math.min(now + wait, deadline), () => this.renewStep());
  }

  private expire(): void {
    const lease = this.current!;
    this.stats.expirations++;
    this.current = null;
    this.o.iface.remove(lease);
    this.emit('expired', lease);
    this.enterInit(0);
  }

  // ------------------------------------------------------------ receive

  private receive(data: Uint8Array, _from: DhcpPeer): void {
    const c = this.o.counters;
    if (c) c.rx++;
    if (this.st === 'stopped' || this.st === 'init' || this.st === 'bound') { this.ignore('not-waiting'); return; }
    const d = decodeDhcpMessage(data);
    if (!d.ok) { this.stats.malformed++; if (c) countError(c, d.error); return; }
    const m = d.message;
    if (m.op !== BOOTP_REPLY || m.xid !== this.xid || m.htype !== 1 || m.hlen !== 6 || m.chaddr !== this.o.iface.mac) {
      this.ignore('not-ours');
      return;
    }
    switch (m.options.messageType) {
      case DhcpMessageType.OFFER: return this.onOffer(m);
      case DhcpMessageType.ACK: return this.onAck(m);
      case DhcpMessageType.NAK: return this.onNak(m);
      default: this.ignore('unexpected-type');
    }
  }

  private awaitingAck(): boolean {
    const s = this.st;
    return s === 'requesting' || s === 'rebooting' || s === 'renewing' || s === 'rebinding';
  }

  private ignore(reason: string): void {
    this.stats.ignored++;
    if (this.o.counters) countDrop(this.o.counters, reason);
  }

  private onOffer(m: DhcpMessage): void {
    if (this.st !== 'selecting' || m.yiaddr === IPV4_ANY || m.options.serverId === undefined) { this.ignore('bad-offer'); return; }
    this.stats.offers++;
    // Take the first offer (RFC 2131 allows waiting for more; one is enough here).
    this.offer = m;
    this.attempts = 0;
    this.setState('requesting');
    this.sendSelectingRequest();
  }

  private fromOurServer(m: DhcpMessage): boolean {
    const sid = m.options.serverId;
    if (this.st === 'requesting') return sid === undefined || sid === this.offer!.options.serverId;
    if (this.st === 'rebooting') return true;
    if (this.st === 'renewing') return sid === undefined || sid === this.current!.serverId;
    return true; // rebinding: any server may answer
  }

  private onAck(m: DhcpMessage): void {
    if (!this.awaitingAck() || !this.fromOurServer(m) || m.yiaddr === IPV4_ANY) {
      this.ignore('bad-ack');
      return;
    }
    const o = m.options;
    // A lease shorter than MIN_LEASE s is taken as MIN_LEASE s, so a broken server cannot spin us round DORA.
    const offered = o.leaseTime ?? this.current?.leaseTime;
    const leaseTime = offered === undefined ? undefined : Math.max(offered, MIN_LEASE);
    if (leaseTime === undefined || (this.st === 'requesting' && m.yiaddr !== this.offer!.yiaddr) ||
        (this.st === 'rebooting' && m.yiaddr !== this.o.requestedIp)) {
      this.ignore('bad-ack');
      return;
    }
    this.stats.acks++;
    this.consecutiveNaks = 0;
    let t1 = o.renewalTime ?? Math.floor(leaseTime * 0.5);
    let t2 = o.rebindingTime ?? Math.floor(leaseTime * 0.875);
    if (!(t1 < t2 && t2 <= leaseTime)) { t1 = Math.floor(leaseTime * 0.5); t2 = Math.floor(leaseTime * 0.875); }
    let prefix = o.subnetMask !== undefined ? maskToPrefix(o.subnetMask) : -1;
    if (prefix < 0) prefix = classfulPrefix(m.yiaddr);
    const lease: DhcpLease = {
      address: m.yiaddr, prefix, netmask: prefixToMask(prefix) as Ipv4Address,
      routers: o.routers ?? [], dnsServers: o.dnsServers ?? [],
      serverId: o.serverId ?? this.current?.serverId ?? this.offer?.options.serverId ?? IPV4_ANY,
      leaseTime, renewalTime: t1, rebindingTime: t2, obtainedAt: this.requestSentAt,
    };
    if (o.domainName !== undefined) lease.domainName = o.domainName;
    const previous = this.current;
    if (previous === null && this.o.iface.probe) {
      // A new address: make sure nobody else has it before using it.
      this.cancelTimer();
      this.setState('checking');
      const xid = this.xid;
      const serverId = lease.serverId;
      this.o.iface.probe(lease.address).then((inUse) => {
        if (this.st !== 'checking' || this.xid !== xid) return; // stopped or restarted meanwhile
        if (!inUse) { this.bind(lease, null); return; }
        this.stats.declines++;
        this.transmit(DhcpMessageType.DECLINE, { requestedIp: lease.address, serverId }, {}, IPV4_BROADCAST);
        this.emit('declined', lease);
        // RFC 2131 3.1.5: wait at least 10 s before starting over.
        this.enterInit(10_000);
      }, () => {
        if (this.st === 'checking' && this.xid === xid) this.bind(lease, null);
      });
      return;
    }
    this.bind(lease, previous);
  }

  private bind(lease: DhcpLease, previous: DhcpLease | null): void {
    const renewed = previous !== null;
    if (previous && previous.address !== lease.address) {
      this.o.iface.remove(previous);
      this.o.iface.apply(lease, null);
    } else {
      this.o.iface.apply(lease, previous);
    }
    this.current = lease;
    this.offer = null;
    this.enterBound();
    this.emit(renewed ? 'renewed' : 'bound', lease);
    for (const w of this.waiters.splice(0)) {
      this.o.clock.cancel(w.timer);
      w.resolve(lease);
    }
  }

  private onNak(m: DhcpMessage): void {
    if (!this.awaitingAck() || !this.fromOurServer(m)) {
      this.ignore('bad-nak');
      return;
    }
    this.stats.naks++;
    const lease = this.current;
    if (lease) {
      this.current = null;
      this.o.iface.remove(lease);
    }
    this.emit('nak', m.options.message ?? '');
    // Back off before starting over, longer after each NAK in a row, so a confused server is not hammered.
    // 1 s, 2 s, 4 s ... up to 64 s, randomized by +-1 s.
    const k = this.consecutiveNaks++;
    this.enterInit(Math.max(0, Math.min(1000 * 2 ** k, 64_000) + this.o.rng.next() * 2000 - 1000));
  }

  private transmit(type: DhcpMessageTypeValue, extra: DhcpOptions, fields: Partial<DhcpMessage>, dst: Ipv4Address): void {
    const options: DhcpOptions = { messageType: type, ...extra };
    if (type !== DhcpMessageType.RELEASE && type !== DhcpMessageType.DECLINE) {
      options.parameterList = PARAMETERS;
      options.maxMessageSize = 576;
      if (this.o.hostName !== undefined) options.hostName = this.o.hostName;
    }
    if (this.o.clientId !== undefined) options.clientId = this.o.clientId;
    const secs = type === DhcpMessageType.RELEASE || type === DhcpMessageType.DECLINE ? 0 : Math.min(0xffff, Math.floor((this.o.clock.now() - this.acquireStart) / 1000));
    const flags = this.o.broadcastFlag && dst === IPV4_BROADCAST ? DHCP_FLAG_BROADCAST : 0;
    const msg = dhcpMessage(BOOTP_REQUEST, this.xid, this.o.iface.mac, options, { secs, flags, ...fields });
    try {
      this.o.socket.send(encodeDhcpMessage(msg), dst, DHCP_SERVER_PORT);
      if (this.o.counters) this.o.counters.tx++;
    } catch {
      this.stats.sendErrors++;
    }
  }
}

function classfulPrefix(a: Ipv4Address): number {
  const top = a >>> 24;
  return top < 128 ? 8 : top < 192 ? 16 : 24;
}
