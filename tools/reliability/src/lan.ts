/**
 * A small LAN in virtual time for attack tests: client `a` (192.0.2.1), server `b` (192.0.2.2) and an
 * attacker NIC `x` (192.0.2.66, no stack: it only injects crafted frames) on one SimSwitch.
 */
import { MacAddress, Rng, SimNic, SimSwitch, VirtualClock, localMac } from '@pnet/nic';
import { Stack, ipv4, writeTcpHeaderRaw, writeTcpChecksum, TCP_PROTOCOL } from '@pnet/tcpip';
import type { Ipv4Address, TcpConfig } from '@pnet/tcpip';
import { ethernet, ipv4 as ipv4Packet } from '@pnet/tcpip/src/testing';

export const A_IP = ipv4(192, 0, 2, 1);
export const B_IP = ipv4(192, 0, 2, 2);
export const X_IP = ipv4(192, 0, 2, 66);
export const A_MAC = localMac(1);
export const B_MAC = localMac(2);
export const X_MAC = localMac(3);

export function lan(seed = 1, tcp: Partial<TcpConfig> = {}) {
  const clock = new VirtualClock();
  const sw = new SimSwitch({ clock, seed });
  const a = new Stack({ clock, rng: new Rng(seed), name: 'a', tcp });
  const b = new Stack({ clock, rng: new Rng(seed + 1), name: 'b', tcp });
  const na = new SimNic({ name: 'a0', mac: A_MAC, clock });
  const nb = new SimNic({ name: 'b0', mac: B_MAC, clock });
  const nx = new SimNic({ name: 'x0', mac: X_MAC, clock });
  for (const n of [na, nb, nx]) sw.connect(n);
  a.addInterface(na, { ip: A_IP, netmask: 24 });
  b.addInterface(nb, { ip: B_IP, netmask: 24 });
  a.start();
  b.start();
  const seen: Uint8Array[] = [];
  let record = false;
  nx.onReceive(() => {
    for (let f = nx.rx.peek(); f !== null; f = nx.rx.peek()) {
      if (record) seen.push(f.data.slice(0, f.length));
      nx.rx.release();
    }
  });
  const inject = (frame: Uint8Array): boolean => nx.transmit(frame, frame.length);
  return {
    clock, sw, a, b, na, nb, nx, inject, seen,
    recordAttackerRx(on: boolean) { record = on; },
  };
}

export interface TcpSpec {
  src: Ipv4Address; dst: Ipv4Address; srcPort: number; dstPort: number;
  seq: number; ack?: number; flags: number; window?: number; data?: Uint8Array;
  ethSrc?: MacAddress; ethDst?: MacAddress;
}

/** A crafted Ethernet/IPv4/TCP frame with correct checksums. */
export function tcpFrame(s: TcpSpec): Uint8Array {
  const data = s.data ?? new Uint8Array(0);
  const seg = new Uint8Array(20 + data.length);
  writeTcpHeaderRaw(seg, 0, s.srcPort, s.dstPort, s.seq >>> 0, (s.ack ?? 0) >>> 0, s.flags, s.window ?? 65535, 0);
  seg.set(data, 20);
  writeTcpChecksum(seg, 0, seg.length, s.src, s.dst);
  return ethernet({ src: s.ethSrc ?? X_MAC, dst: s.ethDst ?? B_MAC },
    ipv4Packet({ src: s.src, dst: s.dst, protocol: TCP_PROTOCOL, id: (s.seq & 0xffff) }, seg));
}

/** Runs the clock until `done()` or `limit` ms of virtual time more; returns whether done. */
export function runUntil(clock: VirtualClock, done: () => boolean, limit = 600_000): boolean {
  const end = clock.now() + limit;
  while (!done() && clock.now() < end) if (!clock.step()) break;
  return done();
}
