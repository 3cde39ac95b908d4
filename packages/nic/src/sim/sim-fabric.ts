import type { Clock } from '../clock/clock';
import { Rng } from '../random/rng';
import { ChannelStats, SimChannel } from './channel';
import type { Impairments } from './impairments';
import type { SimAttachment, SimNic } from './sim-nic';

/** 'in': frames arriving at the fabric from the port's NIC; 'out': frames arriving at the NIC from the fabric. */
export type PortDirection = 'in' | 'out';

export type PortTap = (direction: PortDirection, frame: Uint8Array, length: number, timestamp: number) => void;

export interface PortOptions {
  /** What happens to frames from the NIC into the fabric. */
  ingress?: Impairments;
  /** What happens to frames from the fabric to the NIC. */
  egress?: Impairments;
}

export interface SimFabricOptions {
  clock: Clock;
  /** Seed of the fabric's Rng (default 1); each port's channels draw from forks of it, in connect order. */
  seed?: number;
  /** Pooled buffer size for frames in flight (default 1518; larger frames still pass). */
  bufferSize?: number;
}

// Port names for taps, made once (a String() per frame would allocate).
const PORT_NAMES: string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** One port of a switch or hub, with its own impairments each way. */
export class FabricPort implements SimAttachment {
  nic: SimNic | null = null;
  private adminUp = true;

  constructor(
    private readonly fabric: SimFabric,
    readonly index: number,
    readonly ingress: SimChannel,
    readonly egress: SimChannel,
  ) {}

  get up(): boolean {
    return this.adminUp;
  }

  get carrierUp(): boolean {
    return this.adminUp && this.nic !== null;
  }

  get stats(): { ingress: ChannelStats; egress: ChannelStats } {
    return { ingress: this.ingress.stats, egress: this.egress.stats };
  }

  send(frame: Uint8Array, length: number): boolean {
    return this.ingress.send(frame, length);
  }

  nicClosed(nic: SimNic): void {
    this.fabric.disconnect(nic);
  }

  /** Taps frames arriving at the fabric ('in') and at the NIC ('out'). */
  addTap(tap: PortTap): () => void {
    const offIn = this.ingress.addTap((f, l, t) => tap('in', f, l, t));
    const offOut = this.egress.addTap((f, l, t) => tap('out', f, l, t));
    return () => { offIn(); offOut(); };
  }

  /** @internal */
  setAdmin(up: boolean): void {
    this.adminUp = up;
    this.egress.sink = up && this.nic ? this.deliverToNic : null;
  }

  /** @internal */
  plug(nic: SimNic | null): void {
    this.nic = nic;
    this.egress.sink = this.adminUp && nic ? this.deliverToNic : null;
  }

  // The egress channel owns the frame: the NIC takes it by exchange, no copy.
  private readonly deliverToNic = (frame: Uint8Array, length: number): Uint8Array => this.nic!.receiveOwned(frame, length);

  /** @internal the fabric decides where a frame that reached it goes (borrowed: each egress channel takes a copy). */
  readonly fromNic = (frame: Uint8Array, length: number): null => {
    this.fabric.arrived(this, frame, length);
    return null;
  };
}

/**
 * What switches and hubs share: numbered ports, each a pair of impaired
 * channels (NIC -> fabric, fabric -> NIC), and a forwarding decision made
 * when a frame reaches the fabric.
 */
export abstract class SimFabric {
  readonly clock: Clock;
  protected readonly rng: Rng;
  protected readonly portList: FabricPort[] = [];
  private fabricTaps: ((port: string, frame: Uint8Array, length: number, timestamp: number) => void)[] = [];
  private readonly bufferSize: number | undefined;

  constructor(options: SimFabricOptions) {
    this.clock = options.clock;
    this.rng = new Rng(options.seed ?? 1);
    this.bufferSize = options.bufferSize;
  }

  get ports(): readonly FabricPort[] {
    return this.portList;
  }

  port(index: number): FabricPort {
    const p = this.portList[index];
    if (!p) throw new RangeError(`no port ${index} (ports: ${this.portList.length})`);
    return p;
  }

  /** Plugs `nic` into a new port and returns the port. */
  connect(nic: SimNic, options: PortOptions = {}): FabricPort {
    const index = this.portList.length;
    const ingress = new SimChannel({ clock: this.clock, rng: this.rng.fork(), impairments: options.ingress, bufferSize: this.bufferSize });
    const egress = new SimChannel({ clock: this.clock, rng: this.rng.fork(), impairments: options.egress, bufferSize: this.bufferSize });
    const port = new FabricPort(this, index, ingress, egress);
    ingress.sink = port.fromNic;
    port.plug(nic);
    try {
      nic.attach(port);
    } catch (e) {
      port.plug(null);
      throw e;
    }
    this.portList.push(port);
    return port;
  }

  /** Unplugs the NIC from its port (the port stays, empty). Frames on their way to it are lost. */
  disconnect(nic: SimNic): void {
    const port = this.portList.find((p) => p.nic === nic);
    if (!port) return;
    port.plug(null);
    nic.detach(port);
    this.portGone(port);
  }

  /** Sets a port administratively up or down (its NIC sees carrier follow). */
  setPortUp(index: number, up: boolean): void {
    const port = this.port(index);
    if (port.up === up) return;
    port.setAdmin(up);
    port.nic?.carrierChanged();
    if (!up) this.portGone(port);
  }

  /**
   * Taps every frame as it reaches the fabric from any port, present or
   * future (the "direction" is the port index as a string).
   */
  addTap(tap: (port: string, frame: Uint8Array, length: number, timestamp: number) => void): () => void {
    this.fabricTaps = [...this.fabricTaps, tap];
    return () => { this.fabricTaps = this.fabricTaps.filter((t) => t !== tap); };
  }

  /** @internal a frame reached the fabric from `port`. */
  arrived(port: FabricPort, frame: Uint8Array, length: number): void {
    const taps = this.fabricTaps;
    if (taps.length > 0) {
      const now = this.clock.now();
      const name = PORT_NAMES[port.index] ?? String(port.index);
      for (let i = 0; i < taps.length; i++) taps[i](name, frame, length, now);
    }
    this.forwardFrom(port, frame, length);
  }

  /** @internal */
  abstract forwardFrom(port: FabricPort, frame: Uint8Array, length: number): void;

  /** A port lost its NIC or went down. */
  protected portGone(_port: FabricPort): void {}

  /** Sends a copy out of every live port except `except`; returns how many. */
  protected flood(except: FabricPort, frame: Uint8Array, length: number): number {
    const ports = this.portList;
    let n = 0;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      if (p !== except && p.carrierUp) {
        p.egress.send(frame, length);
        n++;
      }
    }
    return n;
  }
}
