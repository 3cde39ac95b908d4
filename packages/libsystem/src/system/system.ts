import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Clock, localMac, RealClock, Rng, TapNic } from '@pnet/nic';
import type { Stack } from '@pnet/tcpip';
import type { NetworkBackends } from '../backends/backends';
import { Network } from '../network/network';
import { SystemContext } from '../network/system-context';
import { startEmbeddedWorld } from '../world';
import { BootOptions, checkBootOptions, CheckedBootOptions } from './boot-options';
import { startHostStack } from './host-stack';

/** A booted system: Phoenix's `system.network` and the clock it runs on. */
export interface System {
  readonly network: Network;
  readonly clock: Clock;
  /** The pnet Stack under the system, when it runs one (TAP, embedded world): interfaces, stats, pcap taps. */
  readonly stack?: Stack;
  /** Closes every handle and listener, stops the stack and its timers, releases NICs: the process can exit. Idempotent. */
  shutdown(): Promise<void>;
}

class BootedSystem implements System {
  readonly network: Network;
  private readonly ctx: SystemContext;
  private stopping: Promise<void> | null = null;

  constructor(
    backends: NetworkBackends,
    readonly clock: Clock,
    private readonly release: () => Promise<void>,
    readonly stack?: Stack,
  ) {
    this.ctx = new SystemContext(backends);
    this.network = new Network(this.ctx);
  }

  shutdown(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        await this.network.closeAll();
        this.ctx.shutDown = true;
        this.ctx.events.close(new Error('The system has been shut down'));
        await this.release();
      })();
    }
    return this.stopping;
  }
}

/**
 * Boots a system: by default the embedded simulated world; with
 * `{ nic: { tap } , address }` the stack on a Linux TAP device; with
 * `{ backends }` the facade over the backends given.
 */
export async function boot(options?: BootOptions): Promise<System> {
  const o: CheckedBootOptions = checkBootOptions(options);
  switch (o.kind) {
    case 'backends': {
      const own = o.clock ? null : new RealClock();
      return new BootedSystem(o.backends, o.clock ?? own!, async () => {
        await o.backends.close?.();
        own?.cancelAll();
      });
    }
    case 'world': {
      const world = await startEmbeddedWorld({ time: o.time, seed: o.seed, impairments: o.impairments, pcap: o.pcap });
      return new BootedSystem(world.backends, world.clock, () => world.close(), world.stack);
    }
    case 'tap': {
      // A real network: wall-clock time, and a seed nobody can predict. The system keeps the
      // process alive (its timers and device are ref'd) until shutdown().
      const clock = new RealClock({ keepAlive: true });
      const rng = new Rng(randomInt(2 ** 47));
      const nic = TapNic.open({ name: o.tap, mac: localMac(rng.nextU32()), clock, keepAlive: true });
      let host;
      try {
        if (o.prepare) await o.prepare(nic.ifname);
        else ensureKernelSideUp(nic.ifname);
        host = await startHostStack({ nic, clock, rng, address: o.address, gateway: o.gateway, dns: o.dns });
      } catch (err) {
        nic.close();
        clock.cancelAll();
        throw err;
      }
      const h = host;
      return new BootedSystem(h.backends, clock, async () => {
        await h.close();
        nic.close();
        clock.cancelAll();
      }, h.stack);
    }
  }
}

/** IFF_UP in /sys/class/net/<dev>/flags. */
const IFF_UP = 0x1;

/**
 * Linux refuses writes to a TAP whose kernel side is down, and the NIC gives
 * the device up on the first refused write: say so before the stack sends.
 */
function ensureKernelSideUp(ifname: string): void {
  let flags: number;
  try {
    flags = parseInt(readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8'), 16);
  } catch {
    return; // Not visible from here (e.g. in another namespace): nothing to check.
  }
  if ((flags & IFF_UP) === 0) throw new Error(`TAP device ${ifname} is down: bring it up first (ip link set ${ifname} up)`);
}
