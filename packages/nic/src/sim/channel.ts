import type { Clock } from '../clock/clock';
import { Rng } from '../random/rng';
import { FramePool } from './frame-pool';

/** Where a channel hands frames when they arrive. The frame is borrowed for the call. */
export type ChannelSink = (frame: Uint8Array, length: number) => void;

/** Sees every frame a channel delivers, at its arrival time. The frame is borrowed. */
export type ChannelTap = (frame: Uint8Array, length: number, timestamp: number) => void;

export interface SimChannelOptions {
  clock: Clock;
  rng: Rng;
  /** One-way latency in ms (default 0: delivered at the same virtual instant, but never re-entrantly). */
  delay?: number;
  /** Size of a pooled buffer; larger frames still pass (their buffer grows). Default 1518. */
  bufferSize?: number;
}

export interface ChannelStats {
  /** Frames handed to the channel. */
  offered: number;
  /** Frames (copies included) handed to the far end. */
  delivered: number;
  deliveredBytes: number;
  /** Frames lost because nothing was listening at arrival time (link down, port unplugged). */
  droppedNoCarrier: number;
}

export function newChannelStats(): ChannelStats {
  return { offered: 0, delivered: 0, deliveredBytes: 0, droppedNoCarrier: 0 };
}

/**
 * One direction of a simulated medium: takes frames, holds them in pooled
 * buffers and delivers them to `sink` at their arrival time on the clock.
 */
export class SimChannel {
  sink: ChannelSink | null = null;
  readonly stats: ChannelStats = newChannelStats();
  private readonly clock: Clock;
  private readonly pool: FramePool;
  private delay: number;
  private taps: ChannelTap[] = [];
  private readonly deliverHandle: (handle: number) => void;

  constructor(options: SimChannelOptions) {
    this.clock = options.clock;
    this.delay = checkNonNegative('delay', options.delay ?? 0);
    this.pool = new FramePool(options.bufferSize ?? 1518);
    this.deliverHandle = (h) => this.arrive(h);
  }

  /** Frames in flight now. */
  get inFlight(): number {
    return this.pool.inUse;
  }

  send(frame: Uint8Array, length: number): boolean {
    this.stats.offered++;
    const h = this.pool.store(frame, length);
    this.clock.schedule(this.clock.now() + this.delay, this.deliverHandle, h);
    return true;
  }

  addTap(tap: ChannelTap): () => void {
    this.taps = [...this.taps, tap];
    return () => { this.taps = this.taps.filter((t) => t !== tap); };
  }

  private arrive(h: number): void {
    const buf = this.pool.buffer(h);
    const length = this.pool.length(h);
    const sink = this.sink;
    if (sink === null) {
      this.stats.droppedNoCarrier++;
    } else {
      this.stats.delivered++;
      this.stats.deliveredBytes += length;
      const taps = this.taps;
      if (taps.length > 0) {
        const now = this.clock.now();
        for (let i = 0; i < taps.length; i++) taps[i](buf, length, now);
      }
      sink(buf, length);
    }
    this.pool.release(h);
  }
}

function checkNonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`impairments: ${name} must be a finite number >= 0, got ${v}`);
  return v;
}
