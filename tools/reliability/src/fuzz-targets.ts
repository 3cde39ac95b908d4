/**
 * One fuzz target per parser: an arbitrary of inputs (random bytes, and mutations of valid messages where a
 * builder is at hand) and a check that must hold for every input: the parser returns (a header, a reason or an
 * error event) and never throws. `pnpm fuzz` runs them for a million cases each; `pnpm test` briefly.
 */
import fc from 'fast-check';
import { Duplex } from 'node:stream';
import { MacAddress, VirtualClock } from '@pnet/nic';
import {
  ArpPacket, EthernetHeader, IcmpHeader, Ipv4Header, UdpHeader, TcpSegmentView, TcpOptionSet, parseArp, parseEthernet, parseIcmp,
  parseIpv4Header, parseUdp, parseTcp, parseTcpOptions, decodeDnsMessage, decodeDhcpMessage, encodeDnsMessage, encodeDhcpMessage,
  writeEthernet, writeIpv4Header,
} from '@pnet/tcpip';
import type { Ipv4Address } from '@pnet/tcpip';
import { HttpParser, WebSocket } from '@pnet/http';

export interface FuzzTarget {
  name: string;
  property: fc.IPropertyWithHooks<unknown[]> | fc.IProperty<unknown[]>;
}

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });
const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });
const mutate = (b: Uint8Array, e: [number, number][], cut: number): Uint8Array => {
  const c = new Uint8Array(b);
  for (const [i, v] of e) if (c.length) c[i % c.length] = v;
  return c.subarray(0, cut % (c.length + 1));
};

function frameTarget(name: string, max: number, parse: (b: Uint8Array, o: number, l: number) => unknown): FuzzTarget {
  return {
    name,
    property: fc.property(bytes(max), fc.nat(16), fc.nat(max + 32), (b, off, len) => { parse(b, 0, b.length); parse(b, off, len); }),
  };
}

const validIpv4 = fc.record({ len: fc.nat(60), ihlWords: fc.integer({ min: 0, max: 10 }), id: fc.nat(0xffff), mf: fc.boolean(), off: fc.nat(8000) }).map((f) => {
  const options = new Uint8Array(f.ihlWords * 4).fill(1);
  const buf = new Uint8Array(20 + options.length + f.len);
  writeIpv4Header(buf, 0, { totalLength: buf.length, id: f.id, ttl: 64, protocol: 17, src: 0xc0000201 as Ipv4Address, dst: 0xc0000202 as Ipv4Address,
    moreFragments: f.mf, fragmentOffset: f.off * 8, options });
  return buf;
});

const dnsQuery = fc.record({ id: fc.nat(0xffff), name: fc.stringMatching(/^[a-z0-9]{1,12}(\.[a-z0-9]{1,12}){0,3}$/) }).map((q) =>
  encodeDnsMessage({ id: q.id, flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 },
    questions: [{ name: q.name, type: 1, class: 1 }], answers: [], authorities: [], additionals: [] } as never));

/** Feeds bytes to an HTTP parser in random pieces; it must end in at most one error and never throw. */
function httpTarget(kind: 'request' | 'response'): FuzzTarget {
  const valid = kind === 'request'
    ? fc.constantFrom('GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
      'PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\n\r\n')
    : fc.constantFrom('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'HTTP/1.1 204 No Content\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'HTTP/1.0 200 OK\r\n\r\nclose-delimited');
  const input = fc.oneof(bytes(400), fc.tuple(valid, edits, fc.nat(500)).map(([v, e, cut]) => mutate(Buffer.from(v, 'latin1'), e, cut + 1)));
  return {
    name: `http ${kind} parser`,
    property: fc.property(input, fc.array(fc.nat(400), { maxLength: 6 }), (b, cuts) => {
      let errors = 0;
      const p = new HttpParser(kind, { onHead() {}, onBody() {}, onEnd() {}, onError() { errors++; } });
      const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
      let at = 0;
      for (const c of [...points, b.length]) { if (c > at) p.push(Buffer.from(b.subarray(at, c))); at = c; }
      p.finish();
      if (errors > 1) throw new Error(`${errors} errors reported`);
    }),
  };
}

/** A minimal stream for a WebSocket under test: what it writes is dropped, what we push is emitted as data. */
class NullDuplex extends Duplex {
  override _read(): void {}
  override _write(_c: unknown, _e: string, cb: () => void): void { cb(); }
}

/** Random and mutated frames from the peer: the WebSocket closes (with an error code) or delivers, never throws. */
function websocketTarget(role: 'client' | 'server'): FuzzTarget {
  const mask = role === 'server' ? 0x80 : 0;
  const valid = fc.tuple(fc.integer({ min: 0, max: 15 }), fc.boolean(), bytes(200)).map(([op, fin, payload]) => {
    const len = payload.length;
    const head = len < 126 ? [((fin ? 0x80 : 0) | op), mask | len] : [((fin ? 0x80 : 0) | op), mask | 126, len >> 8, len & 0xff];
    return new Uint8Array([...head, ...(mask ? [1, 2, 3, 4] : []), ...payload]);
  });
  const input = fc.array(fc.oneof(bytes(64), fc.tuple(valid, edits, fc.nat(300)).map(([v, e, c]) => mutate(v, e, c + 1)), valid), { minLength: 1, maxLength: 5 });
  return {
    name: `websocket frames (${role})`,
    property: fc.property(input, (chunks) => {
      const sock = new NullDuplex();
      const ws = new WebSocket(sock, { role, clock: new VirtualClock(), maxPayload: 4096, random: { nextU32: () => 0x01020304 } as never });
      ws.on('error', () => {});
      ws.on('message', () => {});
      for (const c of chunks) sock.emit('data', Buffer.from(c));
      sock.destroy();
    }),
  };
}

export function fuzzTargets(): FuzzTarget[] {
  return [
    frameTarget('ethernet', 80, (b, o, l) => parseEthernet(b, o, l, new EthernetHeader())),
    frameTarget('arp', 64, (b, o, l) => parseArp(b, o, l, new ArpPacket())),
    frameTarget('ipv4', 120, (b, o, l) => parseIpv4Header(b, o, l, new Ipv4Header())),
    { name: 'ipv4 (mutated valid headers)', property: fc.property(validIpv4, edits, fc.nat(200), (v, e, c) => { const m = mutate(v, e, c + 1); parseIpv4Header(m, 0, m.length, new Ipv4Header()); }) },
    frameTarget('icmp', 120, (b, o, l) => parseIcmp(b, o, l, new IcmpHeader())),
    frameTarget('udp', 120, (b, o, l) => parseUdp(b, o, l, new UdpHeader(), { src: 1 as Ipv4Address, dst: 2 as Ipv4Address })),
    frameTarget('tcp', 100, (b, o, l) => parseTcp(b, o, l, new TcpSegmentView())),
    frameTarget('tcp options', 60, (b, o, l) => parseTcpOptions(b, o, l, new TcpOptionSet())),
    frameTarget('dns', 400, (b, o, l) => decodeDnsMessage(b, o, l)),
    { name: 'dns (mutated queries)', property: fc.property(dnsQuery, edits, fc.nat(300), (v, e, c) => { const m = mutate(v, e, c + 1); decodeDnsMessage(m); }) },
    frameTarget('dhcp', 600, (b, o, l) => decodeDhcpMessage(b, o, l)),
    httpTarget('request'),
    httpTarget('response'),
    websocketTarget('client'),
    websocketTarget('server'),
  ];
}

void writeEthernet; void encodeDhcpMessage; void (0 as unknown as MacAddress);
