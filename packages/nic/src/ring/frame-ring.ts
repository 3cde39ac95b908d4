import { allocateWasmBacked } from '../mem/wasm-memory';
import { copyBytes, copyBytesWithoutView } from '../mem/copy-bytes';

/**
 * The hot-path ring: a bounded single-producer single-consumer queue of
 * fixed-size frame slots in one (Shared)ArrayBuffer.
 *
 * The producer writes a frame straight into a slot (`reserve` + `commit`, or
 * `push` to copy one in); the consumer reads it in place (`peek` + `release`).
 * Views into the slots are made once, at construction, so steady-state traffic
 * allocates nothing. A full ring drops the frame and counts it.
 *
 * Over a SharedArrayBuffer the indices are read and written with Atomics, so
 * the producer may live in a worker thread. Each side caches the other's
 * index and reloads it only when the ring looks full (producer) or empty
 * (consumer), and the producer rings the doorbell (Atomics.notify, costly)
 * only when a consumer has said it is waiting: wait with `waitForFrames` or
 * `waitForFramesAsync`, which announce the wait.
 *
 * Layout: [control: 16 x Int32][lengths: slots x Int32][timestamps: slots x Float64][slot data...]
 */
export interface FrameRingOptions {
  /** Number of slots; rounded up to a power of two. Default 1024. */
  slots?: number;
  /** Bytes per slot: the largest frame it holds. Default 1536. */
  slotSize?: number;
  /** Allocate a SharedArrayBuffer so another thread can attach with `FrameRing.attach`. */
  shared?: boolean;
  /**
   * Allocate the (unshared) buffer in a WebAssembly.Memory (`allocateWasmBacked`), so a layer
   * above can sum frames in place with a wasm loop. Its byteLength is then rounded up to 64 KiB.
   */
  wasmMemory?: boolean;
  /**
   * Let the producer hand frames over by `exchange` (unshared rings only): a slot's storage may
   * then be any buffer the producer gave, so `buffer` no longer holds every frame and nothing may
   * write into the slots by layout (a TAP reader binds that layout). Default false.
   */
  exchange?: boolean;
}

/** One frame in the ring, as seen by the consumer. The object is reused: read it before `release()`. */
export interface FrameView {
  /** The whole slot; the frame is `data.subarray(0, length)` (not materialized, to avoid allocation). */
  readonly data: Uint8Array;
  readonly length: number;
  /** Ingress time (ms on the NIC's clock). */
  readonly timestamp: number;
}

const HEAD = 0; // producer index (frames committed), free-running uint32
const TAIL = 8; // consumer index (frames released); 32 bytes apart from HEAD
const DROPS = 12;
const DOORBELL = 4;
const WAITERS = 5; // consumers blocked (or about to block) on DOORBELL
const CONTROL_INTS = 16;

class SlotView implements FrameView {
  length = 0;
  timestamp = 0;
  /** Replaced by `exchange` (readonly to consumers). */
  constructor(public data: Uint8Array) {}
}

export class FrameRing {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly slots: number;
  readonly slotSize: number;
  private readonly mask: number;
  private readonly control: Int32Array;
  private readonly lengths: Int32Array;
  private readonly timestamps: Float64Array;
  private readonly views: SlotView[];
  private readonly shared: boolean;
  private readonly exchangeable: boolean;
  // Local copies of the indices: each side owns one and caches the other.
  private head = 0;
  private tail = 0;
  // The other side's index as last seen: reloaded only when the ring looks full/empty.
  private seenHead = 0;
  private seenTail = 0;
  private localDrops = 0;

  constructor(options: FrameRingOptions = {}, attachTo?: SharedArrayBuffer) {
    const slots = nextPow2(options.slots ?? 1024);
    const slotSize = options.slotSize ?? 1536;
    if (!Number.isInteger(slotSize) || slotSize < 64 || slotSize > 1 << 20) {
      throw new RangeError(`FrameRing: slotSize must be an integer from 64 to 1048576, got ${slotSize}`);
    }
    if (slots < 2 || slots > 1 << 20) throw new RangeError(`FrameRing: slots must be from 2 to 1048576, got ${options.slots}`);
    const alignedSlot = (slotSize + 7) & ~7;
    const bytes = FrameRing.byteLength(slots, alignedSlot);
    this.shared = attachTo !== undefined || options.shared === true;
    if (options.exchange === true && this.shared) throw new RangeError('FrameRing: exchange needs an unshared ring');
    this.exchangeable = options.exchange === true;
    this.buffer = attachTo ??
      (this.shared ? new SharedArrayBuffer(bytes) : options.wasmMemory === true ? allocateWasmBacked(bytes) : new ArrayBuffer(bytes));
    if (this.buffer.byteLength < bytes) throw new RangeError('FrameRing: shared buffer too small for these options');
    this.slots = slots;
    this.slotSize = slotSize;
    this.mask = slots - 1;
    this.control = new Int32Array(this.buffer, 0, CONTROL_INTS);
    this.lengths = new Int32Array(this.buffer, CONTROL_INTS * 4, slots);
    const tsOffset = CONTROL_INTS * 4 + slots * 4;
    const tsAligned = (tsOffset + 7) & ~7;
    this.timestamps = new Float64Array(this.buffer, tsAligned, slots);
    const dataOffset = tsAligned + slots * 8;
    this.views = [];
    for (let i = 0; i < slots; i++) {
      this.views.push(new SlotView(new Uint8Array(this.buffer, dataOffset + i * alignedSlot, slotSize)));
    }
    if (attachTo) {
      this.head = this.seenHead = this.control[HEAD] >>> 0;
      this.tail = this.seenTail = this.control[TAIL] >>> 0;
    }
  }

  /** Attaches to a ring created with `shared: true` in another thread. */
  static attach(buffer: SharedArrayBuffer, options: { slots: number; slotSize: number }): FrameRing {
    return new FrameRing(options, buffer);
  }

  static byteLength(slots: number, slotSize: number): number {
    const tsOffset = (CONTROL_INTS * 4 + slots * 4 + 7) & ~7;
    return tsOffset + slots * 8 + slots * ((slotSize + 7) & ~7);
  }

  /** Frames waiting for the consumer. */
  get size(): number {
    return (this.loadHead() - this.loadTail()) >>> 0;
  }

  get isFull(): boolean {
    return this.size >= this.slots;
  }

  /** Frames dropped because the ring was full. */
  get drops(): number {
    return this.shared ? Atomics.load(this.control, DROPS) >>> 0 : this.localDrops;
  }

  // ---- producer side ----

  /** The next free slot to write a frame into, or null when the ring is full (nothing is counted). */
  reserve(): Uint8Array | null {
    if (((this.head - this.seenTail) >>> 0) >= this.slots) {
      this.seenTail = this.loadTail();
      if (((this.head - this.seenTail) >>> 0) >= this.slots) return null;
    }
    return this.views[this.head & this.mask].data;
  }

  /** Publishes the slot returned by `reserve` as a frame of `length` bytes. */
  commit(length: number, timestamp: number): void {
    const i = this.head & this.mask;
    if (length < 0 || length > this.slotSize) throw new RangeError(`FrameRing.commit: length ${length} out of range`);
    this.lengths[i] = length;
    this.timestamps[i] = timestamp;
    this.head = (this.head + 1) >>> 0;
    if (this.shared) {
      Atomics.store(this.control, HEAD, this.head | 0);
      // Seq-cst order: a consumer that registered before this load is woken; one that
      // registers after it sees the new HEAD when it re-checks, and does not sleep.
      if (Atomics.load(this.control, WAITERS) !== 0) {
        Atomics.add(this.control, DOORBELL, 1);
        Atomics.notify(this.control, DOORBELL);
      }
    } else {
      this.control[HEAD] = this.head | 0;
    }
  }

  /** Copies `length` bytes of `src` into the ring. Returns false (and counts a drop) when full or too long. */
  push(src: Uint8Array, length: number, timestamp: number): boolean {
    const slot = this.reserve();
    if (slot === null || length > this.slotSize) {
      this.countDrop();
      return false;
    }
    if (length === src.length) slot.set(src);
    else copyPrefix(src, slot, length);
    this.commit(length, timestamp);
    return true;
  }

  /**
   * Hands a frame over without copying it, as a NIC's DMA fills a buffer the driver then swaps for
   * a fresh one: `frame` becomes the next slot's storage and the slot's old storage is returned,
   * the caller's from then on (it is at least `slotSize` long). Needs a ring made with `exchange`
   * and a `frame` at least `slotSize` long; otherwise the frame is copied in (`push`) and `frame`
   * itself is returned. Returns null (and counts a drop) when the ring is full or the frame too
   * long: the caller keeps `frame`. Either way the caller must not touch the frame it gave.
   */
  exchange(frame: Uint8Array, length: number, timestamp: number): Uint8Array | null {
    if (!this.exchangeable || frame.length < this.slotSize) return this.push(frame, length, timestamp) ? frame : null;
    const slot = this.reserve();
    if (slot === null || length > this.slotSize || length > frame.length) {
      this.countDrop();
      return null;
    }
    this.views[this.head & this.mask].data = frame;
    this.commit(length, timestamp);
    return slot;
  }

  /** Counts a frame the producer had to drop. */
  countDrop(): void {
    if (this.shared) Atomics.add(this.control, DROPS, 1);
    else this.localDrops++;
  }

  // ---- consumer side ----

  /** The oldest frame, read in place, or null when the ring is empty. */
  peek(): FrameView | null {
    if (this.tail === this.seenHead) {
      this.seenHead = this.loadHead();
      if (this.tail === this.seenHead) return null;
    }
    const i = this.tail & this.mask;
    const view = this.views[i];
    view.length = this.lengths[i];
    view.timestamp = this.timestamps[i];
    return view;
  }

  /** Frees the frame returned by `peek`; its view must not be used afterwards. */
  release(): void {
    if (this.tail === this.seenHead) {
      this.seenHead = this.loadHead();
      if (this.tail === this.seenHead) throw new Error('FrameRing.release: ring is empty');
    }
    this.tail = (this.tail + 1) >>> 0;
    if (this.shared) {
      Atomics.store(this.control, TAIL, this.tail | 0);
    } else {
      // Both sides are this object: once empty, start again at slot 0, so a ring that keeps
      // draining reuses its first few (cached) slots instead of walking through all of them.
      if (this.tail === this.head) {
        this.head = this.tail = this.seenHead = this.seenTail = 0;
        this.control[HEAD] = 0;
      }
      this.control[TAIL] = this.tail | 0;
    }
  }

  /** Drops every queued frame. */
  clear(): void {
    while (this.peek() !== null) this.release();
  }

  /**
   * The word the producer bumps and notifies when frames arrive while a
   * consumer waits. It only changes while a wait is announced: use
   * `waitForFrames`/`waitForFramesAsync` rather than waiting on it directly.
   */
  get doorbell(): { array: Int32Array; index: number } {
    return { array: this.control, index: DOORBELL };
  }

  /**
   * Consumer side, shared rings, blocking (worker threads only: the main
   * thread may not block): waits until a frame is queued or `timeoutMs`
   * passes. Returns whether a frame is there.
   */
  waitForFrames(timeoutMs = Infinity): boolean {
    if (this.peek() !== null) return true;
    if (!this.shared) return false;
    Atomics.add(this.control, WAITERS, 1);
    try {
      const bell = Atomics.load(this.control, DOORBELL);
      if (this.peek() !== null) return true;
      Atomics.wait(this.control, DOORBELL, bell, timeoutMs);
    } finally {
      Atomics.sub(this.control, WAITERS, 1);
    }
    return this.peek() !== null;
  }

  /** Like `waitForFrames`, without blocking the thread (Atomics.waitAsync). */
  async waitForFramesAsync(timeoutMs = Infinity): Promise<boolean> {
    if (this.peek() !== null) return true;
    if (!this.shared) return false;
    Atomics.add(this.control, WAITERS, 1);
    try {
      const bell = Atomics.load(this.control, DOORBELL);
      if (this.peek() !== null) return true;
      // waitAsync is in Node 20 but not in the ES2022 lib this repo compiles against.
      const w = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(this.control, DOORBELL, bell, timeoutMs);
      if (w.async) await w.value;
    } finally {
      Atomics.sub(this.control, WAITERS, 1);
    }
    return this.peek() !== null;
  }

  private loadHead(): number {
    return this.shared ? Atomics.load(this.control, HEAD) >>> 0 : this.head;
  }

  private loadTail(): number {
    return this.shared ? Atomics.load(this.control, TAIL) >>> 0 : this.tail;
  }
}

function copyPrefix(src: Uint8Array, dst: Uint8Array, length: number): void {
  // Short frames: a loop beats creating a subarray for set().
  if (length <= 128) {
    for (let i = 0; i < length; i++) dst[i] = src[i];
  } else if (copyBytesWithoutView) {
    copyBytes(src, 0, dst, 0, Math.min(length, src.length)); // (as the view below: a short source copies what it has)
  } else if (src.length <= dst.length && src.length - length <= 1024) {
    // A pooled frame buffer a little longer than the frame: copying its tail too (bytes past
    // `length` in a slot mean nothing) costs less than the subarray view, garbage per frame.
    dst.set(src);
  } else {
    dst.set(src.subarray(0, length));
  }
}

function nextPow2(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`FrameRing: slots must be a positive integer, got ${n}`);
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

type WaitAsync = (
  array: Int32Array, index: number, value: number, timeout?: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
