import test from 'ava';
import fc from 'fast-check';
import { MacAddress } from '@pnet/nic';
import {
  BOOTP_REPLY, BOOTP_REQUEST, decodeDhcpMessage, DHCP_MIN_MESSAGE_LENGTH, DhcpEncodeError, DhcpMessage, DhcpMessageType,
  DhcpMessageTypeValue, DhcpOption, dhcpMessage, encodeDhcpMessage,
} from '../src/wire/dhcp';
import { ipv4, Ipv4Address } from '../src/wire/ipv4-address';

const addr = fc.nat({ max: 0xffffffff }).map((a) => a as Ipv4Address);
const u32 = fc.nat({ max: 0xffffffff });
const latin = fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\x01-\xff]/g, 'x'));
const options = fc.record({
  messageType: fc.integer({ min: 1, max: 8 }).map((x) => x as DhcpMessageTypeValue),
  subnetMask: addr, routers: fc.array(addr, { minLength: 1, maxLength: 3 }), dnsServers: fc.array(addr, { minLength: 1, maxLength: 70 }),
  hostName: latin, domainName: latin, broadcastAddress: addr, requestedIp: addr, leaseTime: u32, serverId: addr,
  parameterList: fc.array(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 10 }), message: latin,
  maxMessageSize: fc.integer({ min: 576, max: 0xffff }), renewalTime: u32, rebindingTime: u32,
  clientId: fc.uint8Array({ minLength: 1, maxLength: 20 }),
  other: fc.array(fc.tuple(fc.constantFrom(43, 60, 66, 120, 250), fc.uint8Array({ minLength: 1, maxLength: 300 })), { maxLength: 3 })
    .map((kv) => new Map(kv)),
}, { requiredKeys: [] }).map((o) => {
  if (o.other && o.other.size === 0) delete o.other;
  return o;
});
const message: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom(BOOTP_REQUEST, BOOTP_REPLY), htype: fc.constant(1), hlen: fc.constant(6), hops: fc.nat({ max: 255 }),
  xid: u32, secs: fc.nat({ max: 0xffff }), flags: fc.nat({ max: 0xffff }), ciaddr: addr, yiaddr: addr, siaddr: addr, giaddr: addr,
  chaddr: fc.nat({ max: 2 ** 48 - 1 }).map((m) => m as MacAddress),
  sname: fc.stringMatching(/^[a-z0-9.]{0,20}$/), file: fc.stringMatching(/^[a-z0-9./]{0,40}$/), options,
});

test('messages round-trip through encode and decode', (t) => {
  fc.assert(fc.property(message, (m) => {
    const bytes = encodeDhcpMessage(m);
    if (bytes.length < DHCP_MIN_MESSAGE_LENGTH) throw new Error('too short');
    const d = decodeDhcpMessage(bytes);
    if (!d.ok) throw new Error(d.error);
    t.deepEqual(d.message, m);
  }), { numRuns: 300 });
  t.pass();
});

test('layout: fixed fields, magic cookie, options, END', (t) => {
  const m = dhcpMessage(BOOTP_REQUEST, 0x01020304, 0x020000000001 as MacAddress,
    { messageType: DhcpMessageType.DISCOVER, parameterList: [1, 3, 6] }, { flags: 0x8000 });
  const b = encodeDhcpMessage(m);
  t.is(b.length, 300);
  t.deepEqual(Array.from(b.subarray(0, 12)), [1, 1, 6, 0, 1, 2, 3, 4, 0, 0, 0x80, 0]);
  t.deepEqual(Array.from(b.subarray(28, 34)), [2, 0, 0, 0, 0, 1]);
  t.deepEqual(Array.from(b.subarray(236, 240)), [0x63, 0x82, 0x53, 0x63]);
  t.deepEqual(Array.from(b.subarray(240, 249)), [53, 1, 1, 55, 3, 1, 3, 6, 255]);
});

test('split options are joined and overloaded file/sname fields are read', (t) => {
  const b = encodeDhcpMessage(dhcpMessage(BOOTP_REPLY, 1, 2 as MacAddress, { messageType: DhcpMessageType.ACK }));
  // Options: type, overload=3 (file and sname), END. DNS servers split: 2 in file, 1 in sname.
  b.set([53, 1, 5, 52, 1, 3, 255], 240);
  b.set([6, 8, 192, 0, 2, 1, 192, 0, 2, 2, 255], 108);
  b.set([6, 4, 192, 0, 2, 3, 255], 44);
  const d = decodeDhcpMessage(b);
  t.true(d.ok);
  if (d.ok) {
    t.deepEqual(d.message.options.dnsServers, [ipv4(192, 0, 2, 1), ipv4(192, 0, 2, 2), ipv4(192, 0, 2, 3)]);
    t.is(d.message.file, '');
    t.is(d.message.sname, '');
  }
});

test('bad messages are errors, never exceptions', (t) => {
  const good = encodeDhcpMessage(dhcpMessage(BOOTP_REQUEST, 1, 2 as MacAddress, { messageType: DhcpMessageType.REQUEST, requestedIp: ipv4(192, 0, 2, 9) }));
  t.deepEqual(decodeDhcpMessage(good.subarray(0, 239)), { ok: false, error: 'truncated' });
  const cookie = good.slice(); cookie[236] = 0;
  t.deepEqual(decodeDhcpMessage(cookie), { ok: false, error: 'bad-cookie' });
  const noEnd = good.slice(0, 240 + 3 + 6);
  t.deepEqual(decodeDhcpMessage(noEnd), { ok: false, error: 'no-end' });
  const overrun = good.slice(0, 250); overrun[244] = 50; overrun[245] = 200;
  t.deepEqual(decodeDhcpMessage(overrun), { ok: false, error: 'truncated' });
  const badLen = good.slice(); badLen.set([53, 2, 1, 1, 255], 240);
  t.deepEqual(decodeDhcpMessage(badLen), { ok: false, error: 'bad-option' });
  const badType = good.slice(); badType.set([53, 1, 9, 255], 240);
  t.deepEqual(decodeDhcpMessage(badType), { ok: false, error: 'bad-option' });
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.boolean(), (bytes, cookieOk) => {
    if (cookieOk && bytes.length >= 240) bytes.set([0x63, 0x82, 0x53, 0x63], 236);
    return typeof decodeDhcpMessage(bytes).ok === 'boolean';
  }), { numRuns: 2000 });
  fc.assert(fc.property(message, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }), (m, edits) => {
    const bytes = encodeDhcpMessage(m);
    for (const [i, v] of edits) bytes[240 + (i % (bytes.length - 240))] = v;
    return typeof decodeDhcpMessage(bytes).ok === 'boolean';
  }), { numRuns: 1000 });
});

test('the encoder rejects bad fields from the API', (t) => {
  const m = dhcpMessage(BOOTP_REQUEST, 1, 2 as MacAddress, { routers: [] });
  t.throws(() => encodeDhcpMessage(m), { instanceOf: DhcpEncodeError });
  t.throws(() => encodeDhcpMessage(dhcpMessage(BOOTP_REQUEST, 1, 2 as MacAddress, { leaseTime: -1 })), { instanceOf: DhcpEncodeError });
  t.throws(() => encodeDhcpMessage(dhcpMessage(BOOTP_REQUEST, 1, 2 as MacAddress, { other: new Map([[DhcpOption.END, new Uint8Array(1)]]) })), { instanceOf: DhcpEncodeError });
});
