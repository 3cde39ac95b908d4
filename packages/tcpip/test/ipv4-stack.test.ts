/**
 * Segment-level tests of the IPv4 layer: crafted frames in at given virtual
 * times, exact frames out (src/testing's FrameScript).
 */
import test from 'ava';
import { BROADCAST_MAC, MacAddress, localMac } from '@pnet/nic';
import {
  FrameScript, arpFrame, echoReply, echoRequest, ethernet, fragments, icmp, ipv4, udp, decodeFrame,
} from '../src/testing';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../src/wire/ethernet';
import { parseIpv4 as ip } from '../src/wire/ipv4-address';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP } from '../src/wire/ipv4';

const US = localMac(0x10);
const PEER = localMac(0x20);
const OTHER = localMac(0x30);
const US_IP = '192.0.2.1';
const PEER_IP = '192.0.2.2';

function host(extra: Partial<Parameters<typeof FrameScript.create>[0]> = {}): FrameScript {
  return FrameScript.create({ interfaces: [{ mac: US, ip: US_IP, prefix: 24 }], ...extra });
}

/** Teaches the stack PEER's MAC with an ARP request for us, and checks our reply. */
function learnPeer(s: FrameScript, peerIp = PEER_IP, peerMac: MacAddress = PEER): void {
  s.send(arpFrame({ dst: BROADCAST_MAC, src: peerMac }, { operation: 'request', senderMac: peerMac, senderIp: peerIp, targetIp: US_IP }));
  s.recv(arpFrame({ dst: peerMac, src: US }, { operation: 'reply', senderMac: US, senderIp: US_IP, targetMac: peerMac, targetIp: peerIp }));
}

const udpFrame = (srcPort: number, dstPort: number, data: string | Uint8Array, o: { src?: string; dst?: string; dstMac?: MacAddress; ttl?: number } = {}) => {
  const src = o.src ?? PEER_IP, dst = o.dst ?? US_IP;
  return ethernet({ dst: o.dstMac ?? US, src: PEER }, ipv4({ src, dst, protocol: IP_PROTOCOL_UDP, id: 7, ttl: o.ttl }, udp({ srcPort, dstPort, src, dst }, data)));
};

// ---------------- Ethernet ----------------

test('ethernet: frames for other hosts, multicast, VLANs and unknown EtherTypes are counted and dropped', (t) => {
  const s = host();
  learnPeer(s);
  const req = ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP }, echoRequest(1, 1, 'x'));
  s.send(ethernet({ dst: OTHER, src: PEER }, req)).recvNothing();
  s.send(ethernet({ dst: 0x01005e000001 as MacAddress, src: PEER }, req)).recvNothing();
  s.send(ethernet({ dst: US, src: PEER, vlanTags: [5] }, req)).recvNothing();
  s.send(ethernet({ dst: US, src: PEER, etherType: 0x86dd }, req)).recvNothing();
  s.send(new Uint8Array(14).fill(0xff).subarray(0, 14)).recvNothing();
  const e = s.stack.stats.ethernet.drops;
  t.is(e['other-host'], 1);
  t.is(e.multicast, 1);
  t.is(e.vlan, 1);
  t.is(e['unknown-ethertype'], 2);
  // A priority tag (VLAN 0) is untagged traffic: answered.
  s.send(ethernet({ dst: US, src: PEER, vlanTags: [0x6000] }, req));
  s.recv({ ipv4: { src: US_IP, dst: PEER_IP }, icmp: { type: 0, identifier: 1, sequence: 1 }, payload: 'x' });
});

test('ethernet: a padded short frame (60 bytes) is read by IP total length', (t) => {
  const s = host();
  learnPeer(s);
  s.send(ethernet({ dst: US, src: PEER, pad: true }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP }, echoRequest(9, 2))));
  const out = s.recv({ icmp: { type: 0, identifier: 9, sequence: 2 }, payload: new Uint8Array(0) });
  t.is(out.length, 14 + 20 + 8);
});

// ---------------- ARP ----------------

test('arp: a request for us gets the exact reply and teaches us the asker', (t) => {
  const s = host();
  learnPeer(s);
  t.deepEqual(s.stack.arp.list('eth0')!.map((e) => [e.ip, e.mac, e.state]), [[ip(PEER_IP), PEER, 'reachable']]);
  // Requests for other addresses are not answered and teach nothing.
  s.send(arpFrame({ dst: BROADCAST_MAC, src: OTHER }, { operation: 'request', senderMac: OTHER, senderIp: '192.0.2.3', targetIp: '192.0.2.9' }));
  s.recvNothing();
  t.is(s.stack.arp.list('eth0')!.length, 1);
  t.is(s.stack.stats.arp.drops['not-for-us'], 1);
});

test('arp: an address probe (sender 0.0.0.0, RFC 5227) is answered and teaches nothing', (t) => {
  const s = host();
  s.send(arpFrame({ dst: BROADCAST_MAC, src: OTHER }, { operation: 'request', senderMac: OTHER, senderIp: '0.0.0.0', targetIp: US_IP }));
  s.recv(arpFrame({ dst: OTHER, src: US }, { operation: 'reply', senderMac: US, senderIp: US_IP, targetMac: OTHER, targetIp: '0.0.0.0' }));
  t.deepEqual(s.stack.arp.list('eth0'), []);
});

test('arp: packets wait for resolution (bounded queue), then go out in order', (t) => {
  const s = host({ stack: { arp: { queuePackets: 3 } } });
  const sock = s.stack.udp.bind({ port: 5000 });
  for (let i = 0; i < 5; i++) t.is(sock.send(`m${i}`, 7, PEER_IP), 'queued');
  s.recv(arpFrame({ dst: BROADCAST_MAC, src: US }, { operation: 'request', senderMac: US, senderIp: US_IP, targetIp: PEER_IP }));
  s.recvNothing();
  s.send(arpFrame({ dst: US, src: PEER }, { operation: 'reply', senderMac: PEER, senderIp: PEER_IP, targetMac: US, targetIp: US_IP }), { at: 5 });
  for (const m of ['m2', 'm3', 'm4']) s.recv({ eth: { dst: PEER }, udp: { srcPort: 5000, dstPort: 7 }, payload: m });
  s.recvNothing();
  t.is(s.stack.stats.arp.drops['queue-overflow'], 2);
});

test('arp: an unresolved neighbour is retried once a second, then fails as host unreachable', async (t) => {
  const s = host();
  const result = s.stack.icmp.ping(ip('192.0.2.77'), { timeout: 10_000 }).then(() => 'resolved', (e: Error & { kind?: string }) => e.kind);
  const req = arpFrame({ dst: BROADCAST_MAC, src: US }, { operation: 'request', senderMac: US, senderIp: US_IP, targetIp: '192.0.2.77' });
  s.recv(req);
  s.at(999).recvNothing();
  s.at(1000).recv(req);
  s.at(2000).recv(req);
  s.at(2999).recvNothing();
  s.at(3000).recvNothing();
  t.is(await result, 'host-unreachable');
  t.is(s.stack.stats.arp.drops['resolution-failed'], 1);
  t.deepEqual(s.stack.arp.list('eth0'), []);
});

test('arp: static entries are used at once and never overwritten by replies', (t) => {
  const s = host();
  s.stack.arp.set('eth0', PEER_IP, OTHER);
  const sock = s.stack.udp.bind({ port: 5000 });
  t.is(sock.send('a', 7, PEER_IP), 'sent');
  s.recv({ eth: { dst: OTHER, src: US, etherType: ETHERTYPE_IPV4 }, payload: 'a' });
  s.send(arpFrame({ dst: US, src: PEER }, { operation: 'reply', senderMac: PEER, senderIp: PEER_IP, targetMac: US, targetIp: US_IP }));
  sock.send('b', 7, PEER_IP);
  s.recv({ eth: { dst: OTHER }, payload: 'b' });
  t.is(s.stack.stats.arp.drops['static-entry-kept'], 1);
  t.deepEqual(s.stack.arp.list('eth0')!.map((e) => e.state), ['static']);
  s.stack.arp.set('eth0', PEER_IP, null);
  t.deepEqual(s.stack.arp.list('eth0'), []);
  t.throws(() => s.stack.arp.set('eth9', PEER_IP, OTHER), { message: /No such device/ });
  t.throws(() => s.stack.arp.set('eth0', 'nope', OTHER), { instanceOf: TypeError });
});

test('arp: reachable entries go stale after 30 s and are re-probed by unicast when used', (t) => {
  const s = host();
  learnPeer(s);
  s.at(29_999);
  t.is(s.stack.arp.list('eth0')![0].state, 'reachable');
  s.at(30_001);
  t.is(s.stack.arp.list('eth0')![0].state, 'stale');
  const sock = s.stack.udp.bind({ port: 5000 });
  t.is(sock.send('x', 7, PEER_IP), 'sent');
  // The probe goes out first (unicast to the old MAC), the datagram right behind it.
  s.recv({ eth: { dst: PEER, etherType: ETHERTYPE_ARP }, arp: { operation: 1, targetIp: PEER_IP, senderIp: US_IP } });
  s.recv({ eth: { dst: PEER }, payload: 'x' });
  s.send(arpFrame({ dst: US, src: PEER }, { operation: 'reply', senderMac: PEER, senderIp: PEER_IP, targetMac: US, targetIp: US_IP }));
  t.is(s.stack.arp.list('eth0')![0].state, 'reachable');
});

test('arp: requests are rate-limited over the whole stack', (t) => {
  const s = host({ stack: { arp: { requestBurst: 3, requestsPerSecond: 1 } } });
  const sock = s.stack.udp.bind({ port: 5000 });
  for (let i = 10; i < 20; i++) sock.send('x', 7, `192.0.2.${i}`);
  t.is(s.recvAll().length, 3);
  t.is(s.stack.stats.arp.drops['request-rate-limited'], 7);
});

test('arp: gratuitous ARP when the address changes or the interface comes up', (t) => {
  const s = host();
  s.stack.ipconfig('eth0', { ip: '192.0.2.50' });
  s.recv(arpFrame({ dst: BROADCAST_MAC, src: US }, { operation: 'request', senderMac: US, senderIp: '192.0.2.50', targetIp: '192.0.2.50' }));
  s.stack.ipconfig('eth0', { up: false });
  s.recvNothing();
  s.stack.ipconfig('eth0', { up: true });
  s.recv({ arp: { senderIp: '192.0.2.50', targetIp: '192.0.2.50', operation: 1 } });
  s.stack.ipconfig('eth0', { ip: US_IP });
  s.recv({ arp: { senderIp: US_IP, targetIp: US_IP, operation: 1 } });
  // A gratuitous ARP from a neighbour updates its existing entry but is not a drop.
  learnPeer(s, PEER_IP);
  s.send(arpFrame({ dst: BROADCAST_MAC, src: OTHER }, { operation: 'request', senderMac: OTHER, senderIp: PEER_IP, targetIp: PEER_IP }));
  t.is(s.stack.arp.list('eth0')![0].mac, OTHER);
  t.false('not-for-us' in s.stack.stats.arp.drops);
});

// ---------------- IPv4 ----------------

test('ipv4: echo request with options is answered; broken headers are counted by reason', (t) => {
  const s = host();
  learnPeer(s);
  const options = Uint8Array.from([1, 1, 1, 0]); // NOP NOP NOP EOL
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP, options }, echoRequest(3, 4, 'opt'))));
  s.recv({ ipv4: { src: US_IP, dst: PEER_IP, ttl: 64 }, icmp: { type: 0, identifier: 3, sequence: 4 }, payload: 'opt' });
  const good = ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP }, echoRequest(3, 5));
  const bad = (f: (b: Uint8Array) => void) => { const b = Uint8Array.from(good); f(b); return ethernet({ dst: US, src: PEER }, b); };
  s.send(bad((b) => { b[10] ^= 1; })).recvNothing();
  s.send(bad((b) => { b[0] = 0x65; })).recvNothing();
  s.send(bad((b) => { b[0] = 0x43; })).recvNothing();
  s.send(bad((b) => { b[3] = 200; })).recvNothing();
  s.send(ethernet({ dst: US, src: PEER }, good.subarray(0, 19))).recvNothing();
  const icmpBad = ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP }, icmp({ type: 8, checksum: 1 }));
  s.send(ethernet({ dst: US, src: PEER }, icmpBad)).recvNothing();
  const e = s.stack.stats.ipv4.errors;
  t.deepEqual([e['bad-checksum'], e['bad-version'], e['bad-header-length'], e['bad-total-length'], e.truncated], [1, 1, 1, 1, 1]);
  t.is(s.stack.stats.icmp.errors['bad-checksum'], 1);
});

test('ipv4: martian and bogus sources are dropped; packets to other hosts are not forwarded by default', (t) => {
  const s = host();
  learnPeer(s);
  const f = (src: string, dst: string) => ethernet({ dst: US, src: PEER }, ipv4({ src, dst, protocol: IP_PROTOCOL_ICMP }, echoRequest(1, 1)));
  s.send(f('127.0.0.1', US_IP)).recvNothing();
  s.send(f('224.0.0.1', US_IP)).recvNothing();
  s.send(f(PEER_IP, '198.51.100.1')).recvNothing();
  const st = s.stack.stats.ipv4;
  t.is(st.drops.martian, 1);
  t.is(st.errors['bad-source'], 1);
  t.is(st.drops['not-for-us'], 1);
});

test('ipv4: fragmentation on send respects the MTU and DF', (t) => {
  const s = host();
  learnPeer(s);
  const sock = s.stack.udp.bind({ port: 5000 });
  const data = new Uint8Array(3000).map((_, i) => i & 0xff);
  t.is(sock.send(data, 7, PEER_IP), 'sent');
  const frames = s.recvAll();
  t.is(frames.length, 3);
  const d = frames.map((f) => decodeFrame(f) as Exclude<ReturnType<typeof decodeFrame>, string>);
  t.deepEqual(d.map((x) => [x.ipv4!.fragmentOffset, x.ipv4!.moreFragments, x.ipv4!.totalLength]), [[0, true, 1500], [1480, true, 1500], [2960, false, 68]]);
  t.is(new Set(d.map((x) => x.ipv4!.id)).size, 1);
  t.deepEqual(d.map((x) => x.problems), [[], [], []]);
  // Reassembled by hand, the UDP checksum verifies.
  const whole = new Uint8Array(3008);
  for (const f of frames) { const x = decodeFrame(f) as any; whole.set(f.subarray(x.ipPayloadOffset, x.ipPayloadOffset + x.ipPayloadLength), x.ipv4.fragmentOffset); }
  const check = ethernet({ dst: PEER, src: US }, ipv4({ src: US_IP, dst: PEER_IP, protocol: IP_PROTOCOL_UDP }, whole));
  t.deepEqual((decodeFrame(check) as any).problems, []);
  // With DF the datagram is refused.
  t.is(s.stack.ip.send({ dst: ip(PEER_IP), protocol: 253, dontFragment: true }, 2000, { writePayload() {} }), 'too-big');
  s.recvNothing();
});

test('ipv4: reassembly in any order, duplicates ignored, overlaps discard the datagram', (t) => {
  const s = host();
  learnPeer(s);
  const got: Buffer[] = [];
  s.stack.udp.bind({ port: 9 }).on('message', (d) => got.push(d));
  const data = new Uint8Array(4000).map((_, i) => (i * 7) & 0xff);
  const dgram = udp({ srcPort: 1, dstPort: 9, src: PEER_IP, dst: US_IP }, data);
  const frags = fragments({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_UDP, id: 77 }, dgram, 1480).map((f) => ethernet({ dst: US, src: PEER }, f.packet));
  s.send(frags[2]).send(frags[0]).send(frags[0]).recvNothing();
  t.is(got.length, 0);
  s.send(frags[1]);
  t.is(got.length, 1);
  t.deepEqual(new Uint8Array(got[0]), data);
  t.is(s.stack.ip.reassembler.pending, 0);
  t.is(s.stack.stats.ipv4.drops['fragment-duplicate'], 1);
  // Teardrop-style overlap: the second fragment starts inside the first.
  const a = ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_UDP, id: 78, moreFragments: true }, dgram.subarray(0, 64)));
  const b = ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_UDP, id: 78, fragmentOffset: 32 }, dgram.subarray(32, 40)));
  s.send(a).send(b).recvNothing();
  t.is(s.stack.stats.ipv4.drops['fragment-overlap'], 1);
  t.is(s.stack.ip.reassembler.pending, 0);
  t.is(got.length, 1);
  // A fragment reaching past 65535 bytes is refused.
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_UDP, id: 79, fragmentOffset: 65528 }, new Uint8Array(16))));
  t.is(s.stack.stats.ipv4.drops['fragment-too-long'], 1);
});

test('ipv4: reassembly times out after 30 s with ICMP time exceeded (code 1) when the first fragment came', (t) => {
  const s = host();
  learnPeer(s);
  const dgram = udp({ srcPort: 1, dstPort: 9, src: PEER_IP, dst: US_IP }, new Uint8Array(2000));
  const frags = fragments({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_UDP, id: 5 }, dgram, 1000);
  s.send(ethernet({ dst: US, src: PEER }, frags[0].packet), { at: 100 });
  s.at(30_099).recvNothing();
  s.at(30_100);
  // The neighbour entry went stale meanwhile: a unicast probe goes first.
  s.recv({ eth: { dst: PEER, etherType: ETHERTYPE_ARP } });
  s.recv({ ipv4: { dst: PEER_IP, protocol: IP_PROTOCOL_ICMP }, icmp: { type: 11, code: 1 },
    check: (_f, d) => (d.payload?.length === 28 && d.payload[0] === 0x45) || `quote of ${d.payload?.length} bytes` });
  t.is(s.stack.stats.ipv4.drops['reassembly-timeout'], 1);
  // Only a later fragment: silent timeout.
  s.send(ethernet({ dst: US, src: PEER }, frags[1].packet));
  s.advance(30_000);
  // Only the (unanswered) ARP probes of the stale entry went out: no ICMP.
  t.deepEqual(s.recvAll().map((f) => (f[12] << 8) | f[13]), [ETHERTYPE_ARP, ETHERTYPE_ARP]);
  t.is(s.stack.stats.ipv4.drops['reassembly-timeout'], 2);
});

test('ipv4: the reassembly memory cap evicts the oldest datagram', (t) => {
  const s = host({ stack: { reassembly: { memoryCap: 8192 } } });
  learnPeer(s);
  for (let id = 1; id <= 5; id++) {
    s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_UDP, id, moreFragments: true }, new Uint8Array(1480))));
  }
  t.true(s.stack.ip.reassembler.memoryInUse <= 8192);
  t.true(s.stack.stats.ipv4.drops['reassembly-evicted'] >= 1);
});

test('ipv4: path MTU from "fragmentation needed" (never below 68) shapes later datagrams', (t) => {
  const s = host();
  learnPeer(s);
  const sock = s.stack.udp.bind({ port: 5000 });
  const far = '198.51.100.7';
  s.stack.routes.add({ source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: PEER_IP });
  sock.send(new Uint8Array(1400), 9, far);
  const sent = s.recv({ ipv4: { dst: far, totalLength: 1428 } });
  const quote = sent.subarray(14, 14 + 28);
  const errors: string[] = [];
  sock.on('icmpError', (e) => errors.push(`${e.kind} ${e.port}`));
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP }, icmp({ type: 3, code: 4, rest: 1000 }, quote))));
  t.deepEqual(errors, ['fragmentation-needed 9']);
  t.is(s.stack.ip.pathMtu(ip(far)), 1000);
  sock.send(new Uint8Array(1400), 9, far);
  const frames = s.recvAll();
  t.deepEqual(frames.map((f) => (decodeFrame(f) as any).ipv4.totalLength), [996, 452]);
  // A bogus tiny MTU is clamped to 68.
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP }, icmp({ type: 3, code: 4, rest: 20 }, quote))));
  t.is(s.stack.ip.pathMtu(ip(far)), 68);
  t.is(s.stack.ip.pathMtu(ip(PEER_IP)), 1500);
});

// ---------------- ICMP ----------------

test('icmp: exact echo reply bytes', (t) => {
  const s = host();
  learnPeer(s);
  const payload = 'abcdefgh';
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP, id: 1 }, echoRequest(0x1234, 1, payload))));
  s.recv(ethernet({ dst: PEER, src: US }, ipv4({ src: US_IP, dst: PEER_IP, protocol: IP_PROTOCOL_ICMP }, echoReply(0x1234, 1, payload))), { ignoreIpId: true });
  // Broadcast pings are ignored.
  s.send(ethernet({ dst: BROADCAST_MAC, src: PEER }, ipv4({ src: PEER_IP, dst: '192.0.2.255', protocol: IP_PROTOCOL_ICMP }, echoRequest(1, 2)))).recvNothing();
  t.is(s.stack.stats.icmp.drops['broadcast-echo'], 1);
});

test('icmp: ping measures RTT in virtual time and matches id/seq', async (t) => {
  const s = host();
  learnPeer(s);
  const p = s.stack.icmp.ping(ip(PEER_IP), { size: 16 });
  const req = s.recv({ ipv4: { dst: PEER_IP, ttl: 64 }, icmp: { type: 8 } });
  const d = decodeFrame(req) as any;
  // A reply with the wrong sequence is not ours.
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP, ttl: 60 }, echoReply(d.icmp.identifier, d.icmp.sequence + 1, d.payload))), { at: 5 });
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: IP_PROTOCOL_ICMP, ttl: 60 }, echoReply(d.icmp.identifier, d.icmp.sequence, d.payload))), { at: 12.5 });
  const r = await p;
  t.is(r.rtt, 12.5);
  t.is(r.ttl, 60);
  t.is(r.bytes, 16);
  t.is(s.stack.stats.icmp.drops['unmatched-echo-reply'], 1);
  // No reply: timeout.
  const lost = s.stack.icmp.ping(ip(PEER_IP), { timeout: 500 }).catch((e: Error) => e.message);
  s.at(600);
  t.regex(await lost as string, /timed out/);
  await t.throwsAsync(s.stack.icmp.ping(ip('203.0.113.1')), { message: /Network is unreachable/ });
});

test('icmp: port unreachable for closed UDP ports, never for broadcasts; errors are rate-limited', (t) => {
  const s = host({ stack: { icmpRateLimit: { burst: 2, perSecond: 1 } } });
  learnPeer(s);
  const f = udpFrame(1000, 4444, 'hi');
  s.send(f);
  s.recv({ ipv4: { src: US_IP, dst: PEER_IP, protocol: 1, tos: 0xc0 }, icmp: { type: 3, code: 3 },
    check: (_f, d) => (d.payload!.length === f.length - 14 && d.payload!.every((x, i) => x === f[14 + i])) || 'the whole datagram is quoted' });
  s.send(udpFrame(1000, 4444, 'bc', { dst: '192.0.2.255', dstMac: BROADCAST_MAC })).recvNothing();
  s.send(f).recv({ icmp: { type: 3, code: 3 } });
  s.send(f).recvNothing();
  t.is(s.stack.stats.icmp.drops['error-rate-limited'], 1);
  s.advance(1000);
  s.send(f).recv({ icmp: { type: 3, code: 3 } });
  t.is(s.stack.stats.udp.drops['port-unreachable'], 5);
});

test('icmp: protocol unreachable for unknown protocols; no error about an ICMP error', (t) => {
  const s = host();
  learnPeer(s);
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: 99 }, 'xyz')));
  s.recv({ icmp: { type: 3, code: 2 } });
  // An unsolicited ICMP error (about a datagram we never sent) is ignored.
  const quote = ipv4({ src: '192.0.2.99', dst: PEER_IP, protocol: 17 }, udp({ srcPort: 1, dstPort: 2, src: '192.0.2.99', dst: PEER_IP }));
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: 1 }, icmp({ type: 3, code: 3 }, quote.subarray(0, 28))))).recvNothing();
  t.is(s.stack.stats.icmp.drops['error-not-ours'], 1);
  t.is(s.stack.stats.ipv4.drops['unknown-protocol'], 1);
});

// ---------------- UDP ----------------

test('udp: bind, receive with source address, reply; connect filters; checksum 0 accepted; bad checksum dropped', (t) => {
  const s = host();
  learnPeer(s);
  const sock = s.stack.udp.bind({ port: 7 });
  const seen: string[] = [];
  sock.on('message', (d, r) => { seen.push(`${d} from ${r.address === ip(PEER_IP)}:${r.port} on ${r.iface}`); sock.send(d, r.port, r.address); });
  s.send(udpFrame(1234, 7, 'ping'));
  s.recv(ethernet({ dst: PEER, src: US }, ipv4({ src: US_IP, dst: PEER_IP, protocol: IP_PROTOCOL_UDP }, udp({ srcPort: 7, dstPort: 1234, src: US_IP, dst: PEER_IP }, 'ping'))), { ignoreIpId: true });
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: 17 }, udp({ srcPort: 1, dstPort: 7, src: PEER_IP, dst: US_IP, checksum: 'none' }, 'nock'))));
  s.recv({ udp: { dstPort: 1 }, payload: 'nock' });
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: 17 }, udp({ srcPort: 1, dstPort: 7, src: PEER_IP, dst: US_IP, checksum: 0x1234 }, 'bad')))).recvNothing();
  t.is(s.stack.stats.udp.errors['bad-checksum'], 1);
  t.deepEqual(seen, ['ping from true:1234 on eth0', 'nock from true:1 on eth0']);
  sock.connect(PEER_IP, 1234);
  s.send(udpFrame(999, 7, 'other')).recv({ icmp: { type: 3, code: 3 } });
  t.is(sock.send('c'), 'sent');
  s.recv({ udp: { srcPort: 7, dstPort: 1234 }, payload: 'c' });
  t.is(sock.sendTo('d', 4321, PEER_IP), 'sent');
  s.recv({ udp: { srcPort: 7, dstPort: 4321 }, payload: 'd' });
});

test('udp: ephemeral ports are random and in range; EADDRINUSE; bad arguments throw', (t) => {
  const s = host();
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const p = s.stack.udp.bind().localPort;
    t.true(p >= 49152 && p <= 65535);
    ports.add(p);
  }
  t.true(ports.size >= 19);
  const a = s.stack.udp.bind({ port: 53 });
  t.throws(() => s.stack.udp.bind({ port: 53 }), { message: /EADDRINUSE/ });
  t.throws(() => s.stack.udp.bind({ port: 53, address: US_IP, iface: 'lo' }), { message: /EADDRINUSE/ });
  const r1 = s.stack.udp.bind({ port: 67, reuseAddress: true });
  t.notThrows(() => s.stack.udp.bind({ port: 67, reuseAddress: true }).close());
  t.throws(() => s.stack.udp.bind({ port: 67 }), { message: /EADDRINUSE/ });
  r1.close();
  t.throws(() => s.stack.udp.bind({ port: 54, address: '192.0.2.99' }), { message: /EADDRNOTAVAIL/ });
  t.throws(() => s.stack.udp.bind({ port: 70000 }), { instanceOf: RangeError });
  t.throws(() => a.send('x', 0, PEER_IP), { instanceOf: RangeError });
  t.throws(() => a.send('x', 7, 'not an ip'), { instanceOf: TypeError });
  t.throws(() => a.send(new Uint8Array(70000), 7, PEER_IP), { instanceOf: RangeError });
  t.throws(() => a.send('x'), { message: /not connected/ });
  a.close();
  t.throws(() => a.send('x', 7, PEER_IP), { message: /closed/ });
  t.notThrows(() => s.stack.udp.bind({ port: 53 }));
});

test('udp: DHCP-style device binding on an unconfigured interface: 0.0.0.0 -> 255.255.255.255 and broadcast replies', (t) => {
  const s = FrameScript.create({ interfaces: [{ mac: US }] });
  const sock = s.stack.udp.bind({ port: 68, iface: 'eth0' });
  const got: string[] = [];
  sock.on('message', (d, r) => got.push(`${d}:${r.broadcast}`));
  t.is(sock.send('discover', 67, '255.255.255.255'), 'sent');
  s.recv(ethernet({ dst: BROADCAST_MAC, src: US }, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', protocol: 17 }, udp({ srcPort: 68, dstPort: 67, src: '0.0.0.0', dst: '255.255.255.255' }, 'discover'))), { ignoreIpId: true });
  // The offer comes back broadcast, then unicast to the address on offer.
  const offer = (dst: string, mac: MacAddress) => ethernet({ dst: mac, src: PEER }, ipv4({ src: '192.0.2.254', dst, protocol: 17 }, udp({ srcPort: 67, dstPort: 68, src: '192.0.2.254', dst }, 'offer')));
  s.send(offer('255.255.255.255', BROADCAST_MAC));
  s.send(offer('192.0.2.10', US));
  t.deepEqual(got, ['offer:true', 'offer:false']);
});

test('udp: broadcast to the subnet goes out to ff:ff:ff:ff:ff:ff and reaches every socket on the port', (t) => {
  const s = host();
  const a = s.stack.udp.bind({ port: 520, reuseAddress: true });
  const got: string[] = [];
  a.on('message', (d) => got.push(`a ${d}`));
  s.stack.udp.bind({ port: 520, iface: 'eth0', reuseAddress: true }).on('message', (d) => got.push(`b ${d}`));
  t.is(a.send('rip', 520, '192.0.2.255'), 'sent');
  s.recv({ eth: { dst: BROADCAST_MAC }, ipv4: { dst: '192.0.2.255', src: US_IP }, payload: 'rip' });
  s.send(udpFrame(520, 520, 'hello', { dst: '192.0.2.255', dstMac: BROADCAST_MAC }));
  t.deepEqual(got, ['a hello', 'b hello']);
  // With a default route, 255.255.255.255 still goes out as a link-layer broadcast, not to the gateway.
  s.stack.routes.add({ source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: '192.0.2.254' });
  t.is(a.send('all', 520, '255.255.255.255'), 'sent');
  s.recv({ eth: { dst: BROADCAST_MAC }, ipv4: { dst: '255.255.255.255', src: US_IP }, payload: 'all' });
});

// ---------------- checksum offload ----------------

test('offload: with tx offload the UDP checksum is left to the NIC; with rx offload it is not verified', (t) => {
  const offload = { tx: true, rx: true };
  const s = FrameScript.create({ interfaces: [{ mac: US, ip: US_IP, capabilities: { checksum: { ipv4: { tx: false, rx: false }, tcp: offload, udp: offload, icmp: offload } } }] });
  learnPeer(s);
  const sock = s.stack.udp.bind({ port: 7 });
  const got: string[] = [];
  sock.on('message', (d) => got.push(String(d)));
  sock.send('x', 9, PEER_IP);
  s.recv({ check: (f) => (f[14 + 20 + 6] === 0 && f[14 + 20 + 7] === 0) || 'checksum field should be 0' });
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: PEER_IP, dst: US_IP, protocol: 17 }, udp({ srcPort: 1, dstPort: 7, src: PEER_IP, dst: US_IP, checksum: 0x1234 }, 'trusted'))));
  t.deepEqual(got, ['trusted']);
  // A fragmented datagram is never trusted to the NIC: the checksum is computed on send.
  sock.send(new Uint8Array(2000), 9, PEER_IP);
  const frags = s.recvAll();
  t.is(frags.length, 2);
  t.not((frags[0][14 + 26] << 8) | frags[0][14 + 27], 0);
});

// ---------------- routing ----------------

test('routing: ipconfig adds local, broadcast and subnet routes to table 0; Phoenix errors', (t) => {
  const s = host();
  const t0 = s.stack.routes.list(0)!.filter((r) => r.device === 'eth0');
  t.deepEqual(t0.map((r) => [r.action, r.sourceNetmask]).sort(), [['broadcast', 32], ['local', 32], ['unicast', 24]]);
  t.deepEqual(s.stack.ipconfig('eth0'), { ip: ip(US_IP), netmask: 24, up: true });
  t.is(s.stack.ipconfig('eth7'), null);
  s.stack.ipconfig('eth0', { ip: '198.51.100.1', netmask: '255.255.255.0' });
  t.deepEqual(s.stack.routes.list(0)!.filter((r) => r.device === 'eth0').map((r) => r.source).sort(), [ip('198.51.100.0'), ip('198.51.100.1'), ip('198.51.100.255')].sort());
  t.throws(() => s.stack.ipconfig('eth0', { netmask: '255.0.255.0' }), { instanceOf: TypeError });
  t.throws(() => s.stack.ipconfig('eth0', { ip: '300.1.1.1' }), { instanceOf: TypeError });
  t.is(s.stack.routes.list(5), null);
  s.stack.routes.add({ table: 5, source: '203.0.113.0', sourceNetmask: 24, action: 'blackhole' });
  t.throws(() => s.stack.routes.add({ table: 5, source: '203.0.113.0', sourceNetmask: 24, action: 'prohibit' }), { message: 'Route already exists' });
  t.throws(() => s.stack.routes.remove('203.0.113.0', 24, 6), { message: 'Route table does not exist' });
  t.throws(() => s.stack.routes.add({ source: '1.2.3.4', sourceNetmask: 8, action: 'teleport' as any }), { instanceOf: TypeError });
  s.stack.routes.remove('203.0.113.0', 24, 5);
  t.deepEqual(s.stack.routes.list(5), []);
});

test('routing: the cached decision for a destination follows route and address changes at once', (t) => {
  const s = host();
  const ipl = s.stack.ip;
  const far = ip('203.0.113.9');
  t.is(ipl.resolveRoute(far), 'no-route');
  t.is(ipl.resolveRoute(far), 'no-route'); // from the cache
  s.stack.routes.add({ source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: PEER_IP });
  let r = ipl.resolveRoute(far);
  t.true(typeof r === 'object' && r.nextHop === ip(PEER_IP) && r.src === ip(US_IP));
  s.stack.routes.add({ table: 2, source: '203.0.113.0', sourceNetmask: 24, action: 'blackhole' });
  t.is(ipl.resolveRoute(far), 'blackholed');
  s.stack.routes.remove('203.0.113.0', 24, 2);
  r = ipl.resolveRoute(far);
  t.true(typeof r === 'object' && r.nextHop === ip(PEER_IP));
  // A new address moves the source and, off the subnet, leaves the gateway unreachable on-link.
  s.stack.ipconfig('eth0', { ip: '192.0.2.7' });
  r = ipl.resolveRoute(far);
  t.true(typeof r === 'object' && r.src === ip('192.0.2.7'));
  t.true(ipl.resolveRoute(ip('192.0.2.7')) !== 'no-route' && (ipl.resolveRoute(ip('192.0.2.7')) as { local: boolean }).local);
  s.stack.ipconfig('eth0', { ip: '198.51.100.1' });
  t.is(ipl.resolveRoute(far), 'no-route');
  t.is(ipl.resolveRoute(ip('192.0.2.7')), 'no-route');
});

test('routing: longest prefix over all tables; unreachable, prohibit and blackhole on send', (t) => {
  const s = host();
  learnPeer(s);
  const r = s.stack.routes;
  r.add({ table: 1, source: '0.0.0.0', sourceNetmask: 0, action: 'unicast', destination: PEER_IP });
  r.add({ table: 2, source: '203.0.113.0', sourceNetmask: 24, action: 'unreachable' });
  r.add({ table: 3, source: '203.0.113.128', sourceNetmask: 25, action: 'prohibit' });
  r.add({ table: 3, source: '203.0.113.64', sourceNetmask: 26, action: 'blackhole' });
  t.is(r.lookup(ip('203.0.113.200'))!.action, 'prohibit');
  t.is(r.lookup(ip('203.0.113.70'))!.action, 'blackhole');
  t.is(r.lookup(ip('203.0.113.1'))!.action, 'unreachable');
  t.is(r.lookup(ip('8.8.8.8'))!.action, 'unicast');
  const sock = s.stack.udp.bind();
  t.is(sock.send('x', 1, '203.0.113.200'), 'prohibited');
  t.is(sock.send('x', 1, '203.0.113.70'), 'blackholed');
  t.is(sock.send('x', 1, '203.0.113.1'), 'unreachable');
  s.recvNothing();
  t.is(sock.send('x', 1, '8.8.8.8'), 'sent');
  s.recv({ eth: { dst: PEER }, ipv4: { dst: '8.8.8.8' } });
  t.deepEqual(s.stack.ip.route(ip('8.8.8.8')), { iface: s.stack.interface('eth0')!, src: ip(US_IP), mtu: 1500, nextHop: ip(PEER_IP), broadcast: false, local: false });
  t.is(s.stack.ip.route(ip('203.0.113.1')), null);
});

test('loopback: 127.0.0.1 and our own address answer locally, nothing goes on the wire', async (t) => {
  const s = host();
  const lo = s.stack.icmp.ping(ip('127.0.0.1'));
  s.settle();
  t.is((await lo).rtt, 0);
  const self = s.stack.icmp.ping(ip(US_IP), { size: 20_000 });
  s.settle();
  t.is((await self).bytes, 20_000);
  const sock = s.stack.udp.bind({ port: 7, address: '127.0.0.1' });
  const got: string[] = [];
  sock.on('message', (d, r) => got.push(`${d} ${r.iface}`));
  const client = s.stack.udp.bind();
  const errors: string[] = [];
  client.on('icmpError', (e) => errors.push(`${e.kind} ${e.port}`));
  client.send('hi', 7, '127.0.0.1');
  client.send('anyone?', 8, '127.0.0.1');
  s.settle();
  t.deepEqual(got, ['hi lo']);
  t.deepEqual(errors, ['port-unreachable 8']);
  s.recvNothing();
});
