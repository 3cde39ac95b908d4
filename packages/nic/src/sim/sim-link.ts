import type { Clock } from '../clock/clock';
import { Rng } from '../random/rng';
import { ChannelStats, SimChannel } from './channel';
import type { Impairments } from './impairments';
import type { SimAttachment, SimNic } from './sim-nic';

export type LinkDirection = 'aToB' | 'bToA';

/** Sees every frame the link delivers, in either direction, at its arrival time. The frame is borrowed. */
export type LinkTap = (direction: LinkDirection, frame: Uint8Array, length: number, timestamp: number) => void;

export interface SimLinkOptions {
  clock: Clock;
  /** Seed of the link's Rng (default 1); every random choice on the link comes from it. */
  seed?: number;
  /** One-way latency in ms for both directions, unless a direction sets its own `delay` (default 0). */
  delay?: number;
  /** What happens to frames from A to B. */
  aToB?: Impairments;
  /** What happens to frames from B to A. */
  bToA?: Impairments;
  /** Pooled buffer size for frames in flight (default 1518; larger frames still pass). */
  bufferSize?: number;
}

/** One end of a link, as seen by the NIC plugged into it. */
class LinkEnd implements SimAttachment {
  nic: SimNic | null = null;
  constructor(private readonly link: SimLink, readonly out: SimChannel) {}
  get carrierUp(): boolean {
    return this.link.isConnected;
  }
  send(frame: Uint8Array, length: number): boolean {
    return this.out.send(frame, length);
  }
  txBuffer(size: number): Uint8Array {
    return this.out.txBuffer(size);
  }
  nicClosed(): void {
    this.link.disconnect();
  }
}

/**
 * A point-to-point cable between two SimNics. Each direction is its own
 * channel with its own impairments, delivering in the clock's time. One
 * seeded Rng per link; each direction draws from its own fork of it, so
 * traffic in one direction does not change what happens in the other.
 */
export class SimLink {
  readonly clock: Clock;
  readonly rng: Rng;
  private readonly channels: Record<LinkDirection, SimChannel>;
  private readonly endA: LinkEnd;
  private readonly endB: LinkEnd;
  private readonly defaultDelay: number;

  constructor(options: SimLinkOptions) {
    this.clock = options.clock;
    this.rng = new Rng(options.seed ?? 1);
    this.defaultDelay = options.delay ?? 0;
    const channel = (imp: Impairments | undefined) => new SimChannel({
      clock: this.clock, rng: this.rng.fork(), bufferSize: options.bufferSize,
      impairments: { delay: this.defaultDelay, ...imp },
    });
    this.channels = { aToB: channel(options.aToB), bToA: channel(options.bToA) };
    this.endA = new LinkEnd(this, this.channels.aToB);
    this.endB = new LinkEnd(this, this.channels.bToA);
  }

  get isConnected(): boolean {
    return this.endA.nic !== null && this.endB.nic !== null;
  }

  /** The NIC on end A (sends on aToB), or null. */
  get a(): SimNic | null {
    return this.endA.nic;
  }

  get b(): SimNic | null {
    return this.endB.nic;
  }

  /** Per-direction counters. */
  get stats(): Record<LinkDirection, ChannelStats> {
    return { aToB: this.channels.aToB.stats, bToA: this.channels.bToA.stats };
  }

  /** Plugs `a` and `b` into the two ends; both see carrier up. */
  connect(a: SimNic, b: SimNic): this {
    if (this.isConnected) throw new Error('SimLink.connect: already connected; disconnect first');
    if (a === b) throw new Error('SimLink.connect: a NIC cannot be linked to itself');
    this.endA.nic = a;
    this.endB.nic = b;
    // The channels own the frames they deliver: each NIC takes them by exchange, no copy.
    this.channels.aToB.sink = (f, l) => b.receiveOwned(f, l);
    this.channels.bToA.sink = (f, l) => a.receiveOwned(f, l);
    try {
      a.attach(this.endA);
      b.attach(this.endB);
    } catch (e) {
      a.detach(this.endA);
      this.endA.nic = this.endB.nic = null;
      this.channels.aToB.sink = this.channels.bToA.sink = null;
      throw e;
    }
    a.carrierChanged();
    b.carrierChanged();
    return this;
  }

  /** Unplugs both ends: carrier goes down and frames still in flight are lost (counted). */
  disconnect(): void {
    const a = this.endA.nic, b = this.endB.nic;
    if (!a || !b) return;
    this.endA.nic = this.endB.nic = null;
    this.channels.aToB.sink = this.channels.bToA.sink = null;
    a.detach(this.endA);
    b.detach(this.endB);
  }

  /** Taps frames as they arrive at either end (after the link's impairments). */
  addTap(tap: LinkTap): () => void {
    const offA = this.channels.aToB.addTap((f, l, t) => tap('aToB', f, l, t));
    const offB = this.channels.bToA.addTap((f, l, t) => tap('bToA', f, l, t));
    return () => { offA(); offB(); };
  }

  /** Replaces one direction's impairments from now on (the link-wide `delay` still applies unless overridden). */
  setImpairments(direction: LinkDirection, impairments: Impairments): void {
    this.channels[direction].configure({ delay: this.defaultDelay, ...impairments });
  }

  /** The channel for one direction (for impairment stats and tuning). */
  channel(direction: LinkDirection): SimChannel {
    return this.channels[direction];
  }
}
