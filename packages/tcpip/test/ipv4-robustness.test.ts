/**
 * Bad input from the wire never throws out of the stack: random and mutated
 * frames (fast-check) go into a router stack with sockets open; afterwards it
 * still answers, and everything it refused was counted.
 */
import test from 'ava';
import fc from 'fast-check';
import { BROADCAST_MAC, localMac } from '@pnet/nic';
import { FrameScript, arpFrame, echoRequest, ethernet, fragments, icmp, ipv4, udp } from '../src/testing';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP } from '../src/wire/ipv4';

const US = localMac(0x10), PEER = localMac(0x20), FAR = localMac(0x30);

function router(): FrameScript {
  const s = FrameScript.create({ forwarding: true, interfaces: [{ mac: US, ip: '192.0.2.1' }, { mac: localMac(0x11), ip: '198.51.100.1', mtu: 576 }] });
  s.send(arpFrame({ dst: BROADCAST_MAC, src: PEER }, { operation: 'request', senderMac: PEER, senderIp: '192.0.2.2', targetIp: '192.0.2.1' }));
  s.send(arpFrame({ dst: BROADCAST_MAC, src: FAR }, { operation: 'request', senderMac: FAR, senderIp: '198.51.100.2', targetIp: '198.51.100.1' }), { nic: 'eth1' });
  s.stack.udp.bind({ port: 7 }).on('message', () => {});
  s.stack.udp.bind({ port: 68, iface: 'eth1' }).on('message', () => {});
  s.discardAll();
  return s;
}

/** Valid frames of every kind the stack handles, to mutate. */
const samples: Uint8Array[] = (() => {
  const e = (p: Uint8Array) => ethernet({ dst: US, src: PEER }, p);
  const big = udp({ srcPort: 1, dstPort: 7, src: '192.0.2.2', dst: '192.0.2.1' }, new Uint8Array(3000).fill(7));
  return [
    arpFrame({ dst: BROADCAST_MAC, src: PEER }, { operation: 'request', senderMac: PEER, senderIp: '192.0.2.2', targetIp: '192.0.2.1' }),
    arpFrame({ dst: US, src: PEER }, { operation: 'reply', senderMac: PEER, senderIp: '192.0.2.2', targetMac: US, targetIp: '192.0.2.1' }),
    e(ipv4({ src: '192.0.2.2', dst: '192.0.2.1', protocol: IP_PROTOCOL_ICMP }, echoRequest(1, 1, 'hello'))),
    e(ipv4({ src: '192.0.2.2', dst: '198.51.100.2', protocol: IP_PROTOCOL_ICMP, ttl: 2 }, echoRequest(1, 1, new Uint8Array(1000)))),
    e(ipv4({ src: '192.0.2.2', dst: '198.51.100.2', protocol: IP_PROTOCOL_ICMP, dontFragment: true }, echoRequest(1, 1, new Uint8Array(1000)))),
    e(ipv4({ src: '192.0.2.2', dst: '192.0.2.1', protocol: IP_PROTOCOL_UDP }, udp({ srcPort: 1, dstPort: 7, src: '192.0.2.2', dst: '192.0.2.1' }, 'x'))),
    e(ipv4({ src: '192.0.2.2', dst: '192.0.2.1', protocol: IP_PROTOCOL_UDP }, udp({ srcPort: 1, dstPort: 9, src: '192.0.2.2', dst: '192.0.2.1' }, 'x'))),
    e(ipv4({ src: '192.0.2.2', dst: '192.0.2.1', protocol: IP_PROTOCOL_ICMP }, icmp({ type: 3, code: 4, rest: 500 },
      ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: 17 }, udp({ srcPort: 7, dstPort: 1, src: '192.0.2.1', dst: '192.0.2.2' }, 'q'))))),
    e(ipv4({ src: '192.0.2.2', dst: '192.0.2.1', protocol: 6, options: Uint8Array.from([7, 7, 4, 0, 0, 0, 0, 0]) }, new Uint8Array(20))),
    ...fragments({ src: '192.0.2.2', dst: '192.0.2.1', protocol: IP_PROTOCOL_UDP, id: 9 }, big, 1480).map((f) => e(f.packet)),
  ];
})();

test('random frames never throw out of the stack', (t) => {
  const s = router();
  fc.assert(fc.property(fc.uint8Array({ minLength: 14, maxLength: 1518 }), fc.boolean(), (frame, ours) => {
    if (ours) { frame[0] = 0x02; frame[1] = 0; frame[2] = 0; frame[3] = 0; frame[4] = 0; frame[5] = 0x10; }
    s.nic().inject(frame);
    s.settle();
  }), { numRuns: 2000 });
  s.discardAll();
  t.pass();
});

test('mutated valid frames never throw; the stack still answers afterwards and counted what it refused', async (t) => {
  const s = router();
  fc.assert(fc.property(fc.nat(samples.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(1600), fc.nat(100_000),
    (which, flips, cut, dt) => {
      const f = Uint8Array.from(samples[which]);
      for (const [i, v] of flips) f[14 + (i % Math.max(1, f.length - 14))] = v;
      const frame = f.subarray(0, Math.max(14, Math.min(f.length, cut + 14)));
      s.nic().inject(frame);
      s.advance(dt / 100);
    }), { numRuns: 2000 });
  s.advance(120_000);
  s.discardAll();
  const st = s.stack.stats;
  t.true(st.totalDrops() > 0, 'the refused input was counted');
  t.is(s.stack.ip.reassembler.pending, 0);
  t.is(s.stack.ip.reassembler.memoryInUse, 0);
  // Still serving: a fresh ARP + echo exchange works.
  s.send(arpFrame({ dst: BROADCAST_MAC, src: PEER }, { operation: 'request', senderMac: PEER, senderIp: '192.0.2.2', targetIp: '192.0.2.1' }));
  s.recv({ arp: { operation: 2 } });
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: '192.0.2.2', dst: '192.0.2.1', protocol: 1 }, echoRequest(77, 1, 'alive'))));
  s.recv({ icmp: { type: 0, identifier: 77 }, payload: 'alive' });
  // (16 bytes: a mutated "fragmentation needed" may have taught a path MTU of 68, and this must fit in one frame.)
  const pong = s.stack.icmp.ping('192.0.2.2', { size: 16 });
  const req = s.recv({ icmp: { type: 8 } });
  s.send(ethernet({ dst: US, src: PEER }, ipv4({ src: '192.0.2.2', dst: '192.0.2.1', protocol: 1 }, icmp({ type: 0, rest: (req[14 + 24] << 24 | req[14 + 25] << 16 | req[14 + 26] << 8 | req[14 + 27]) >>> 0 }, req.subarray(14 + 28)))));
  t.is((await pong).bytes, 16);
});
