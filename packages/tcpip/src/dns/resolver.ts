/**
 * A DNS stub resolver (RFC 1035, RFC 2308 negative caching, RFC 5452 spoofing
 * resistance): asks recursive servers over UDP, falls back to TCP when a reply
 * is truncated, follows CNAME chains, caches by TTL.
 *
 * Sans-IO below: sockets come from a `DnsTransport`, time from the injected
 * Clock, transaction IDs and source ports from the injected Rng. A reply is
 * accepted only from the server asked, on port 53, to our socket, with our ID
 * and our question; anything else is counted and ignored (the query keeps
 * waiting for the real reply).
 */
import type { Clock, Rng, TimerHandle } from '@pnet/nic';
import {
  canonicalName, decodeDnsMessage, DNS_CLASS_IN, dnsQuery, DnsMessage, DnsRcode, DnsRecord, DnsType, encodeDnsMessage,
  formatIpv6, nameToLabels, parseIpv6,
} from '../wire/dns';
import { Ipv4Address, tryParseIpv4 } from '../wire/ipv4-address';
import { countDrop, countError, ProtocolStats } from '../stats';
import { DnsDatagramSocket, DnsPeer, DnsStream, DnsStreamFramer, DnsTransport } from './transport';

export type DnsErrorCode =
  | 'ENOTFOUND' // NXDOMAIN
  | 'ENODATA' // the name exists but has no record of that type
  | 'ETIMEOUT' // no server answered
  | 'ESERVFAIL' | 'EREFUSED' | 'ENOTIMP' | 'EFORMERR' // every server answered with this rcode
  | 'EBADRESP' // only unusable replies (CNAME loop, truncated without TCP)
  | 'ECONNREFUSED' // no server could be reached at all (ICMP unreachable, send failed)
  | 'EBADNAME' // the name cannot be a DNS name
  | 'ENOSERVERS' // nothing configured
  | 'ECANCELLED'; // the resolver was closed

/** A failed lookup; `code` follows Node's `dns` module where it has one. */
export class DnsError extends Error {
  constructor(readonly code: DnsErrorCode, readonly hostname: string, detail?: string) {
    super(`${code} ${hostname}${detail ? `: ${detail}` : ''}`);
    this.name = 'DnsError';
  }
}

export interface DnsAnswer {
  /** The name asked for. */
  name: string;
  /** Where the CNAME chain ended (the name the records belong to). */
  canonicalName: string;
  type: number;
  /** The A or AAAA records of `canonicalName`. */
  records: DnsRecord[];
  /** Names passed through, in order (empty without CNAMEs). */
  cnames: string[];
  /** Seconds this answer stays valid (the least TTL along the chain). */
  ttl: number;
  source: 'hosts' | 'cache' | 'network';
}

export interface DnsResolverOptions {
  clock: Clock;
  rng: Rng;
  transport: DnsTransport;
  /** Recursive servers, tried in order. */
  servers?: Ipv4Address[];
  /** Server port (53). */
  port?: number;
  /** Milliseconds to wait for a reply from one server on the first round; doubles each round (2000). */
  timeout?: number;
  /** Rounds over the server list (2). */
  attempts?: number;
  /** Static names: `{ 'gw.example': '192.0.2.1' }`; always has `localhost`. */
  hosts?: Record<string, string | string[]>;
  /** Ask again over TCP when a reply is truncated (true). */
  tcp?: boolean;
  maxCacheEntries?: number;
  /** Upper bound on cached TTLs, seconds (86400). */
  maxTtl?: number;
  /** Upper bound on negative-cache TTLs, seconds (3600). */
  maxNegativeTtl?: number;
  /** Most CNAME links followed for one name (8). */
  maxCnameChain?: number;
  /** Also count messages here (rx, tx, errors and drops by reason), e.g. `stack.stats.get('dns')`. */
  counters?: ProtocolStats;
}

export interface DnsResolverStats {
  queries: number; // lookups asked of the resolver
  cacheHits: number;
  negativeCacheHits: number;
  hostsHits: number;
  udpSent: number;
  tcpQueries: number;
  truncated: number;
  timeouts: number;
  malformed: number; // replies that did not decode
  wrongSource: number; // replies from another address or port
  wrongId: number;
  wrongQuestion: number;
  serverErrors: number; // SERVFAIL, REFUSED, NOTIMP, FORMERR
  sendErrors: number;
  /** ICMP unreachable for a query (the try ends at once). */
  unreachable: number;
}

type CacheEntry =
  | { expires: number; negative: false; answer: DnsAnswer }
  | { expires: number; negative: true; code: 'ENOTFOUND' | 'ENODATA' };

type TryResult = { ok: true; reply: DnsMessage } | { ok: false; code: DnsErrorCode };

const EPHEMERAL_LOW = 49152;
const EPHEMERAL_COUNT = 16384;

export class DnsResolver {
  readonly stats: DnsResolverStats = {
    queries: 0, cacheHits: 0, negativeCacheHits: 0, hostsHits: 0, udpSent: 0, tcpQueries: 0, truncated: 0, timeouts: 0,
    malformed: 0, wrongSource: 0, wrongId: 0, wrongQuestion: 0, serverErrors: 0, sendErrors: 0, unreachable: 0,
  };
  private serverList: Ipv4Address[];
  private readonly hosts = new Map<string, { v4: Ipv4Address[]; v6: Uint8Array[] }>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<DnsAnswer>>();
  /** Everything open, so `close()` can cancel it. */
  private readonly pending = new Set<() => void>();
  private closed = false;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly transport: DnsTransport;
  private readonly port: number;
  private readonly timeout: number;
  private readonly attempts: number;
  private readonly useTcp: boolean;
  private readonly maxCacheEntries: number;
  private readonly maxTtl: number;
  private readonly maxNegativeTtl: number;
  private readonly maxCnameChain: number;
  private readonly counters: ProtocolStats | null;

  constructor(options: DnsResolverOptions) {
    if (!options || !options.clock || !options.rng || !options.transport) {
      throw new TypeError('DnsResolver: clock, rng and transport are required');
    }
    this.clock = options.clock;
    this.rng = options.rng;
    this.transport = options.transport;
    this.port = options.port ?? 53;
    this.timeout = positive(options.timeout ?? 2000, 'timeout');
    this.attempts = positive(options.attempts ?? 2, 'attempts');
    this.useTcp = options.tcp ?? true;
    this.maxCacheEntries = options.maxCacheEntries ?? 1000;
    this.maxTtl = options.maxTtl ?? 86400;
    this.maxNegativeTtl = options.maxNegativeTtl ?? 3600;
    this.maxCnameChain = options.maxCnameChain ?? 8;
    this.counters = options.counters ?? null;
    this.serverList = [];
    this.setServers(options.servers ?? []);
    this.addHost('localhost', '127.0.0.1');
    for (const [name, addrs] of Object.entries(options.hosts ?? {})) {
      for (const a of Array.isArray(addrs) ? addrs : [addrs]) this.addHost(name, a);
    }
  }

  get servers(): readonly Ipv4Address[] {
    return this.serverList;
  }

  /** Replaces the server list (e.g. from a DHCP lease). */
  setServers(servers: readonly Ipv4Address[]): void {
    if (!Array.isArray(servers) || servers.some((s) => !Number.isInteger(s) || s < 0 || s > 0xffffffff)) {
      throw new TypeError('DnsResolver.setServers: expected an array of Ipv4Address');
    }
    this.serverList = servers.slice();
  }

  /** Adds a static name -> address mapping (IPv4 dotted quad or IPv6 text). Hosts win over DNS. */
  addHost(name: string, address: string): void {
    nameToLabels(name); // throws on a bad name
    const key = canonicalName(name);
    const entry = this.hosts.get(key) ?? { v4: [], v6: [] };
    const v4 = tryParseIpv4(address);
    if (v4 !== null) entry.v4.push(v4);
    else {
      const v6 = parseIpv6(address);
      if (!v6) throw new TypeError(`DnsResolver.addHost: bad address ${JSON.stringify(address)}`);
      entry.v6.push(v6);
    }
    this.hosts.set(key, entry);
  }

  removeHost(name: string): void {
    this.hosts.delete(canonicalName(name));
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** Entries in the cache (expired ones may linger until touched). */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** IPv4 addresses for a name; a dotted quad comes back as itself without a query. */
  async resolve(name: string): Promise<Ipv4Address[]> {
    const literal = tryParseIpv4(name);
    if (literal !== null) return [literal];
    const answer = await this.query(name, DnsType.A);
    return answer.records.map((r) => (r.data as { address: Ipv4Address }).address);
  }

  resolve4(name: string): Promise<Ipv4Address[]> {
    return this.resolve(name);
  }

  /** IPv6 addresses (text) for a name. */
  async resolve6(name: string): Promise<string[]> {
    const literal = parseIpv6(name);
    if (literal) return [formatIpv6(literal)];
    const answer = await this.query(name, DnsType.AAAA);
    return answer.records.map((r) => formatIpv6((r.data as { address: Uint8Array }).address));
  }

  /** Looks up A or AAAA records of a name: hosts table, then cache, then the servers. */
  query(name: string, type: number = DnsType.A): Promise<DnsAnswer> {
    this.stats.queries++;
    if (this.closed) return Promise.reject(new DnsError('ECANCELLED', name));
    if (type !== DnsType.A && type !== DnsType.AAAA) {
      return Promise.reject(new TypeError(`DnsResolver.query: type must be A (1) or AAAA (28), got ${type}`));
    }
    try {
      nameToLabels(name);
    } catch (e) {
      return Promise.reject(new DnsError('EBADNAME', String(name), (e as Error).message));
    }
    const key = canonicalName(name);
    if (key === '') return Promise.reject(new DnsError('EBADNAME', name, 'empty name'));
    const host = this.hosts.get(key);
    if (host) {
      const list = type === DnsType.A ? host.v4 : host.v6;
      if (list.length > 0) {
        this.stats.hostsHits++;
        const records: DnsRecord[] = list.map((a) => ({
          name, type, class: DNS_CLASS_IN, ttl: 0,
          data: type === DnsType.A ? { kind: 'a', address: a as Ipv4Address } : { kind: 'aaaa', address: a as Uint8Array },
        }));
        return Promise.resolve({ name, canonicalName: name, type, records, cnames: [], ttl: 0, source: 'hosts' });
      }
    }
    const cacheKey = `${type}:${key}`;
    const cached = this.fromCache(cacheKey, name);
    if (cached) return cached;
    const running = this.inflight.get(cacheKey);
    if (running) return running;
    const p = this.lookup(name, type, cacheKey).finally(() => this.inflight.delete(cacheKey));
    this.inflight.set(cacheKey, p);
    return p;
  }

  /** Cancels everything pending; later queries fail with ECANCELLED. */
  close(): void {
    this.closed = true;
    for (const cancel of [...this.pending]) cancel();
    this.pending.clear();
  }

  // ------------------------------------------------------------ cache

  private fromCache(key: string, name: string): Promise<DnsAnswer> | null {
    const e = this.cache.get(key);
    if (!e) return null;
    const now = this.clock.now();
    if (e.expires <= now) {
      this.cache.delete(key);
      return null;
    }
    // Refresh the entry's place in the (insertion-ordered) map: least recently used goes first.
    this.cache.delete(key);
    this.cache.set(key, e);
    if (e.negative) {
      this.stats.negativeCacheHits++;
      return Promise.reject(new DnsError(e.code, name, 'cached'));
    }
    this.stats.cacheHits++;
    const ttl = Math.max(0, Math.floor((e.expires - now) / 1000));
    return Promise.resolve({
      ...e.answer, name, ttl, source: 'cache',
      records: e.answer.records.map((r) => ({ ...r, ttl })),
    });
  }

  private store(key: string, entry: CacheEntry): void {
    if (entry.expires <= this.clock.now() || this.maxCacheEntries <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > this.maxCacheEntries) this.cache.delete(this.cache.keys().next().value as string);
  }

  // ------------------------------------------------------------ lookup

  private async lookup(name: string, type: number, cacheKey: string): Promise<DnsAnswer> {
    const cnames: string[] = [];
    const seen = new Set<string>([canonicalName(name)]);
    let current = name;
    let ttl = Infinity;
    for (;;) {
      const reply = await this.exchange(current, type, name);
      // Walk the chain inside this reply.
      let records: DnsRecord[] = [];
      for (;;) {
        const owner = canonicalName(current);
        records = reply.answers.filter((r) => r.type === type && r.class === DNS_CLASS_IN && canonicalName(r.name) === owner);
        if (records.length > 0) break;
        const cname = reply.answers.find((r) => r.type === DnsType.CNAME && canonicalName(r.name) === owner);
        if (!cname || cname.data.kind !== 'name') break;
        const target = cname.data.name;
        if (seen.has(canonicalName(target)) || cnames.length >= this.maxCnameChain) {
          throw new DnsError('EBADRESP', name, 'CNAME loop or chain too long');
        }
        seen.add(canonicalName(target));
        cnames.push(target);
        ttl = Math.min(ttl, cname.ttl);
        current = target;
      }
      if (records.length > 0) {
        for (const r of records) ttl = Math.min(ttl, r.ttl);
        ttl = Math.min(ttl, this.maxTtl);
        const answer: DnsAnswer = {
          name, canonicalName: current, type, records, cnames, ttl, source: 'network',
        };
        this.store(cacheKey, { expires: this.clock.now() + ttl * 1000, negative: false, answer });
        return answer;
      }
      const soa = reply.authorities.find((r) => r.type === DnsType.SOA && r.data.kind === 'soa');
      if (reply.flags.rcode === DnsRcode.NOERROR && !soa && cnames.length > 0 &&
          reply.questions.length === 1 && canonicalName(reply.questions[0].name) !== canonicalName(current)) {
        // The server gave us a CNAME into a name it does not serve: ask about the target.
        continue;
      }
      const code = reply.flags.rcode === DnsRcode.NXDOMAIN ? 'ENOTFOUND' : 'ENODATA';
      if (soa && soa.data.kind === 'soa') {
        // RFC 2308 5: the negative TTL is the lesser of the SOA's TTL and its MINIMUM.
        const negTtl = Math.min(soa.ttl, soa.data.minimum, this.maxNegativeTtl, ttl);
        this.store(cacheKey, { expires: this.clock.now() + negTtl * 1000, negative: true, code });
      }
      throw new DnsError(code, name);
    }
  }

  /** Asks the servers in turn, `attempts` rounds, until one gives a usable (NOERROR/NXDOMAIN) reply. */
  private async exchange(name: string, type: number, original: string): Promise<DnsMessage> {
    if (this.serverList.length === 0) throw new DnsError('ENOSERVERS', original, 'no DNS servers configured');
    // What to report when every try fails: an answer from a server (SERVFAIL, ...) says most,
    // then a timeout, then "unreachable / could not send".
    let serverCode: DnsErrorCode | null = null;
    let timedOut = false;
    for (let round = 0; round < this.attempts; round++) {
      for (const server of this.serverList) {
        if (this.closed) throw new DnsError('ECANCELLED', original);
        const result = await this.udpTry(server, name, type, this.timeout * 2 ** round);
        if (result.ok) return result.reply;
        if (result.code === 'ECANCELLED') throw new DnsError('ECANCELLED', original);
        if (result.code === 'ETIMEOUT') timedOut = true;
        else if (result.code !== 'ECONNREFUSED') serverCode = result.code;
      }
    }
    throw new DnsError(serverCode ?? (timedOut ? 'ETIMEOUT' : 'ECONNREFUSED'), original);
  }

  private openSocket(): DnsDatagramSocket | null {
    // A random source port (RFC 5452 9.2); draw again if it is taken.
    for (let i = 0; i < 16; i++) {
      try {
        return this.transport.openUdp(EPHEMERAL_LOW + this.rng.nextInt(EPHEMERAL_COUNT));
      } catch {
        // taken: try another
      }
    }
    return null;
  }

  /** Checks a decoded reply against what we asked. */
  private matches(reply: Uint8Array, id: number, name: string, type: number): DnsMessage | null {
    const c = this.counters;
    if (c) c.rx++;
    const d = decodeDnsMessage(reply);
    if (!d.ok) { this.stats.malformed++; if (c) countError(c, d.error); return null; }
    const m = d.message;
    if (m.id !== id) { this.stats.wrongId++; if (c) countDrop(c, 'wrong-id'); return null; }
    const q = m.questions[0];
    if (!m.flags.qr || m.questions.length !== 1 || q.type !== type || q.class !== DNS_CLASS_IN ||
        canonicalName(q.name) !== canonicalName(name)) {
      // A server with a truncated reply may omit the question; TC alone still tells us to use TCP.
      if (m.flags.qr && m.flags.tc && m.questions.length === 0) return m;
      this.stats.wrongQuestion++;
      if (c) countDrop(c, 'wrong-question');
      return null;
    }
    return m;
  }

  private classify(reply: DnsMessage): TryResult {
    switch (reply.flags.rcode) {
      case DnsRcode.NOERROR:
      case DnsRcode.NXDOMAIN:
        return { ok: true, reply };
      case DnsRcode.SERVFAIL: this.stats.serverErrors++; return { ok: false, code: 'ESERVFAIL' };
      case DnsRcode.REFUSED: this.stats.serverErrors++; return { ok: false, code: 'EREFUSED' };
      case DnsRcode.NOTIMP: this.stats.serverErrors++; return { ok: false, code: 'ENOTIMP' };
      default: this.stats.serverErrors++; return { ok: false, code: 'EFORMERR' };
    }
  }

  private udpTry(server: Ipv4Address, name: string, type: number, timeout: number): Promise<TryResult> {
    return new Promise<TryResult>((resolve) => {
      const sock = this.openSocket();
      if (!sock) { this.stats.sendErrors++; resolve({ ok: false, code: 'ECONNREFUSED' }); return; }
      const id = this.rng.nextInt(65536);
      let timer: TimerHandle = 0;
      let done = false;
      const finish = (r: TryResult | Promise<TryResult>): void => {
        if (done) return;
        done = true;
        this.clock.cancel(timer);
        this.pending.delete(cancel);
        sock.close();
        resolve(r);
      };
      const cancel = (): void => finish({ ok: false, code: 'ECANCELLED' });
      this.pending.add(cancel);
      // ICMP unreachable from the server: no need to wait out the timeout.
      sock.onUnreachable?.((to: DnsPeer) => {
        if (done || to.address !== server || to.port !== this.port) return;
        this.stats.unreachable++;
        finish({ ok: false, code: 'ECONNREFUSED' });
      });
      sock.onMessage((data: Uint8Array, from: DnsPeer) => {
        if (done) return;
        if (from.address !== server || from.port !== this.port) {
          this.stats.wrongSource++;
          if (this.counters) { this.counters.rx++; countDrop(this.counters, 'wrong-source'); }
          return;
        }
        const reply = this.matches(data, id, name, type);
        if (!reply) return;
        if (reply.flags.tc) {
          this.stats.truncated++;
          if (this.useTcp && this.transport.connectTcp) {
            let stream: DnsStream | null;
            try {
              stream = this.transport.connectTcp(server, this.port);
            } catch {
              this.stats.sendErrors++;
              finish({ ok: false, code: 'ECONNREFUSED' });
              return;
            }
            if (stream) {
              finish(this.tcpTry(stream, name, type, timeout));
              return;
            }
          }
          // Without TCP a truncated reply is only usable if it still holds an answer.
          if (reply.answers.length === 0 || reply.questions.length === 0) { finish({ ok: false, code: 'EBADRESP' }); return; }
        }
        finish(this.classify(reply));
      });
      try {
        sock.send(encodeDnsMessage(dnsQuery(id, name, type)), this.port, server);
        this.stats.udpSent++;
        if (this.counters) this.counters.tx++;
      } catch {
        this.stats.sendErrors++;
        finish({ ok: false, code: 'ECONNREFUSED' });
        return;
      }
      timer = this.clock.schedule(this.clock.now() + timeout, () => {
        this.stats.timeouts++;
        finish({ ok: false, code: 'ETIMEOUT' });
      });
    });
  }

  private tcpTry(stream: DnsStream, name: string, type: number, timeout: number): Promise<TryResult> {
    return new Promise<TryResult>((resolve) => {
      this.stats.tcpQueries++;
      const id = this.rng.nextInt(65536);
      let timer: TimerHandle = 0;
      let done = false;
      const finish = (r: TryResult): void => {
        if (done) return;
        done = true;
        this.clock.cancel(timer);
        this.pending.delete(cancel);
        stream.close();
        resolve(r);
      };
      const cancel = (): void => finish({ ok: false, code: 'ECANCELLED' });
      this.pending.add(cancel);
      const framer = new DnsStreamFramer((msg) => {
        const reply = this.matches(msg, id, name, type);
        if (!reply) return;
        finish(this.classify(reply));
      });
      stream.onData((chunk) => { if (!done) framer.push(chunk); });
      stream.onClose(() => finish({ ok: false, code: 'ECONNREFUSED' }));
      timer = this.clock.schedule(this.clock.now() + timeout, () => {
        this.stats.timeouts++;
        finish({ ok: false, code: 'ETIMEOUT' });
      });
      try {
        stream.write(DnsStreamFramer.frame(encodeDnsMessage(dnsQuery(id, name, type))));
        if (this.counters) this.counters.tx++;
      } catch {
        this.stats.sendErrors++;
        finish({ ok: false, code: 'ECONNREFUSED' });
      }
    });
  }
}

function positive(v: number, what: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new TypeError(`DnsResolver: ${what} must be a positive number`);
  return v;
}
