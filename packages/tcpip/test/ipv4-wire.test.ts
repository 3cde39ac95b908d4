import test from 'ava';
import fc from 'fast-check';
import { MacAddress } from '@pnet/nic';
import { Ipv4Address } from '../src/wire/ipv4-address';
import { EthernetHeader, parseEthernet, writeEthernet, ethernetHeaderLength, ETHERTYPE_QINQ, ETHERTYPE_VLAN } from '../src/wire/ethernet';
import { ArpPacket, parseArp, writeArp } from '../src/wire/arp';
import { Ipv4Header, parseIpv4Header, writeIpv4Header, ipv4OptionsWellFormed } from '../src/wire/ipv4';
import { IcmpHeader, parseIcmp, writeIcmpHeader, setIcmpChecksum } from '../src/wire/icmp';
import { UdpHeader, parseUdp, writeUdpHeader, setUdpChecksum, udpChecksumValid } from '../src/wire/udp';

const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 }).map((n) => n as MacAddress);
const ip = fc.integer({ min: 0, max: 0xffffffff }).map((n) => n as Ipv4Address);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 0xff });
const bytes = fc.uint8Array({ minLength: 0, maxLength: 200 });
const NUM_RUNS = 300;

/** Every parser must return (a header or a reason) and never throw, on any bytes at any offset. */
function neverThrows(name: string, parse: (buf: Uint8Array, off: number, len: number) => unknown): void {
  test(`${name}: random bytes never throw`, (t) => {
    fc.assert(fc.property(bytes, fc.nat(10), fc.nat(220), (buf, off, len) => {
      parse(buf, off, len);
      parse(buf, 0, buf.length);
    }), { numRuns: NUM_RUNS });
    t.pass();
  });
}

/** Mutating a valid packet (flipped bytes, truncation) never throws either. */
function mutatedNeverThrows(name: string, valid: fc.Arbitrary<Uint8Array>, parse: (buf: Uint8Array, off: number, len: number) => unknown): void {
  test(`${name}: mutated packets never throw`, (t) => {
    fc.assert(fc.property(valid, fc.array(fc.tuple(fc.nat(), u8), { maxLength: 6 }), fc.nat(), (pkt, flips, cut) => {
      const b = Uint8Array.from(pkt);
      for (const [i, v] of flips) if (b.length) b[i % b.length] = v;
      parse(b, 0, b.length);
      parse(b, 0, cut % (b.length + 1));
    }), { numRuns: NUM_RUNS });
    t.pass();
  });
}

// ---- Ethernet ----
const ethFields = fc.record({
  dst: mac, src: mac, etherType: fc.integer({ min: 0, max: 0xffff }).filter((x) => x !== ETHERTYPE_VLAN && x !== ETHERTYPE_QINQ),
  tags: fc.array(fc.tuple(fc.constantFrom(ETHERTYPE_VLAN, ETHERTYPE_QINQ), u16), { maxLength: 2 }),
});

test('ethernet: parse(serialize(x)) equals x', (t) => {
  fc.assert(fc.property(ethFields, bytes, (f, payload) => {
    const h = { dst: f.dst, src: f.src, etherType: f.etherType, vlanTags: f.tags.map((x) => x[1]), vlanTpids: f.tags.map((x) => x[0]) };
    const buf = new Uint8Array(ethernetHeaderLength(h) + payload.length);
    const n = writeEthernet(buf, 0, h);
    buf.set(payload, n);
    const out = parseEthernet(buf, 0, buf.length);
    if (typeof out === 'string') return false;
    return out.dst === h.dst && out.src === h.src && out.etherType === h.etherType && out.headerLength === n &&
      JSON.stringify(out.vlanTags) === JSON.stringify(h.vlanTags) && JSON.stringify(out.vlanTpids) === JSON.stringify(h.vlanTpids);
  }), { numRuns: NUM_RUNS });
  t.pass();
});

test('ethernet: a triple-tagged frame is refused, a truncated tag too', (t) => {
  const buf = new Uint8Array(40);
  writeEthernet(buf, 0, { dst: 1 as MacAddress, src: 2 as MacAddress, etherType: 0x0800, vlanTags: [1, 2], vlanTpids: [0x8100, 0x8100] });
  // Third tag where the EtherType was.
  buf[20] = 0x81; buf[21] = 0x00;
  t.is(parseEthernet(buf, 0, 40), 'too-many-tags');
  t.is(parseEthernet(buf, 0, 17), 'truncated');
  t.is(parseEthernet(buf, 0, 13), 'truncated');
});

neverThrows('ethernet', (b, o, l) => parseEthernet(b, o, l, new EthernetHeader()));

// ---- ARP ----
const arpFields = fc.record({ operation: u16, senderMac: mac, senderIp: ip, targetMac: mac, targetIp: ip });
test('arp: parse(serialize(x)) equals x', (t) => {
  fc.assert(fc.property(arpFields, (p) => {
    const buf = new Uint8Array(28);
    writeArp(buf, 0, p);
    const out = parseArp(buf, 0, 28);
    return typeof out !== 'string' && out.operation === p.operation && out.senderMac === p.senderMac &&
      out.senderIp === p.senderIp && out.targetMac === p.targetMac && out.targetIp === p.targetIp;
  }), { numRuns: NUM_RUNS });
  t.pass();
});
test('arp: non Ethernet/IPv4 ARP is unsupported', (t) => {
  const buf = new Uint8Array(28);
  writeArp(buf, 0, { operation: 1, senderMac: 1 as MacAddress, senderIp: 2 as Ipv4Address, targetMac: 0 as MacAddress, targetIp: 3 as Ipv4Address });
  buf[1] = 6;
  t.is(parseArp(buf, 0, 28), 'unsupported');
  t.is(parseArp(buf, 0, 27), 'truncated');
});
neverThrows('arp', (b, o, l) => parseArp(b, o, l, new ArpPacket()));
mutatedNeverThrows('arp', arpFields.map((p) => { const b = new Uint8Array(28); writeArp(b, 0, p); return b; }), (b, o, l) => parseArp(b, o, l));

// ---- IPv4 ----
const ipFields = fc.record({
  tos: u8, id: u16, reservedFlag: fc.boolean(), dontFragment: fc.boolean(), moreFragments: fc.boolean(),
  fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8), ttl: u8, protocol: u8, src: ip, dst: ip,
  options: fc.integer({ min: 0, max: 10 }).chain((n) => fc.uint8Array({ minLength: n * 4, maxLength: n * 4 })),
  payload: fc.uint8Array({ maxLength: 100 }),
});
function buildIpv4(f: { options: Uint8Array; payload: Uint8Array } & Record<string, any>): Uint8Array {
  const hl = 20 + f.options.length;
  const buf = new Uint8Array(hl + f.payload.length);
  writeIpv4Header(buf, 0, { ...(f as any), totalLength: buf.length });
  buf.set(f.payload, hl);
  return buf;
}
test('ipv4: parse(serialize(x)) equals x, checksum verifies', (t) => {
  fc.assert(fc.property(ipFields, (f) => {
    const buf = buildIpv4(f);
    const h = parseIpv4Header(buf, 0, buf.length);
    if (typeof h === 'string') return false;
    const opts = buf.subarray(h.optionsOffset, h.headerLength);
    return h.tos === f.tos && h.id === f.id && h.reservedFlag === f.reservedFlag && h.dontFragment === f.dontFragment &&
      h.moreFragments === f.moreFragments && h.fragmentOffset === f.fragmentOffset && h.ttl === f.ttl &&
      h.protocol === f.protocol && h.src === f.src && h.dst === f.dst && h.totalLength === buf.length &&
      h.headerLength === 20 + f.options.length && Buffer.compare(Buffer.from(opts), Buffer.from(f.options)) === 0;
  }), { numRuns: NUM_RUNS });
  t.pass();
});
test('ipv4: validation reasons', (t) => {
  const base = buildIpv4({ tos: 0, id: 1, ttl: 64, protocol: 17, src: 1, dst: 2, options: new Uint8Array(0), payload: new Uint8Array(8) });
  const m = (fn: (b: Uint8Array) => void) => { const b = Uint8Array.from(base); fn(b); return b; };
  t.is(parseIpv4Header(m((b) => { b[0] = 0x65; }), 0, 28), 'bad-version');
  t.is(parseIpv4Header(m((b) => { b[0] = 0x44; }), 0, 28), 'bad-header-length');
  t.is(parseIpv4Header(m((b) => { b[0] = 0x4f; }), 0, 28), 'bad-header-length');
  t.is(parseIpv4Header(m((b) => { b[3] = 29; }), 0, 28), 'bad-total-length');
  t.is(parseIpv4Header(m((b) => { b[3] = 19; }), 0, 28), 'bad-total-length');
  t.is(parseIpv4Header(m((b) => { b[8] = 1; }), 0, 28), 'bad-checksum');
  t.not(typeof parseIpv4Header(m((b) => { b[8] = 1; }), 0, 28, undefined, false), 'string', 'checksum offload skips the check');
  t.is(parseIpv4Header(base, 0, 19), 'truncated');
  // Padding after totalLength is allowed.
  const padded = new Uint8Array(60); padded.set(base);
  t.is((parseIpv4Header(padded, 0, 60) as Ipv4Header).totalLength, 28);
});
test('ipv4: option walker stays inside the options area', (t) => {
  t.true(ipv4OptionsWellFormed(Uint8Array.from([1, 1, 0, 0]), 0, 4));
  t.true(ipv4OptionsWellFormed(Uint8Array.from([7, 4, 0, 0]), 0, 4));
  t.false(ipv4OptionsWellFormed(Uint8Array.from([7, 40, 0, 0]), 0, 4));
  t.false(ipv4OptionsWellFormed(Uint8Array.from([1, 1, 1, 7]), 0, 4));
  fc.assert(fc.property(bytes, (b) => { ipv4OptionsWellFormed(b, 0, b.length); }));
});
neverThrows('ipv4', (b, o, l) => parseIpv4Header(b, o, l, new Ipv4Header()));
mutatedNeverThrows('ipv4', ipFields.map(buildIpv4), (b, o, l) => parseIpv4Header(b, o, l));

// ---- ICMP ----
const icmpFields = fc.record({ type: u8, code: u8, rest: fc.integer({ min: 0, max: 0xffffffff }), payload: bytes });
function buildIcmp(f: { type: number; code: number; rest: number; payload: Uint8Array }): Uint8Array {
  const buf = new Uint8Array(8 + f.payload.length);
  writeIcmpHeader(buf, 0, f.type, f.code, f.rest);
  buf.set(f.payload, 8);
  setIcmpChecksum(buf, 0, buf.length);
  return buf;
}
test('icmp: parse(serialize(x)) equals x, checksum verifies', (t) => {
  fc.assert(fc.property(icmpFields, (f) => {
    const buf = buildIcmp(f);
    const h = parseIcmp(buf, 0, buf.length);
    return typeof h !== 'string' && h.type === f.type && h.code === f.code && h.rest === f.rest &&
      h.identifier === f.rest >>> 16 && h.sequence === (f.rest & 0xffff);
  }), { numRuns: NUM_RUNS });
  t.pass();
});
test('icmp: a flipped bit fails the checksum', (t) => {
  fc.assert(fc.property(icmpFields, fc.nat(), fc.integer({ min: 0, max: 7 }), (f, at, bit) => {
    const buf = buildIcmp(f);
    buf[at % buf.length] ^= 1 << bit;
    return parseIcmp(buf, 0, buf.length) === 'bad-checksum';
  }), { numRuns: NUM_RUNS });
  t.pass();
});
neverThrows('icmp', (b, o, l) => parseIcmp(b, o, l, new IcmpHeader()));
mutatedNeverThrows('icmp', icmpFields.map(buildIcmp), (b, o, l) => parseIcmp(b, o, l));

// ---- UDP ----
const udpFields = fc.record({ srcPort: u16, dstPort: u16, src: ip, dst: ip, payload: bytes });
function buildUdp(f: { srcPort: number; dstPort: number; src: Ipv4Address; dst: Ipv4Address; payload: Uint8Array }): Uint8Array {
  const buf = new Uint8Array(8 + f.payload.length);
  writeUdpHeader(buf, 0, f.srcPort, f.dstPort, buf.length);
  buf.set(f.payload, 8);
  setUdpChecksum(buf, 0, buf.length, f.src, f.dst);
  return buf;
}
test('udp: parse(serialize(x)) equals x, checksum verifies and is never 0 on the wire', (t) => {
  fc.assert(fc.property(udpFields, (f) => {
    const buf = buildUdp(f);
    const h = parseUdp(buf, 0, buf.length, new UdpHeader(), { src: f.src, dst: f.dst });
    return typeof h !== 'string' && h.srcPort === f.srcPort && h.dstPort === f.dstPort && h.length === buf.length &&
      h.checksum !== 0 && udpChecksumValid(buf, 0, buf.length, f.src, f.dst);
  }), { numRuns: NUM_RUNS });
  t.pass();
});
test('udp: wrong pseudo-header fails, zero checksum means none, bad lengths refused', (t) => {
  const buf = buildUdp({ srcPort: 1, dstPort: 2, src: 10 as Ipv4Address, dst: 20 as Ipv4Address, payload: Uint8Array.from([1, 2, 3]) });
  t.is(parseUdp(buf, 0, buf.length, undefined, { src: 10 as Ipv4Address, dst: 21 as Ipv4Address }), 'bad-checksum');
  buf[6] = 0; buf[7] = 0;
  t.not(typeof parseUdp(buf, 0, buf.length, undefined, { src: 10 as Ipv4Address, dst: 21 as Ipv4Address }), 'string');
  buf[5] = 7;
  t.is(parseUdp(buf, 0, buf.length), 'bad-length');
  buf[5] = 12;
  t.is(parseUdp(buf, 0, buf.length), 'bad-length');
  t.is(parseUdp(buf, 0, 7), 'truncated');
});
neverThrows('udp', (b, o, l) => parseUdp(b, o, l, new UdpHeader(), { src: 1 as Ipv4Address, dst: 2 as Ipv4Address }));
mutatedNeverThrows('udp', udpFields.map(buildUdp), (b, o, l) => parseUdp(b, o, l, undefined, { src: 1 as Ipv4Address, dst: 2 as Ipv4Address }));
