import test from 'ava';
import fc from 'fast-check';
import {
  decodeDnsMessage, DnsEncodeError, DnsMessage, DnsRecord, DnsType, dnsQuery, encodeDnsMessage, formatIpv6, parseIpv6,
  DNS_CLASS_IN,
} from '../src/wire/dns';
import { ipv4, Ipv4Address } from '../src/wire/ipv4-address';

const label = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/) },
  // Any bytes, in escaped presentation form.
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => Array.from(bytes, (b) =>
    b === 0x2e || b === 0x5c ? '\\' + String.fromCharCode(b) : b > 0x20 && b < 0x7f ? String.fromCharCode(b) : '\\' + String(b).padStart(3, '0')).join('')) },
);
// A few shared suffixes so compression has something to do.
const name = fc.tuple(fc.array(label, { maxLength: 3 }), fc.constantFrom('', 'example.test', 'b.example.test', 'Example.TEST'))
  .map(([ls, suffix]) => [...ls, ...(suffix ? [suffix] : [])].join('.'));

const u32 = fc.nat({ max: 0xffffffff });
const rdata = fc.oneof(
  fc.record({ type: fc.constant(DnsType.A), data: u32.map((a) => ({ kind: 'a' as const, address: a as Ipv4Address })) }),
  fc.record({ type: fc.constant(DnsType.AAAA), data: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((address) => ({ kind: 'aaaa' as const, address })) }),
  fc.record({ type: fc.constantFrom(DnsType.CNAME, DnsType.NS, DnsType.PTR), data: name.map((n) => ({ kind: 'name' as const, name: n })) }),
  fc.record({
    type: fc.constant(DnsType.SOA),
    data: fc.record({ kind: fc.constant('soa' as const), mname: name, rname: name, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 }),
  }),
  fc.record({ type: fc.constantFrom(16, 99, 65280), data: fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ kind: 'raw' as const, bytes })) }),
);
const record: fc.Arbitrary<DnsRecord> = fc.tuple(name, rdata, fc.constantFrom(1, 3, 255), u32)
  .map(([n, r, cls, ttl]) => ({ name: n, type: r.type, class: cls, ttl, data: r.data }));
const message: fc.Arbitrary<DnsMessage> = fc.record({
  id: fc.nat({ max: 0xffff }),
  flags: fc.record({
    qr: fc.boolean(), opcode: fc.nat({ max: 15 }), aa: fc.boolean(), tc: fc.boolean(), rd: fc.boolean(), ra: fc.boolean(),
    rcode: fc.nat({ max: 15 }),
  }),
  questions: fc.array(fc.record({ name, type: fc.nat({ max: 0xffff }), class: fc.constantFrom(1, 255) }), { maxLength: 3 }),
  answers: fc.array(record, { maxLength: 5 }),
  authorities: fc.array(record, { maxLength: 3 }),
  additionals: fc.array(record, { maxLength: 3 }),
});

test('messages round-trip through encode and decode, compressed or not', (t) => {
  fc.assert(fc.property(message, fc.boolean(), (m, compress) => {
    const bytes = encodeDnsMessage(m, { compress });
    const d = decodeDnsMessage(bytes);
    if (!d.ok) throw new Error(`decode failed: ${d.error}`);
    t.deepEqual(d.message, m);
  }), { numRuns: 400 });
  t.pass();
});

test('compression makes repeated names shorter and still decodes', (t) => {
  const m = dnsQuery(7, 'www.example.test', DnsType.A);
  m.flags.qr = true;
  m.answers = [0, 1, 2].map((i) => ({ name: 'www.example.test', type: DnsType.A, class: 1, ttl: 60, data: { kind: 'a', address: ipv4(192, 0, 2, i) } }));
  const plain = encodeDnsMessage(m, { compress: false });
  const packed = encodeDnsMessage(m);
  // Each of the three owner names becomes a 2-byte pointer instead of 18 bytes.
  t.is(plain.length - packed.length, 3 * (18 - 2));
  t.is(packed[34] & 0xc0, 0xc0); // first answer's owner is a pointer
  t.is(((packed[34] & 0x3f) << 8) | packed[35], 12); // to the question name
  const d = decodeDnsMessage(packed);
  t.true(d.ok);
  if (d.ok) t.deepEqual(d.message, m);
});

test('compression points at a shared suffix', (t) => {
  const m = dnsQuery(1, 'a.example.test', DnsType.CNAME);
  m.answers = [{ name: 'a.example.test', type: DnsType.CNAME, class: 1, ttl: 1, data: { kind: 'name', name: 'b.example.test' } }];
  const bytes = encodeDnsMessage(m);
  // CNAME rdata: 'b' label, then a pointer to 'example.test' at 12 + 2.
  const rdata = bytes.subarray(bytes.length - 4);
  t.deepEqual(Array.from(rdata), [1, 0x62, 0xc0, 14]);
});

function header(qd: number, an = 0): number[] {
  return [0x12, 0x34, 0x81, 0x80, 0, qd, 0, an, 0, 0, 0, 0];
}

test('a pointer to itself is a loop, not followed', (t) => {
  const msg = Uint8Array.from([...header(1), 0xc0, 12, 0, 1, 0, 1]);
  t.deepEqual(decodeDnsMessage(msg), { ok: false, error: 'pointer-loop' });
});

test('two names pointing at each other are a loop', (t) => {
  // Question name at 12: label 'a' then a pointer to 16; at 16: a pointer back to 12.
  const msg = Uint8Array.from([...header(1), 1, 0x61, 0xc0, 16, 0xc0, 12, 0, 1, 0, 1]);
  const r = decodeDnsMessage(msg);
  t.false(r.ok);
  if (!r.ok) t.true(r.error === 'pointer-loop' || r.error === 'bad-pointer');
});

test('a backwards pointer chain that re-enters its own run is a loop', (t) => {
  // Name A at 12: 'x' + pointer to 12 (its own start) — backwards, yet a loop.
  const msg = Uint8Array.from([...header(1), 1, 0x78, 0xc0, 12, 0, 1, 0, 1]);
  t.deepEqual(decodeDnsMessage(msg), { ok: false, error: 'pointer-loop' });
});

test('pointers past the end or forwards are rejected', (t) => {
  t.deepEqual(decodeDnsMessage(Uint8Array.from([...header(1), 0xc0, 200, 0, 1, 0, 1])), { ok: false, error: 'bad-pointer' });
  t.deepEqual(decodeDnsMessage(Uint8Array.from([...header(1), 0xc0, 16, 0, 1, 0, 1, 0])), { ok: false, error: 'bad-pointer' });
});

test('reserved label types and over-long names are rejected', (t) => {
  t.deepEqual(decodeDnsMessage(Uint8Array.from([...header(1), 0x41, 0, 0, 1, 0, 1])), { ok: false, error: 'bad-label-type' });
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(50, ...new Array(50).fill(0x61));
  t.deepEqual(decodeDnsMessage(Uint8Array.from([...header(1), ...long, 0, 0, 1, 0, 1])), { ok: false, error: 'name-too-long' });
});

test('counts that cannot fit are rejected before parsing', (t) => {
  t.deepEqual(decodeDnsMessage(Uint8Array.from([0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), { ok: false, error: 'count-too-large' });
  t.deepEqual(decodeDnsMessage(Uint8Array.from([...header(1, 1), 0, 0, 1, 0, 1])), { ok: false, error: 'count-too-large' });
});

test('truncated messages and bad rdata lengths are errors, not exceptions', (t) => {
  const m = dnsQuery(9, 'www.example.test', DnsType.A);
  m.answers = [{ name: 'www.example.test', type: DnsType.A, class: 1, ttl: 5, data: { kind: 'a', address: ipv4(192, 0, 2, 1) } }];
  const good = encodeDnsMessage(m);
  for (let cut = 0; cut < good.length; cut++) {
    const r = decodeDnsMessage(good.subarray(0, cut));
    t.false(r.ok, `cut at ${cut}`);
  }
  const bad = good.slice();
  bad[bad.length - 5] = 3; // A rdlength 4 -> 3
  t.false(decodeDnsMessage(bad).ok);
  t.deepEqual(decodeDnsMessage(Uint8Array.from([...good, 0])), { ok: false, error: 'trailing-bytes' });
});

test('the decoder never throws on random bytes or corrupted messages', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const r = decodeDnsMessage(bytes);
    return typeof r.ok === 'boolean';
  }), { numRuns: 2000 });
  fc.assert(fc.property(message, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }), (m, edits) => {
    const bytes = encodeDnsMessage(m);
    for (const [i, v] of edits) bytes[i % bytes.length] = v;
    const r = decodeDnsMessage(bytes);
    return typeof r.ok === 'boolean';
  }), { numRuns: 1000 });
  t.pass();
});

test('maxSize cuts whole records, sets TC and stays decodable', (t) => {
  const m = dnsQuery(3, 'big.example.test', DnsType.A);
  m.flags.qr = true;
  m.answers = Array.from({ length: 60 }, (_, i) => ({
    name: 'big.example.test', type: DnsType.A, class: DNS_CLASS_IN, ttl: 60, data: { kind: 'a' as const, address: ipv4(192, 0, 2, i) },
  }));
  const full = encodeDnsMessage(m);
  t.true(full.length > 512);
  t.is(full[2] & 0x02, 0);
  const cut = encodeDnsMessage(m, { maxSize: 512 });
  t.true(cut.length <= 512);
  t.is(cut[2] & 0x02, 0x02);
  const d = decodeDnsMessage(cut);
  t.true(d.ok);
  if (d.ok) {
    t.true(d.message.flags.tc);
    t.true(d.message.answers.length > 0 && d.message.answers.length < 60);
    t.deepEqual(d.message.answers, m.answers.slice(0, d.message.answers.length));
  }
  const tiny = encodeDnsMessage(m, { maxSize: 20 });
  t.is(tiny.length, 12);
  const dt = decodeDnsMessage(tiny);
  t.true(dt.ok && dt.message.flags.tc && dt.message.questions.length === 0);
});

test('the encoder rejects bad names from the API with DnsEncodeError', (t) => {
  t.throws(() => encodeDnsMessage(dnsQuery(1, 'a'.repeat(64) + '.test', 1)), { instanceOf: DnsEncodeError });
  t.throws(() => encodeDnsMessage(dnsQuery(1, 'a..b', 1)), { instanceOf: DnsEncodeError });
  t.throws(() => encodeDnsMessage(dnsQuery(1, Array(130).fill('a').join('.'), 1)), { instanceOf: DnsEncodeError });
  t.throws(() => encodeDnsMessage(dnsQuery(70000, 'a', 1)), { instanceOf: DnsEncodeError });
});

test('escaped labels keep dots and odd bytes', (t) => {
  const m = dnsQuery(1, 'a\\.b\\000c.example', DnsType.A);
  const bytes = encodeDnsMessage(m);
  t.deepEqual(Array.from(bytes.subarray(12, 19)), [5, 0x61, 0x2e, 0x62, 0, 0x63, 7]);
  const d = decodeDnsMessage(bytes);
  t.true(d.ok && d.message.questions[0].name === 'a\\.b\\000c.example');
});

test('IPv6 text round-trips through parse and format', (t) => {
  t.is(formatIpv6(parseIpv6('2001:db8::1')!), '2001:db8::1');
  t.is(formatIpv6(parseIpv6('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  t.is(formatIpv6(new Uint8Array(16)), '::');
  t.is(parseIpv6('1::2::3'), null);
  t.is(parseIpv6('12345::'), null);
  t.is(parseIpv6('1:2:3:4:5:6:7'), null);
});
