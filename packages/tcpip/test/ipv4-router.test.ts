/** Segment-level tests of forwarding: a router stack between eth0 (192.0.2.0/24) and eth1 (198.51.100.0/24, MTU 576). */
import test from 'ava';
import { BROADCAST_MAC, localMac } from '@pnet/nic';
import { FrameScript, arpFrame, decodeFrame, echoRequest, ethernet, icmp, ipv4, udp } from '../src/testing';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP, setIpv4Checksum } from '../src/wire/ipv4';

const R0 = localMac(0x10), R1 = localMac(0x11), LEFT = localMac(0x20), RIGHT = localMac(0x30);

function router(forwarding = true): FrameScript {
  const s = FrameScript.create({ forwarding, interfaces: [{ mac: R0, ip: '192.0.2.1' }, { mac: R1, ip: '198.51.100.1', mtu: 576 }] });
  s.send(arpFrame({ dst: BROADCAST_MAC, src: LEFT }, { operation: 'request', senderMac: LEFT, senderIp: '192.0.2.2', targetIp: '192.0.2.1' }));
  s.send(arpFrame({ dst: BROADCAST_MAC, src: RIGHT }, { operation: 'request', senderMac: RIGHT, senderIp: '198.51.100.2', targetIp: '198.51.100.1' }), { nic: 'eth1' });
  s.discardAll();
  return s;
}

const leftToRight = (o: { ttl?: number; dontFragment?: boolean; size?: number; options?: Uint8Array } = {}) =>
  ipv4({ src: '192.0.2.2', dst: '198.51.100.2', protocol: IP_PROTOCOL_UDP, id: 0x4242, ttl: o.ttl ?? 64, dontFragment: o.dontFragment, options: o.options },
    udp({ srcPort: 1000, dstPort: 2000, src: '192.0.2.2', dst: '198.51.100.2' }, new Uint8Array(o.size ?? 10).fill(0xab)));

test('forwarding: exactly the same packet out of the other interface, TTL - 1, checksum updated', (t) => {
  const s = router();
  const pkt = leftToRight({ ttl: 10 });
  s.send(ethernet({ dst: R0, src: LEFT }, pkt));
  const expected = Uint8Array.from(pkt);
  expected[8] = 9;
  setIpv4Checksum(expected, 0, 20);
  s.recv(ethernet({ dst: RIGHT, src: R1 }, expected), { nic: 'eth1' });
  s.recvNothing({ nic: 'eth0' });
  t.is(s.stack.ip.forwarded, 1);
});

test('forwarding: TTL 1 is answered with time exceeded quoting the packet', (t) => {
  const s = router();
  const pkt = leftToRight({ ttl: 1 });
  s.send(ethernet({ dst: R0, src: LEFT }, pkt));
  s.recv(ethernet({ dst: LEFT, src: R0 }, ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: IP_PROTOCOL_ICMP, tos: 0xc0 }, icmp({ type: 11, code: 0 }, pkt))), { ignoreIpId: true });
  s.recvNothing({ nic: 'eth1' });
  t.is(s.stack.stats.ipv4.drops['ttl-exceeded'], 1);
});

test('forwarding: too big for the next hop: fragmented, or "fragmentation needed" with the MTU when DF', (t) => {
  const s = router();
  const pkt = leftToRight({ size: 1000, options: Uint8Array.from([1, 1, 1, 0]) });
  s.send(ethernet({ dst: R0, src: LEFT }, pkt));
  const out = s.recvAll({ nic: 'eth1' }).map((f) => decodeFrame(f) as Exclude<ReturnType<typeof decodeFrame>, string>);
  t.deepEqual(out.map((d) => [d.ipv4!.fragmentOffset, d.ipv4!.moreFragments, d.ipv4!.totalLength, d.ipv4!.headerLength, d.ipv4!.id, d.ipv4!.ttl]),
    [[0, true, 572, 20, 0x4242, 63], [552, false, 20 + 1008 - 552, 20, 0x4242, 63]]);
  const df = leftToRight({ size: 1000, dontFragment: true });
  s.send(ethernet({ dst: R0, src: LEFT }, df));
  s.recv({ eth: { dst: LEFT }, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, icmp: { type: 3, code: 4, rest: 576 } });
  s.recvNothing({ nic: 'eth1' });
});

test('forwarding: no route -> net unreachable; an unreachable route -> host unreachable; blackhole -> silence', (t) => {
  const s = router();
  const to = (dst: string) => ethernet({ dst: R0, src: LEFT }, ipv4({ src: '192.0.2.2', dst, protocol: IP_PROTOCOL_ICMP }, echoRequest(1, 1)));
  s.send(to('203.0.113.9'));
  s.recv({ icmp: { type: 3, code: 0 }, ipv4: { dst: '192.0.2.2' } });
  s.stack.routes.add({ source: '203.0.113.0', sourceNetmask: 24, action: 'unreachable' });
  s.send(to('203.0.113.9'));
  s.recv({ icmp: { type: 3, code: 1 } });
  s.stack.routes.add({ source: '203.0.113.0', sourceNetmask: 25, action: 'blackhole' });
  s.send(to('203.0.113.9')).recvNothing();
  s.stack.routes.add({ source: '203.0.113.0', sourceNetmask: 26, action: 'prohibit' });
  s.send(to('203.0.113.9'));
  s.recv({ icmp: { type: 3, code: 13 } });
  t.deepEqual([s.stack.stats.ipv4.drops['no-route'], s.stack.stats.ipv4.drops.unreachable, s.stack.stats.ipv4.drops.blackholed, s.stack.stats.ipv4.drops.prohibited], [1, 1, 1, 1]);
});

test('forwarding: an unresolvable next hop is reported to the source as host unreachable after 3 ARP requests', (t) => {
  const s = router();
  const pkt = ipv4({ src: '192.0.2.2', dst: '198.51.100.77', protocol: IP_PROTOCOL_ICMP }, echoRequest(5, 5));
  s.send(ethernet({ dst: R0, src: LEFT }, pkt));
  for (const at of [0, 1000, 2000]) s.at(at).recv({ arp: { operation: 1, targetIp: '198.51.100.77' } }, { nic: 'eth1' });
  s.at(3000);
  // The quote is the packet as it waited for ARP: already forwarded (TTL 63).
  const waited = Uint8Array.from(pkt);
  waited[8] = 63;
  setIpv4Checksum(waited, 0, 20);
  s.recv({ eth: { dst: LEFT }, icmp: { type: 3, code: 1 }, check: (_f, d) => (d.payload!.length === waited.length && d.payload!.every((b, i) => b === waited[i])) || 'quotes the packet' });
  t.is(s.stack.stats.arp.drops['resolution-failed'], 1);
});

test('forwarding off: nothing is forwarded, nothing is answered', (t) => {
  const s = router(false);
  s.send(ethernet({ dst: R0, src: LEFT }, leftToRight())).recvNothing().recvNothing({ nic: 'eth1' });
  t.is(s.stack.stats.ipv4.drops['not-for-us'], 1);
  // A link-layer broadcast is never forwarded either.
  const r = router();
  r.send(ethernet({ dst: BROADCAST_MAC, src: LEFT }, leftToRight())).recvNothing({ nic: 'eth1' });
  t.is(r.stack.stats.ipv4.drops['link-broadcast-not-forwarded'], 1);
  // Nor anything from or to 0.0.0.0.
  r.send(ethernet({ dst: R0, src: LEFT }, ipv4({ src: '0.0.0.0', dst: '198.51.100.2', protocol: IP_PROTOCOL_ICMP }, echoRequest(1, 1)))).recvNothing({ nic: 'eth1' });
  t.is(r.stack.stats.ipv4.drops['bad-address'], 1);
});
