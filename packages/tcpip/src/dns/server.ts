/**
 * A small authoritative DNS server for the simulated world and for tests:
 * zones from a table (A, AAAA, CNAME), answers over UDP and TCP, sets TC when
 * a UDP reply does not fit 512 bytes (or the requester's EDNS size), chases
 * CNAMEs inside its zones, answers NXDOMAIN / NODATA with the SOA for negative
 * caching and REFUSED for names outside its zones. No recursion.
 *
 * `answer()` is pure (bytes in, bytes out); `listen()` binds it to a transport.
 * Bad queries are counted and answered FORMERR when they have a header, or
 * dropped; responses (QR set) are never answered.
 */
import {
  canonicalName, decodeDnsMessage, DNS_CLASS_IN, DNS_HEADER_LENGTH, DNS_UDP_MAX, DnsMessage, DnsRcode, DnsRecord,
  DnsType, encodeDnsMessage, nameToLabels, parseIpv6,
} from '../wire/dns';
import { parseIpv4 } from '../wire/ipv4-address';
import { countDrop, countError, ProtocolStats } from '../stats';
import { DnsDatagramSocket, DnsPeer, DnsStream, DnsStreamFramer, DnsStreamListener, DnsTransport } from './transport';

export interface DnsZoneRecord {
  /** Owner name, absolute ('www.example.test') or relative to the origin ('www', '@' for the origin). */
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  /** Dotted quad, IPv6 text, or the CNAME target (absolute, or relative to the origin). */
  value: string;
  /** Seconds; the zone's default when absent. */
  ttl?: number;
}

export interface DnsZone {
  origin: string;
  records: DnsZoneRecord[];
  /** Default TTL (300 s). */
  ttl?: number;
  /** The SOA MINIMUM: TTL for negative answers (60 s). */
  negativeTtl?: number;
}

export interface DnsServerStats {
  queries: number;
  udp: number;
  tcp: number;
  truncated: number;
  malformed: number;
  nxdomain: number;
  nodata: number;
  refused: number;
  notimp: number;
}

/** What the server needs from below: a UDP port and, for TCP, a listener. */
export interface DnsServerTransport extends DnsTransport {
  listenTcp?(port: number): DnsStreamListener;
}

interface Zone {
  origin: string; // canonical
  soa: DnsRecord;
  names: Map<string, DnsRecord[]>;
}

const EDNS_MAX_UDP = 4096;

export class DnsServer {
  readonly stats: DnsServerStats = { queries: 0, udp: 0, tcp: 0, truncated: 0, malformed: 0, nxdomain: 0, nodata: 0, refused: 0, notimp: 0 };
  private readonly zones: Zone[] = [];
  private udp: DnsDatagramSocket | null = null;
  private tcp: DnsStreamListener | null = null;
  private readonly streams = new Set<DnsStream>();

  /** Also count messages here (rx, tx, errors and drops by reason), e.g. `stack.stats.get('dns')`. */
  counters: ProtocolStats | null = null;

  constructor(zones: DnsZone | DnsZone[]) {
    for (const z of Array.isArray(zones) ? zones : [zones]) this.addZone(z);
  }

  /** Adds a zone; throws TypeError on a bad record (API input). */
  addZone(zone: DnsZone): void {
    nameToLabels(zone.origin);
    const origin = canonicalName(zone.origin);
    const ttl = zone.ttl ?? 300;
    const negativeTtl = zone.negativeTtl ?? 60;
    const abs = (n: string): string => {
      if (n === '@' || n === '') return origin;
      if (n.endsWith('.')) return canonicalName(n);
      const c = canonicalName(n);
      return c === origin || c.endsWith('.' + origin) ? c : origin === '' ? c : `${c}.${origin}`;
    };
    const soa: DnsRecord = {
      name: origin, type: DnsType.SOA, class: DNS_CLASS_IN, ttl: negativeTtl,
      data: {
        kind: 'soa', mname: origin === '' ? 'ns' : `ns.${origin}`, rname: origin === '' ? 'hostmaster' : `hostmaster.${origin}`,
        serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: negativeTtl,
      },
    };
    const names = new Map<string, DnsRecord[]>();
    for (const r of zone.records) {
      const name = abs(r.name);
      nameToLabels(name);
      const rttl = r.ttl ?? ttl;
      let rec: DnsRecord;
      if (r.type === 'A') rec = { name, type: DnsType.A, class: DNS_CLASS_IN, ttl: rttl, data: { kind: 'a', address: parseIpv4(r.value) } };
      else if (r.type === 'AAAA') {
        const a = parseIpv6(r.value);
        if (!a) throw new TypeError(`DnsServer: bad IPv6 address ${JSON.stringify(r.value)}`);
        rec = { name, type: DnsType.AAAA, class: DNS_CLASS_IN, ttl: rttl, data: { kind: 'aaaa', address: a } };
      } else if (r.type === 'CNAME') {
        const target = abs(r.value);
        nameToLabels(target);
        rec = { name, type: DnsType.CNAME, class: DNS_CLASS_IN, ttl: rttl, data: { kind: 'name', name: target } };
      } else {
        throw new TypeError(`DnsServer: unsupported record type ${JSON.stringify((r as { type: unknown }).type)}`);
      }
      const list = names.get(name) ?? [];
      if (rec.type === DnsType.CNAME ? list.length > 0 : list.some((x) => x.type === DnsType.CNAME)) {
        throw new TypeError(`DnsServer: ${name} has a CNAME and other data`);
      }
      list.push(rec);
      names.set(name, list);
    }
    this.zones.push({ origin, soa, names });
    // Longest origin first, so the most specific zone answers.
    this.zones.sort((a, b) => b.origin.length - a.origin.length);
  }

  private zoneFor(name: string): Zone | null {
    for (const z of this.zones) if (z.origin === '' || name === z.origin || name.endsWith('.' + z.origin)) return z;
    return null;
  }

  /** Builds the response to a decoded query (without size limits). */
  respond(query: DnsMessage): DnsMessage {
    const reply: DnsMessage = {
      id: query.id,
      flags: { qr: true, opcode: query.flags.opcode, aa: false, tc: false, rd: query.flags.rd, ra: false, rcode: 0 },
      questions: query.questions.slice(0, 1), answers: [], authorities: [], additionals: [],
    };
    if (query.flags.opcode !== 0) { this.stats.notimp++; reply.flags.rcode = DnsRcode.NOTIMP; return reply; }
    if (query.questions.length !== 1) { reply.flags.rcode = DnsRcode.FORMERR; return reply; }
    const q = query.questions[0];
    const qname = canonicalName(q.name);
    let zone = this.zoneFor(qname);
    if (!zone || (q.class !== DNS_CLASS_IN && q.class !== 255)) {
      this.stats.refused++;
      reply.flags.rcode = DnsRcode.REFUSED;
      return reply;
    }
    reply.flags.aa = true;
    let name = qname;
    const seen = new Set<string>();
    for (;;) {
      const rrs = zone.names.get(name);
      if (!rrs) {
        // Also for the end of a CNAME chain: RFC 6604 keeps NXDOMAIN for the last link.
        this.stats.nxdomain++;
        reply.flags.rcode = DnsRcode.NXDOMAIN;
        reply.authorities.push(zone.soa);
        return reply;
      }
      const cname = rrs.find((r) => r.type === DnsType.CNAME);
      if (cname && q.type !== DnsType.CNAME && q.type !== DnsType.ANY) {
        reply.answers.push(cname);
        seen.add(name);
        const target = (cname.data as { name: string }).name;
        const next = this.zoneFor(target);
        if (!next || seen.has(target) || seen.size > 16) return reply; // out of our zones, or a loop in the table
        zone = next;
        name = target;
        continue;
      }
      const matching = rrs.filter((r) => q.type === DnsType.ANY || r.type === q.type);
      if (matching.length === 0) {
        this.stats.nodata++;
        reply.authorities.push(zone.soa);
      }
      reply.answers.push(...matching);
      return reply;
    }
  }

  /**
   * Answers raw query bytes. `transport` 'udp' limits the reply to 512 bytes
   * (or the requester's EDNS payload size) and sets TC when it is cut.
   * Returns null when nothing should be sent.
   */
  answer(data: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array | null {
    const c = this.counters;
    if (c) c.rx++;
    const d = decodeDnsMessage(data);
    if (!d.ok) {
      this.stats.malformed++;
      if (c) countError(c, d.error);
      // A query with a readable header gets FORMERR; anything else is dropped.
      if (data.length < DNS_HEADER_LENGTH || (data[2] & 0x80) !== 0) return null;
      const out = new Uint8Array(DNS_HEADER_LENGTH);
      out[0] = data[0]; out[1] = data[1];
      out[2] = 0x80 | (data[2] & 0x79); // QR, opcode, RD
      out[3] = DnsRcode.FORMERR;
      if (c) c.tx++;
      return out;
    }
    const query = d.message;
    if (query.flags.qr) { this.stats.malformed++; if (c) countDrop(c, 'response'); return null; }
    this.stats.queries++;
    if (transport === 'udp') this.stats.udp++; else this.stats.tcp++;
    const reply = this.respond(query);
    let maxSize = transport === 'udp' ? DNS_UDP_MAX : 0xffff;
    const opt = query.additionals.find((r) => r.type === DnsType.OPT);
    if (opt) {
      // EDNS(0): honour the requester's payload size and say ours.
      if (transport === 'udp') maxSize = Math.max(DNS_UDP_MAX, Math.min(opt.class, EDNS_MAX_UDP));
      reply.additionals.push({ name: '', type: DnsType.OPT, class: EDNS_MAX_UDP, ttl: 0, data: { kind: 'raw', bytes: new Uint8Array(0) } });
    }
    const out = encodeDnsMessage(reply, { maxSize });
    if (out[2] & 0x02) this.stats.truncated++;
    if (c) c.tx++;
    return out;
  }

  /** Serves on `port` (53) over UDP, and TCP when the transport can listen. */
  listen(transport: DnsServerTransport, port = 53): void {
    if (this.udp) throw new Error('DnsServer: already listening');
    const udp = transport.openUdp(port);
    this.udp = udp;
    udp.onMessage((data: Uint8Array, from: DnsPeer) => {
      const out = this.answer(data, 'udp');
      if (out) {
        try { udp.send(out, from.port, from.address); } catch { /* no route back: nothing to do */ }
      }
    });
    if (transport.listenTcp) {
      this.tcp = transport.listenTcp(port);
      this.tcp.onConnection((stream) => {
        this.streams.add(stream);
        const framer = new DnsStreamFramer((msg) => {
          const out = this.answer(msg, 'tcp');
          if (out) {
            try { stream.write(DnsStreamFramer.frame(out)); } catch { stream.close(); }
          }
        });
        stream.onData((chunk) => framer.push(chunk));
        stream.onClose(() => this.streams.delete(stream));
      });
    }
  }

  close(): void {
    this.udp?.close();
    this.udp = null;
    this.tcp?.close();
    this.tcp = null;
    for (const s of this.streams) s.close();
    this.streams.clear();
  }
}
