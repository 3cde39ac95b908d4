import { FabricPort, SimFabric, SimFabricOptions } from './sim-fabric';

export type SimHubOptions = SimFabricOptions;

/**
 * A repeater: every frame that reaches it goes out of every other live port.
 * Collisions and half duplex are not modelled: each port is a full-duplex
 * pair of channels with its own impairments.
 */
export class SimHub extends SimFabric {
  readonly stats = { received: 0, repeated: 0 };

  constructor(options: SimHubOptions) {
    super(options);
  }

  /** @internal */
  forwardFrom(port: FabricPort, frame: Uint8Array, length: number): void {
    this.stats.received++;
    this.stats.repeated += this.flood(port, frame, length);
  }
}
