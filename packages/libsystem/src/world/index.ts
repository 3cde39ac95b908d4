/**
 * The embedded world: a small internet inside the process (a DHCP router,
 * DNS, `example.test`, `echo.test`) on simulated links, built from the lower
 * layers' servers. This module is its boundary: `boot()` with no `nic`
 * option calls `startEmbeddedWorld` and runs the facade over the backends
 * it returns. `embedded-world.ts` assembles it and registers itself below
 * (`registerEmbeddedWorld(null)` takes it away again, e.g. in tests).
 */
import type { Clock, Impairments } from '@pnet/nic';
import type { Stack } from '@pnet/tcpip';
import type { NetworkBackends } from '../backends/backends';

export interface WorldOptions {
  /** `virtual` (default): simulated time, a seed replays a run exactly; `real`: wall-clock time. */
  time: 'virtual' | 'real';
  seed: number;
  /** Impairments of the simulated link between this host and the world's router. */
  impairments?: Impairments;
  /** Write every frame of this host's NIC to a pcap file. */
  pcap?: string;
}

export interface EmbeddedWorld {
  /** The host's view of the world: its stack's sockets, HTTP client, and configuration. */
  backends: NetworkBackends;
  clock: Clock;
  /** This host's Stack (see `startHostStack` in system/host-stack.ts, which builds the host side). */
  stack?: Stack;
  /** Stops every server, link and timer of the world. */
  close(): Promise<void>;
}

export type WorldFactory = (options: WorldOptions) => Promise<EmbeddedWorld>;

let factory: WorldFactory | null = null;

/** Installs the world's assembly (called by the module that builds it from the lower layers). */
export function registerEmbeddedWorld(f: WorldFactory | null): void {
  factory = f;
}

export function startEmbeddedWorld(options: WorldOptions): Promise<EmbeddedWorld> {
  if (!factory) {
    return Promise.reject(new Error('The embedded world is not available yet: it is assembled from the lower layers (pass `backends` to boot() meanwhile)'));
  }
  return factory(options);
}

// The world assembled from the lower layers (after the declarations above: embedded-world.ts imports their types only).
import { createEmbeddedWorld } from './embedded-world';
registerEmbeddedWorld(createEmbeddedWorld);
export { createEmbeddedWorld, hostBackends, withTlsDefaults, WORLD } from './embedded-world';
export type { EmbeddedWorldDetails, EmbeddedWorldOptions, WorldTlsOptions } from './embedded-world';
export { PumpedClock } from './pump-clock';
export { worldCertificates } from './certificates';
export type { WorldCertificates } from './certificates';
