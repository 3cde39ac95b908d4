import type { Clock } from '../clock/clock';
import type { Rng } from '../random/rng';
import { FramePool } from './frame-pool';
import {
  ethernetPayloadLength, Impairments, ImpairmentStats, newImpairmentStats, ResolvedImpairments, resolveImpairments,
} from './impairments';

/**
 * Where a channel hands frames when they arrive. A sink that only borrows the frame for the call
 * returns null; one that keeps it returns the buffer it gives in exchange, which the channel's
 * pool holds from then on (at least as long as the frame; `frame` itself means a copy was taken).
 */
export type ChannelSink = (frame: Uint8Array, length: number) => Uint8Array | null;

/** Sees every frame a channel delivers, at its arrival time. The frame is borrowed. */
export type ChannelTap = (frame: Uint8Array, length: number, timestamp: number) => void;

/** Per-direction counters of a channel. */
export type ChannelStats = ImpairmentStats;

export interface SimChannelOptions {
  clock: Clock;
  /** The channel's own random source (a fork of the medium's seeded Rng). */
  rng: Rng;
  impairments?: Impairments;
  /** Size of a pooled buffer; larger frames still pass (their buffer grows once). Default 1518. */
  bufferSize?: number;
}

/**
 * One direction of a simulated medium: applies its impairments, holds frames
 * in pooled buffers and delivers them to `sink` at their arrival time on the
 * clock. Frames that arrive in the order they were sent (the common case:
 * fixed delay, rate limit, keepOrder) wait in a FIFO served by one clock event
 * at a time; a frame that overtakes (jitter, reordering) gets its own event,
 * with the buffer's handle as the timer argument. Either way steady-state
 * traffic allocates nothing and the clock's queue stays short. Delivery is
 * never re-entrant: even with no delay a frame arrives from a clock event, not
 * from inside `send`.
 */
export class SimChannel {
  sink: ChannelSink | null = null;
  readonly stats: ImpairmentStats = newImpairmentStats();
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly pool: FramePool;
  private cfg: ResolvedImpairments;
  private taps: ChannelTap[] = [];
  private readonly deliverHandle: (handle: number) => void;
  private readonly serveFifoHandle: () => void;
  // In-order arrivals: handles and times, oldest first; one clock event serves the head.
  private fifoHandle = new Int32Array(64);
  private fifoTime = new Float64Array(64);
  private fifoHead = 0;
  private fifoCount = 0;
  private fifoScheduled = false;
  // Gilbert-Elliott state.
  private geBad = false;
  // Rate limiter: a FIFO of (departure time, length) for frames queued or on the wire.
  private qDepart = new Float64Array(16);
  private qLen = new Int32Array(16);
  private qHead = 0;
  private qCount = 0;
  private qBytes = 0;
  private lineFreeAt = 0;
  // keepOrder: arrival time of the latest in-order copy.
  private lastArrival = 0;

  constructor(options: SimChannelOptions) {
    this.clock = options.clock;
    this.rng = options.rng;
    this.cfg = resolveImpairments(options.impairments);
    this.pool = new FramePool(options.bufferSize ?? 1518);
    this.deliverHandle = (h) => this.arrive(h);
    this.serveFifoHandle = () => this.serveFifo();
  }

  /** Replaces the impairments from now on (queue and loss state carry over). */
  configure(impairments: Impairments): void {
    this.cfg = resolveImpairments(impairments);
  }

  /** Frames in flight now. */
  get inFlight(): number {
    return this.pool.inUse;
  }

  /** Pooled buffers allocated so far (the high-water mark of frames in flight). */
  get poolCapacity(): number {
    return this.pool.capacity;
  }

  /**
   * A pooled buffer of at least `size` bytes to build the next frame in: `send` then keeps it
   * without a copy. The same buffer until it is sent; any other frame is copied as before.
   */
  txBuffer(size: number): Uint8Array {
    return this.pool.lend(size);
  }

  /**
   * Takes a borrowed frame. Returns false only when the rate limiter's queue
   * was full (a drop the sender can see); losses on the wire return true.
   */
  send(frame: Uint8Array, length: number): boolean {
    const cfg = this.cfg;
    const stats = this.stats;
    const rng = this.rng;
    const index = stats.offered++;
    const now = this.clock.now();

    if (cfg.mtu !== Infinity && ethernetPayloadLength(frame, length) > cfg.mtu) {
      stats.droppedMtu++;
      return true;
    }
    if (cfg.dropFrames.size > 0 && cfg.dropFrames.has(index)) {
      stats.droppedScripted++;
      return true;
    }
    if (cfg.loss > 0 && rng.next() < cfg.loss) {
      stats.droppedLoss++;
      return true;
    }
    const ge = cfg.ge;
    if (ge !== null) {
      const lost = rng.next() < (this.geBad ? ge.lossBad : ge.lossGood);
      if (rng.next() < (this.geBad ? ge.r : ge.p)) this.geBad = !this.geBad;
      if (lost) {
        stats.droppedBurst++;
        return true;
      }
    }

    let departure = now;
    if (cfg.rate !== Infinity) {
      departure = this.enqueue(now, length, cfg);
      if (departure < 0) {
        stats.droppedQueue++;
        return false;
      }
    }

    const copies = cfg.duplicate > 0 && rng.next() < cfg.duplicate ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    // The duplicate is copied first: a lent frame is itself the first copy, which may get corrupted.
    const second = copies === 2 ? this.pool.store(frame, length) : -1;
    const lent = this.pool.isLent(frame);
    for (let c = 0; c < copies; c++) {
      const h = c === 1 ? second : lent ? this.pool.storeLent(length) : this.pool.store(frame, length);
      if (cfg.corrupt > 0 && rng.next() < cfg.corrupt) this.corrupt(h, length, cfg.corruptFrom);
      let arrival = departure + cfg.delay;
      if (cfg.jitter > 0) {
        arrival += cfg.jitter * (2 * rng.next() - 1);
        if (arrival < departure) arrival = departure;
      }
      if (cfg.keepOrder) {
        if (arrival < this.lastArrival) {
          arrival = this.lastArrival;
          stats.heldForOrder++;
        }
        this.lastArrival = arrival;
      }
      if (cfg.reorder > 0 && rng.next() < cfg.reorder) {
        arrival += cfg.reorderGap;
        stats.reordered++;
      }
      this.scheduleArrival(h, arrival);
    }
    return true;
  }

  private scheduleArrival(h: number, arrival: number): void {
    const mask = this.fifoHandle.length - 1;
    if (this.fifoCount > 0 && arrival < this.fifoTime[(this.fifoHead + this.fifoCount - 1) & mask]) {
      // Overtakes a frame already waiting: it needs its own event.
      this.clock.schedule(arrival, this.deliverHandle, h);
      return;
    }
    if (this.fifoCount === this.fifoHandle.length) this.growFifo();
    const tail = (this.fifoHead + this.fifoCount) & (this.fifoHandle.length - 1);
    this.fifoHandle[tail] = h;
    this.fifoTime[tail] = arrival;
    this.fifoCount++;
    if (!this.fifoScheduled) {
      this.fifoScheduled = true;
      this.clock.schedule(arrival, this.serveFifoHandle, 0);
    }
  }

  private serveFifo(): void {
    const now = this.clock.now();
    // Serve only what was waiting when the event fired; frames queued meanwhile get the next event.
    let n = this.fifoCount;
    while (n-- > 0 && this.fifoTime[this.fifoHead] <= now) {
      const h = this.fifoHandle[this.fifoHead];
      this.fifoHead = (this.fifoHead + 1) & (this.fifoHandle.length - 1);
      this.fifoCount--;
      this.arrive(h);
    }
    if (this.fifoCount > 0) this.clock.schedule(this.fifoTime[this.fifoHead], this.serveFifoHandle, 0);
    else this.fifoScheduled = false;
  }

  private growFifo(): void {
    const n = this.fifoHandle.length;
    const handles = new Int32Array(n * 2);
    const times = new Float64Array(n * 2);
    for (let i = 0; i < this.fifoCount; i++) {
      handles[i] = this.fifoHandle[(this.fifoHead + i) & (n - 1)];
      times[i] = this.fifoTime[(this.fifoHead + i) & (n - 1)];
    }
    this.fifoHandle = handles;
    this.fifoTime = times;
    this.fifoHead = 0;
  }

  addTap(tap: ChannelTap): () => void {
    this.taps = [...this.taps, tap];
    return () => { this.taps = this.taps.filter((t) => t !== tap); };
  }

  /** Admits a frame to the rate limiter; returns its departure time, or -1 when the queue is full. */
  private enqueue(now: number, length: number, cfg: ResolvedImpairments): number {
    // Frames whose last bit has left by now are out of the queue.
    while (this.qCount > 0 && this.qDepart[this.qHead] <= now) {
      this.qBytes -= this.qLen[this.qHead];
      this.qHead = (this.qHead + 1) & (this.qDepart.length - 1);
      this.qCount--;
    }
    if (this.qCount + 1 > cfg.queuePackets || this.qBytes + length > cfg.queueBytes) return -1;
    if (this.qCount === this.qDepart.length) this.growQueue();
    const start = this.lineFreeAt > now ? this.lineFreeAt : now;
    const departure = start + (length * 8 * 1000) / cfg.rate;
    this.lineFreeAt = departure;
    const tail = (this.qHead + this.qCount) & (this.qDepart.length - 1);
    this.qDepart[tail] = departure;
    this.qLen[tail] = length;
    this.qCount++;
    this.qBytes += length;
    if (this.qCount > this.stats.queuePeakPackets) this.stats.queuePeakPackets = this.qCount;
    if (this.qBytes > this.stats.queuePeakBytes) this.stats.queuePeakBytes = this.qBytes;
    return departure;
  }

  private growQueue(): void {
    const n = this.qDepart.length;
    const depart = new Float64Array(n * 2);
    const len = new Int32Array(n * 2);
    for (let i = 0; i < this.qCount; i++) {
      depart[i] = this.qDepart[(this.qHead + i) & (n - 1)];
      len[i] = this.qLen[(this.qHead + i) & (n - 1)];
    }
    this.qDepart = depart;
    this.qLen = len;
    this.qHead = 0;
  }

  private corrupt(h: number, length: number, from: number): void {
    if (length <= from) return;
    const bit = this.rng.nextInt((length - from) * 8);
    this.pool.buffer(h)[from + (bit >>> 3)] ^= 1 << (bit & 7);
    this.stats.corrupted++;
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
      const back = sink(buf, length);
      if (back !== null && back !== buf) this.pool.replace(h, back);
    }
    this.pool.release(h);
  }
}
