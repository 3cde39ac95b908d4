import test from 'ava';
import fc from 'fast-check';
import { VirtualClock } from '@pnet/nic';
import { DnsServer } from '../src/dns/server';
import { MemoryNetwork } from '../src/dns/memory-transport';
import { DnsStreamFramer } from '../src/dns/transport';
import { decodeDnsMessage, DnsMessage, DnsRcode, DnsType, dnsQuery, encodeDnsMessage } from '../src/wire/dns';
import { formatIpv4, ipv4 } from '../src/wire/ipv4-address';

function server() {
  return new DnsServer([
    {
      origin: 'example.test', negativeTtl: 30,
      records: [
        { name: '@', type: 'A', value: '192.0.2.1' },
        { name: 'www', type: 'A', value: '192.0.2.80', ttl: 120 },
        { name: 'www', type: 'AAAA', value: '2001:db8::80' },
        { name: 'web', type: 'CNAME', value: 'www' },
        { name: 'ext', type: 'CNAME', value: 'host.other.test.' },
        { name: 'cross', type: 'CNAME', value: 'h.sub.example.test.' },
        ...Array.from({ length: 40 }, (_, i) => ({ name: 'big', type: 'A' as const, value: `198.51.100.${i + 1}` })),
      ],
    },
    { origin: 'sub.example.test', records: [{ name: 'h', type: 'A', value: '203.0.113.9' }] },
  ]);
}

function ask(s: DnsServer, name: string, type: number = DnsType.A, transport: 'udp' | 'tcp' = 'udp', edit?: (m: DnsMessage) => void): DnsMessage {
  const q = dnsQuery(0x4242, name, type);
  edit?.(q);
  const out = s.answer(encodeDnsMessage(q), transport);
  if (!out) throw new Error('no answer');
  const d = decodeDnsMessage(out);
  if (!d.ok) throw new Error(d.error);
  return d.message;
}

const addrs = (m: DnsMessage) => m.answers.filter((r) => r.data.kind === 'a').map((r) => formatIpv4((r.data as { address: number }).address));

test('answers A and AAAA authoritatively, echoing ID, question and RD', (t) => {
  const s = server();
  const r = ask(s, 'WWW.example.test');
  t.is(r.id, 0x4242);
  t.true(r.flags.qr && r.flags.aa && r.flags.rd && !r.flags.ra);
  t.is(r.flags.rcode, DnsRcode.NOERROR);
  t.is(r.questions[0].name, 'WWW.example.test');
  t.deepEqual(addrs(r), ['192.0.2.80']);
  t.is(r.answers[0].ttl, 120);
  t.deepEqual(addrs(ask(s, 'example.test')), ['192.0.2.1']);
  const six = ask(s, 'www.example.test', DnsType.AAAA);
  t.is(six.answers.length, 1);
  t.is(six.answers[0].type, DnsType.AAAA);
});

test('chases CNAMEs inside its zones, stops at names outside', (t) => {
  const s = server();
  const r = ask(s, 'web.example.test');
  t.deepEqual(r.answers.map((a) => a.type), [DnsType.CNAME, DnsType.A]);
  t.deepEqual(addrs(r), ['192.0.2.80']);
  const cross = ask(s, 'cross.example.test');
  t.deepEqual(addrs(cross), ['203.0.113.9']);
  const ext = ask(s, 'ext.example.test');
  t.is(ext.flags.rcode, DnsRcode.NOERROR);
  t.deepEqual(ext.answers.map((a) => a.type), [DnsType.CNAME]);
  t.is(ask(s, 'web.example.test', DnsType.CNAME).answers.length, 1);
});

test('NXDOMAIN and NODATA carry the SOA; names outside the zones are REFUSED', (t) => {
  const s = server();
  const nx = ask(s, 'nope.example.test');
  t.is(nx.flags.rcode, DnsRcode.NXDOMAIN);
  t.is(nx.authorities[0].type, DnsType.SOA);
  t.is(nx.authorities[0].ttl, 30);
  const nodata = ask(s, 'example.test', DnsType.AAAA);
  t.is(nodata.flags.rcode, DnsRcode.NOERROR);
  t.is(nodata.answers.length, 0);
  t.is(nodata.authorities[0].type, DnsType.SOA);
  t.is(ask(s, 'www.elsewhere.test').flags.rcode, DnsRcode.REFUSED);
  t.is(ask(s, 'www.example.test', DnsType.A, 'udp', (m) => { m.flags.opcode = 2; }).flags.rcode, DnsRcode.NOTIMP);
  t.deepEqual({ nx: s.stats.nxdomain, nodata: s.stats.nodata, refused: s.stats.refused }, { nx: 1, nodata: 1, refused: 1 });
});

test('UDP replies over 512 bytes are cut with TC; TCP and EDNS get more', (t) => {
  const s = server();
  const udp = ask(s, 'big.example.test');
  t.true(udp.flags.tc);
  t.true(udp.answers.length < 40);
  t.is(encodeDnsMessage(udp).length <= 512, true);
  const tcp = ask(s, 'big.example.test', DnsType.A, 'tcp');
  t.false(tcp.flags.tc);
  t.is(tcp.answers.length, 40);
  const edns = ask(s, 'big.example.test', DnsType.A, 'udp', (m) => {
    m.additionals.push({ name: '', type: DnsType.OPT, class: 1232, ttl: 0, data: { kind: 'raw', bytes: new Uint8Array(0) } });
  });
  t.false(edns.flags.tc);
  t.is(edns.answers.length, 40);
  t.is(edns.additionals[0].type, DnsType.OPT);
  t.is(s.stats.truncated, 1);
});

test('malformed queries get FORMERR or nothing, responses are never answered', (t) => {
  const s = server();
  const bad = Uint8Array.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  const out = s.answer(bad, 'udp')!;
  t.is(out.length, 12);
  const d = decodeDnsMessage(out);
  t.true(d.ok && d.message.id === 0xabcd && d.message.flags.qr && d.message.flags.rcode === DnsRcode.FORMERR);
  t.is(s.answer(Uint8Array.from([1, 2, 3]), 'udp'), null);
  const resp = dnsQuery(1, 'www.example.test', 1);
  resp.flags.qr = true;
  t.is(s.answer(encodeDnsMessage(resp), 'udp'), null);
  t.is(s.stats.malformed, 3);
});

test('bad zone tables throw at construction', (t) => {
  t.throws(() => new DnsServer({ origin: 'x.test', records: [{ name: 'a', type: 'A', value: 'nope' }] }), { instanceOf: TypeError });
  t.throws(() => new DnsServer({ origin: 'x.test', records: [
    { name: 'a', type: 'A', value: '192.0.2.1' }, { name: 'a', type: 'CNAME', value: 'b' }] }), { instanceOf: TypeError });
});

test('serves over UDP and TCP on a transport', async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock);
  const s = server();
  s.listen(net.host(ipv4(192, 0, 2, 53)));
  const client = net.host(ipv4(192, 0, 2, 10));
  const sock = client.openUdp(0);
  const got: DnsMessage[] = [];
  sock.onMessage((data) => { const d = decodeDnsMessage(data); if (d.ok) got.push(d.message); });
  sock.send(encodeDnsMessage(dnsQuery(1, 'www.example.test', 1)), 53, ipv4(192, 0, 2, 53));
  const stream = client.connectTcp!(ipv4(192, 0, 2, 53), 53)!;
  const framer = new DnsStreamFramer((m) => { const d = decodeDnsMessage(m); if (d.ok) got.push(d.message); });
  stream.onData((c) => framer.push(c));
  // Two queries in one write: both answered, in order.
  stream.write(Uint8Array.from([...DnsStreamFramer.frame(encodeDnsMessage(dnsQuery(2, 'big.example.test', 1))),
    ...DnsStreamFramer.frame(encodeDnsMessage(dnsQuery(3, 'web.example.test', 1)))]));
  clock.runUntilIdle();
  t.deepEqual(got.map((m) => m.id), [1, 2, 3]);
  t.is(got[1].answers.length, 40);
  t.deepEqual({ udp: s.stats.udp, tcp: s.stats.tcp }, { udp: 1, tcp: 2 });
  s.close();
});

test('any bytes in: the server answers with a decodable message or nothing, never throws', (t) => {
  const s = server();
  const base = encodeDnsMessage(dnsQuery(7, 'web.example.test', DnsType.A));
  fc.assert(fc.property(fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => {
      const q = base.slice();
      for (const [i, v] of edits) q[i % q.length] = v;
      return q;
    }),
  ), fc.constantFrom('udp' as const, 'tcp' as const), (bytes, transport) => {
    const out = s.answer(bytes, transport);
    if (out === null) return true;
    if (transport === 'udp' && out.length > 4096) return false;
    const d = decodeDnsMessage(out);
    return d.ok && d.message.flags.qr;
  }), { numRuns: 3000 });
  t.pass();
});

