/**
 * Shared set-ups for the stack benchmarks: two pnet Stacks in one process on a
 * SimLink, and helpers to time things and drive virtual time.
 *
 * Why virtual time for the throughput rows: the figure we compare with Node's
 * `net` is bytes per wall-clock second of CPU work. On a VirtualClock with a
 * zero-delay link nothing ever waits for real, so the wall time is exactly the
 * CPU our two stacks (plus Node's streams and event loop) spend. On a RealClock
 * every timer hop is a Node `setTimeout` (at least 1 ms), so the figure would
 * measure timer granularity, not the stack.
 */
import { Rng, SimLink, SimNic, VirtualClock, localMac } from '@pnet/nic';
import type { Impairments } from '@pnet/nic';
import { Stack, ipv4 } from '@pnet/tcpip';
import type { TcpConfig } from '@pnet/tcpip';

export const SERVER_IP = '192.0.2.1';
export const CLIENT_IP = '192.0.2.2';

export interface World {
  clock: VirtualClock;
  server: Stack;
  client: Stack;
  link: SimLink;
  close(): void;
}

export interface WorldOptions {
  mtu?: number;
  /** One-way delay in ms (default 0: pure CPU work). */
  delay?: number;
  impair?: Impairments;
  tcp?: Partial<TcpConfig>;
  seed?: number;
  /** Receive ring slots per NIC; default 1024, fewer for jumbo MTUs so a ring stays near 16 MiB. */
  rxSlots?: number;
}

/** 1024 slots, or the largest power of two that keeps the ring under 16 MiB (128 at MTU 65535). */
export function defaultRxSlots(mtu: number): number {
  return Math.min(1024, 2 ** Math.floor(Math.log2((16 << 20) / (mtu + 18))));
}

/** A server stack (192.0.2.1) and a client stack (192.0.2.2) on one SimLink, in virtual time. No checksum offload. */
export function twoStacks(o: WorldOptions = {}): World {
  const clock = new VirtualClock();
  const seed = o.seed ?? 1;
  const mtu = o.mtu ?? 1500;
  const server = new Stack({ clock, rng: new Rng(seed * 2 + 1), name: 'server', tcp: o.tcp });
  const client = new Stack({ clock, rng: new Rng(seed * 2 + 2), name: 'client', tcp: o.tcp });
  const rxSlots = o.rxSlots ?? defaultRxSlots(mtu);
  const sn = new SimNic({ name: 's0', mac: localMac(1), clock, mtu, rxSlots });
  const cn = new SimNic({ name: 'c0', mac: localMac(2), clock, mtu, rxSlots });
  const link = new SimLink({ clock, seed, delay: o.delay ?? 0, aToB: o.impair, bToA: o.impair });
  link.connect(sn, cn);
  server.addInterface(sn, { ip: ipv4(192, 0, 2, 1), netmask: 24 });
  client.addInterface(cn, { ip: ipv4(192, 0, 2, 2), netmask: 24 });
  server.start();
  client.start();
  return {
    clock, server, client, link,
    close() {
      server.close();
      client.close();
      sn.close();
      cn.close();
    },
  };
}

/** Wall-clock seconds since `t0` (from `process.hrtime.bigint()`). */
export function since(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Runs `fn` `runs` times and returns each result (one after the other, never overlapping). */
export async function repeat<T>(runs: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn(i));
  return out;
}

/** Lets Node's queues settle (a setImmediate turn). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
