import test from 'ava';
import { localMac, VirtualClock } from '@pnet/nic';
import { DhcpServer } from '../src/dhcp/server';
import {
  BOOTP_REPLY, BOOTP_REQUEST, decodeDhcpMessage, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessage, DhcpMessageType,
  DhcpMessageTypeValue, DhcpOptions, dhcpMessage, encodeDhcpMessage,
} from '../src/wire/dhcp';
import { formatIpv4, IPV4_BROADCAST, ipv4 } from '../src/wire/ipv4-address';

const SID = ipv4(192, 0, 2, 1);

function setup() {
  const clock = new VirtualClock();
  const server = new DhcpServer({
    clock, serverId: SID, pool: { start: ipv4(192, 0, 2, 10), end: ipv4(192, 0, 2, 12) }, netmask: ipv4(255, 255, 255, 0),
    routers: [SID], dnsServers: [ipv4(192, 0, 2, 53)], leaseTime: 600,
  });
  const send = (type: DhcpMessageTypeValue, mac: number, options: DhcpOptions = {}, fields: Partial<DhcpMessage> = {}) => {
    const replies = server.handle(encodeDhcpMessage(dhcpMessage(BOOTP_REQUEST, 77, localMac(mac), { messageType: type, ...options }, fields)));
    return replies.map((r) => {
      const d = decodeDhcpMessage(r.data);
      if (!d.ok) throw new Error(d.error);
      return { ...r, m: d.message };
    });
  };
  return { clock, server, send };
}

test('offers carry the lease options and the same client gets the same address', (t) => {
  const { server, send } = setup();
  const [offer] = send(DhcpMessageType.DISCOVER, 1);
  t.is(offer.m.op, BOOTP_REPLY);
  t.is(offer.m.xid, 77);
  t.is(offer.m.options.messageType, DhcpMessageType.OFFER);
  t.is(formatIpv4(offer.m.yiaddr), '192.0.2.10');
  t.deepEqual(offer.address, IPV4_BROADCAST);
  t.is(offer.port, DHCP_CLIENT_PORT);
  const o = offer.m.options;
  t.deepEqual([o.serverId, o.leaseTime, o.renewalTime, o.rebindingTime], [SID, 600, 300, 525]);
  t.is(formatIpv4(o.subnetMask!), '255.255.255.0');
  t.is(formatIpv4(o.broadcastAddress!), '192.0.2.255');
  t.deepEqual(o.routers, [SID]);
  t.is(send(DhcpMessageType.DISCOVER, 1)[0].m.yiaddr, offer.m.yiaddr);
  t.is(formatIpv4(send(DhcpMessageType.DISCOVER, 2)[0].m.yiaddr), '192.0.2.11');
  t.is(server.leases().length, 2);
});

test('a requested address is honoured when free', (t) => {
  const { send } = setup();
  t.is(formatIpv4(send(DhcpMessageType.DISCOVER, 1, { requestedIp: ipv4(192, 0, 2, 12) })[0].m.yiaddr), '192.0.2.12');
  t.is(formatIpv4(send(DhcpMessageType.DISCOVER, 2, { requestedIp: ipv4(192, 0, 2, 12) })[0].m.yiaddr), '192.0.2.10');
  t.is(formatIpv4(send(DhcpMessageType.DISCOVER, 3, { requestedIp: ipv4(198, 51, 100, 1) })[0].m.yiaddr), '192.0.2.11');
});

test('a REQUEST for another server withdraws our offer; a stale one is NAKed', (t) => {
  const { server, send } = setup();
  const [offer] = send(DhcpMessageType.DISCOVER, 1);
  t.deepEqual(send(DhcpMessageType.REQUEST, 1, { serverId: ipv4(192, 0, 2, 2), requestedIp: ipv4(192, 0, 2, 99) }), []);
  t.deepEqual(server.leases(), []);
  const [nak] = send(DhcpMessageType.REQUEST, 1, { serverId: SID, requestedIp: offer.m.yiaddr });
  t.is(nak.m.options.messageType, DhcpMessageType.NAK);
  t.is(nak.address, IPV4_BROADCAST);
});

test('offers expire after the hold time', (t) => {
  const { clock, server, send } = setup();
  send(DhcpMessageType.DISCOVER, 1);
  clock.advance(60_001);
  t.deepEqual(server.leases(), []);
});

test('INIT-REBOOT: ACK for a free or own address, NAK for a taken or foreign one', (t) => {
  const { send } = setup();
  const [offer] = send(DhcpMessageType.DISCOVER, 1);
  send(DhcpMessageType.REQUEST, 1, { serverId: SID, requestedIp: offer.m.yiaddr });
  t.is(send(DhcpMessageType.REQUEST, 1, { requestedIp: offer.m.yiaddr })[0].m.options.messageType, DhcpMessageType.ACK);
  t.is(send(DhcpMessageType.REQUEST, 2, { requestedIp: offer.m.yiaddr })[0].m.options.messageType, DhcpMessageType.NAK);
  t.is(send(DhcpMessageType.REQUEST, 2, { requestedIp: ipv4(198, 51, 100, 7) })[0].m.options.messageType, DhcpMessageType.NAK);
  t.is(send(DhcpMessageType.REQUEST, 3, { requestedIp: ipv4(192, 0, 2, 11) })[0].m.options.messageType, DhcpMessageType.ACK);
});

test('renewals are answered by unicast to ciaddr; leases expire', (t) => {
  const { clock, server, send } = setup();
  const [offer] = send(DhcpMessageType.DISCOVER, 1);
  send(DhcpMessageType.REQUEST, 1, { serverId: SID, requestedIp: offer.m.yiaddr });
  clock.advance(300_000);
  const [ack] = send(DhcpMessageType.REQUEST, 1, {}, { ciaddr: offer.m.yiaddr });
  t.is(ack.m.options.messageType, DhcpMessageType.ACK);
  t.is(ack.address, offer.m.yiaddr);
  t.is(ack.port, DHCP_CLIENT_PORT);
  clock.advance(599_000);
  t.is(server.leases().length, 1); // extended at 300 s
  clock.advance(2_000);
  t.deepEqual(server.leases(), []);
  t.is(send(DhcpMessageType.REQUEST, 1, {}, { ciaddr: offer.m.yiaddr })[0].m.options.messageType, DhcpMessageType.NAK);
  t.deepEqual(send(DhcpMessageType.REQUEST, 1, {}, { ciaddr: ipv4(198, 51, 100, 7) }), []);
});

test('DECLINE keeps the address out of the pool; INFORM gets options without a lease', (t) => {
  const { send } = setup();
  const [offer] = send(DhcpMessageType.DISCOVER, 1);
  send(DhcpMessageType.REQUEST, 1, { serverId: SID, requestedIp: offer.m.yiaddr });
  send(DhcpMessageType.DECLINE, 1, { requestedIp: offer.m.yiaddr, serverId: SID });
  t.is(formatIpv4(send(DhcpMessageType.DISCOVER, 1)[0].m.yiaddr), '192.0.2.11');
  const [ack] = send(DhcpMessageType.INFORM, 5, {}, { ciaddr: ipv4(192, 0, 2, 200) });
  t.is(ack.m.options.messageType, DhcpMessageType.ACK);
  t.is(ack.m.options.leaseTime, undefined);
  t.deepEqual(ack.m.options.dnsServers, [ipv4(192, 0, 2, 53)]);
  t.is(ack.address, ipv4(192, 0, 2, 200));
});

test('relayed requests are answered through the relay; the pool can run out', (t) => {
  const { server, send } = setup();
  const [r] = send(DhcpMessageType.DISCOVER, 1, {}, { giaddr: ipv4(192, 0, 2, 254) });
  t.is(r.address, ipv4(192, 0, 2, 254));
  t.is(r.port, DHCP_SERVER_PORT);
  send(DhcpMessageType.DISCOVER, 2);
  send(DhcpMessageType.DISCOVER, 3);
  t.deepEqual(send(DhcpMessageType.DISCOVER, 4), []);
  t.is(server.stats.poolExhausted, 1);
});

test('garbage and replies are counted, not answered', (t) => {
  const { server } = setup();
  t.deepEqual(server.handle(new Uint8Array(10)), []);
  t.deepEqual(server.handle(encodeDhcpMessage(dhcpMessage(BOOTP_REPLY, 1, localMac(1), { messageType: DhcpMessageType.OFFER }))), []);
  t.deepEqual(server.handle(encodeDhcpMessage(dhcpMessage(BOOTP_REQUEST, 1, localMac(1), {}))), []);
  t.deepEqual({ malformed: server.stats.malformed, ignored: server.stats.ignored }, { malformed: 1, ignored: 2 });
});

test('bad configuration throws', (t) => {
  const clock = new VirtualClock();
  t.throws(() => new DhcpServer({ clock, serverId: SID, pool: { start: ipv4(198, 51, 100, 1), end: ipv4(198, 51, 100, 9) }, netmask: 24 }), { instanceOf: TypeError });
  t.throws(() => new DhcpServer({ clock, serverId: SID, pool: { start: ipv4(192, 0, 2, 9), end: ipv4(192, 0, 2, 1) }, netmask: 24 }), { instanceOf: TypeError });
  t.throws(() => new DhcpServer({ clock, serverId: SID, pool: { start: ipv4(192, 0, 2, 2), end: ipv4(192, 0, 2, 9) }, netmask: 24, renewalTime: 900, leaseTime: 600 }), { instanceOf: TypeError });
});
