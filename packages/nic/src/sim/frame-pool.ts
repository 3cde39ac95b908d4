import { allocateWasmBacked } from '../mem/wasm-memory';
import { copyBytes, copyBytesWithoutView } from '../mem/copy-bytes';

/**
 * Buffers for frames in flight inside a simulated medium. A frame is held by a
 * small integer handle, so a delivery can be scheduled with
 * `clock.schedule(at, fn, handle)` and no closure. Buffers are recycled: once
 * the pool has grown to the number of frames in flight, nothing is allocated.
 * The buffers live in WebAssembly memory (`allocateWasmBacked`) so the stack above can
 * checksum them in place.
 */
export class FramePool {
  private buffers: Uint8Array[] = [];
  private lengths = new Int32Array(0);
  private free = new Int32Array(0);
  private freeCount = 0;
  private inUseCount = 0;
  /** The handle lent to a sender to build its next frame in (-1: none). */
  private lent = -1;

  constructor(private readonly bufferSize: number, initial = 16) {
    if (!Number.isInteger(bufferSize) || bufferSize < 14) throw new RangeError(`FramePool: bad buffer size ${bufferSize}`);
    this.grow(Math.max(1, initial));
  }

  /** Frames currently held. */
  get inUse(): number {
    return this.inUseCount;
  }

  /** Buffers allocated so far (grows to the high-water mark of frames in flight). */
  get capacity(): number {
    return this.buffers.length;
  }

  /** Copies `length` bytes of `frame` into a pooled buffer and returns its handle. */
  store(frame: Uint8Array, length: number): number {
    if (this.freeCount === 0) this.grow(this.buffers.length * 2);
    const h = this.free[--this.freeCount];
    let buf = this.buffers[h];
    if (buf.length < length) {
      // A jumbo frame: this buffer grows once and keeps its new size.
      buf = wasmBacked(Math.max(length, this.bufferSize));
      this.buffers[h] = buf;
    }
    if (length <= 128) {
      for (let i = 0; i < length; i++) buf[i] = frame[i];
    } else {
      if (copyBytesWithoutView || length !== frame.length) copyBytes(frame, 0, buf, 0, length);
      else buf.set(frame);
    }
    this.lengths[h] = length;
    this.inUseCount++;
    return h;
  }

  /**
   * Lends a free buffer of at least `size` bytes for a sender to build its next frame in; the same
   * one until `storeLent` takes it as a frame (no copy). Not counted in `inUse` while lent.
   */
  lend(size: number): Uint8Array {
    if (this.lent < 0) {
      if (this.freeCount === 0) this.grow(this.buffers.length * 2);
      this.lent = this.free[--this.freeCount];
    }
    if (this.buffers[this.lent].length < size) this.buffers[this.lent] = wasmBacked(Math.max(size, this.bufferSize));
    return this.buffers[this.lent];
  }

  /** Whether `frame` is the buffer lent by `lend`. */
  isLent(frame: Uint8Array): boolean {
    return this.lent >= 0 && this.buffers[this.lent] === frame;
  }

  /** Takes the lent buffer as a held frame of `length` bytes and returns its handle. */
  storeLent(length: number): number {
    const h = this.lent;
    if (h < 0) throw new Error('FramePool.storeLent: no buffer is lent');
    this.lent = -1;
    this.lengths[h] = length;
    this.inUseCount++;
    return h;
  }

  /** A second copy of a held frame (for duplication). */
  duplicate(handle: number): number {
    return this.store(this.buffers[handle], this.lengths[handle]);
  }

  buffer(handle: number): Uint8Array {
    return this.buffers[handle];
  }

  length(handle: number): number {
    return this.lengths[handle];
  }

  /**
   * Gives a held frame's buffer away and takes `buf` in its place (a receiver kept the frame and
   * gave one of its own buffers back). `buf` may be shorter than the pool's size: like any short
   * buffer it grows when a longer frame needs it.
   */
  replace(handle: number, buf: Uint8Array): void {
    this.buffers[handle] = buf;
  }

  release(handle: number): void {
    this.free[this.freeCount++] = handle;
    this.inUseCount--;
  }

  private grow(n: number): void {
    const old = this.buffers.length;
    const lengths = new Int32Array(n); lengths.set(this.lengths); this.lengths = lengths;
    const free = new Int32Array(n); free.set(this.free.subarray(0, this.freeCount)); this.free = free;
    // One memory for the new buffers, each starting on a 64-byte boundary.
    const stride = (this.bufferSize + 63) & ~63;
    const arena = allocateWasmBacked((n - old) * stride);
    for (let i = old; i < n; i++) this.buffers.push(new Uint8Array(arena, (i - old) * stride, this.bufferSize));
    for (let i = n - 1; i >= old; i--) this.free[this.freeCount++] = i;
  }
}

function wasmBacked(size: number): Uint8Array {
  return new Uint8Array(allocateWasmBacked(size), 0, size);
}
