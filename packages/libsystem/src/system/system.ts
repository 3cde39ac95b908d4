import { Clock, RealClock } from '@pnet/nic';
import type { NetworkBackends } from '../backends/backends';
import { Network } from '../network/network';
import { SystemContext } from '../network/system-context';
import { startEmbeddedWorld } from '../world';
import { BootOptions, checkBootOptions, CheckedBootOptions } from './boot-options';

/** A booted system: Phoenix's `system.network` and the clock it runs on. */
export interface System {
  readonly network: Network;
  readonly clock: Clock;
  /** Closes every handle and listener, stops the stack and its timers, releases NICs: the process can exit. Idempotent. */
  shutdown(): Promise<void>;
}

class BootedSystem implements System {
  readonly network: Network;
  private readonly ctx: SystemContext;
  private stopping: Promise<void> | null = null;

  constructor(backends: NetworkBackends, readonly clock: Clock, private readonly release: () => Promise<void>) {
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
      const clock = new RealClock();
      return new BootedSystem(o.backends, clock, async () => {
        await o.backends.close?.();
        clock.cancelAll();
      });
    }
    case 'world': {
      const world = await startEmbeddedWorld({ time: o.time, seed: o.seed, impairments: o.impairments, pcap: o.pcap });
      return new BootedSystem(world.backends, world.clock, () => world.close());
    }
    case 'tap':
      throw new Error(`Booting on TAP device ${o.tap} needs the pnet Stack and TAP NIC, which are not available yet`);
  }
}
