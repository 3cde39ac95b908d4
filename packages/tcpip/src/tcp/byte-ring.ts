/**
 * A byte ring buffer whose storage is allocated on first use and grown by doubling up to
 * `maxCapacity`, so idle connections cost no buffer memory. Positions are logical offsets from
 * the oldest byte; `writeAt` may place bytes past `length` (receive reassembly) as long as they
 * stay within `maxCapacity`.
 */
const MIN_ALLOCATION = 4096;

/**
 * First allocations given back by released rings, for the next ring to start with: short
 * connections take and drop two rings each, and a fresh ArrayBuffer per ring (allocation,
 * zeroing, the collector's external-memory accounting) was a fifth of a connection's CPU time.
 */
const spare: Uint8Array[] = [];
const MAX_SPARE = 64;

function recycle(buf: Uint8Array | null): void {
  if (buf !== null && buf.length === MIN_ALLOCATION && spare.length < MAX_SPARE) spare.push(buf);
}

/**
 * The same for receive (handsOut) rings, whose storage must be a Buffer: a fresh 4 KiB Buffer per
 * connection was 4 % of a short connection's CPU. Only storage no view was ever taken of comes
 * here (small reads are copies, see `chunk`): a view would see the next connection's bytes.
 */
const spareViewable: Buffer[] = [];
/** Reads up to this size are copied out (cheap, from Node's pool), so the storage stays reusable. */
const COPY_MAX = 1024;

export class ByteRing {
  private buf: Uint8Array | null = null;
  private head = 0;
  /** Bytes from the head that are valid and contiguous. */
  length = 0;
  /** (handsOut) The storage index past the furthest byte written: what a move must keep. */
  private written = 0;
  /** (handsOut) A view of the current storage was handed out: it may never be reused. */
  private viewed = false;

  /**
   * `handsOut`: `view` may give bytes away as views of the storage (no copy). The storage is then
   * used linearly instead of wrapping: bytes below the head are never written again, and when the
   * end is reached the live bytes move to fresh storage, leaving the old one to the views.
   */
  constructor(public maxCapacity: number, private readonly handsOut = false) {
    if (!Number.isInteger(maxCapacity) || maxCapacity < 1) throw new RangeError(`buffer size must be a positive integer, got ${maxCapacity}`);
  }

  /** Bytes currently allocated (0 until first use). */
  get allocated(): number {
    return this.buf ? this.buf.length : 0;
  }

  get free(): number {
    return this.maxCapacity - this.length;
  }

  /** Appends up to `free` bytes; returns how many were taken. */
  append(src: Uint8Array, offset: number, len: number): number {
    const n = Math.min(len, this.free);
    if (n <= 0) return 0;
    this.writeAt(this.length, src, offset, n);
    this.length += n;
    return n;
  }

  /** Stores bytes at logical position `pos` (pos + len <= maxCapacity). Does not change `length`. */
  writeAt(pos: number, src: Uint8Array, offset: number, len: number): void {
    if (len <= 0) return;
    if (this.handsOut) {
      if (this.buf === null || this.head + pos + len > this.buf.length) this.relocate(pos + len);
      this.buf!.set(src.subarray(offset, offset + len), this.head + pos);
      if (this.head + pos + len > this.written) this.written = this.head + pos + len;
      return;
    }
    this.ensure(pos + len);
    const buf = this.buf!;
    const cap = buf.length;
    let at = this.head + pos;
    if (at >= cap) at -= cap;
    const first = Math.min(len, cap - at);
    buf.set(src.subarray(offset, offset + first), at);
    if (first < len) buf.set(src.subarray(offset + first, offset + len), 0);
  }

  /** Copies `len` bytes starting at logical position `pos` into dst[dstOffset..]. */
  copyOut(pos: number, dst: Uint8Array, dstOffset: number, len: number): void {
    if (len <= 0) return;
    const buf = this.buf!;
    const cap = buf.length;
    let at = this.head + pos;
    if (at >= cap) at -= cap;
    const first = Math.min(len, cap - at);
    dst.set(buf.subarray(at, at + first), dstOffset);
    if (first < len) dst.set(buf.subarray(0, len - first), dstOffset + first);
  }

  /** Drops `n` bytes from the head. Frees the storage when the ring becomes empty and `release` is set. */
  consume(n: number, release = false): void {
    if (n <= 0) return;
    if (n > this.length) n = this.length;
    this.length -= n;
    if (this.buf) {
      this.head += n;
      if (this.head >= this.buf.length && !this.handsOut) this.head -= this.buf.length;
    }
    // Bytes past `length` (receive reassembly) stay where they are relative to the head.
    if (this.length === 0 && release) {
      this.head = 0;
      this.drop();
    }
  }

  /**
   * The first `n` stored bytes (n <= length) as a Buffer viewing the storage, no copy. Only with
   * `handsOut`, where the view stays valid after `consume`: those bytes are never written again.
   */
  view(n: number): Buffer {
    if (!this.handsOut) throw new Error('ByteRing.view: needs a ring made with handsOut');
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new RangeError(`ByteRing.view: ${n} of ${this.length} bytes`);
    const buf = this.buf as Buffer | null;
    if (buf === null || n === 0) return Buffer.alloc(0);
    this.viewed = true;
    return buf.subarray(this.head, this.head + n);
  }

  /**
   * The first `n` stored bytes (n <= length) as a Buffer the caller may keep: a copy when small
   * (the storage stays reusable), else a view (`view`). Only with `handsOut`.
   */
  chunk(n: number): Buffer {
    if (n > COPY_MAX || !this.handsOut || !Number.isInteger(n) || n <= 0 || n > this.length) return this.view(n);
    const out = Buffer.allocUnsafe(n);
    out.set(this.buf!.subarray(this.head, this.head + n), 0);
    return out;
  }

  /** Frees the storage (the content is lost). */
  release(): void {
    this.drop();
    this.head = 0;
    this.length = 0;
  }

  /** Lets go of the storage, for the next ring when nothing can still read it. */
  private drop(): void {
    if (!this.handsOut) recycle(this.buf);
    // Storage that handed out views may still be read through them: it is never given to another ring.
    else if (!this.viewed && this.buf !== null && this.buf.length === MIN_ALLOCATION && spareViewable.length < MAX_SPARE) {
      spareViewable.push(this.buf as Buffer);
    }
    this.buf = null;
    this.viewed = false;
  }

  /**
   * (handsOut) Moves what may hold data (from the head to the furthest byte written) to fresh
   * storage with room for `needed` bytes from the head. Twice what is needed, and twice the old
   * size (up to twice maxCapacity): a connection that keeps receiving soon moves rarely and few
   * bytes (what is unread), one that receives little keeps small storage.
   */
  private relocate(needed: number): void {
    const want = Math.max(2 * needed, this.buf === null ? 0 : 2 * this.buf.length);
    let size = MIN_ALLOCATION;
    while (size < want && size < 2 * this.maxCapacity) size *= 2;
    if (size < needed) size = needed;
    // Uninitialised memory (or a spare's old bytes): only bytes written since are ever read or handed out.
    const next = size === MIN_ALLOCATION && spareViewable.length > 0 ? spareViewable.pop()! : Buffer.allocUnsafe(size);
    const old = this.buf;
    if (old) {
      const keep = Math.min(this.written - this.head, this.maxCapacity, size);
      if (keep > 0) next.set(old.subarray(this.head, this.head + keep), 0);
      this.written = Math.max(0, keep);
    } else {
      this.written = 0;
    }
    this.drop();
    this.buf = next;
    this.head = 0;
  }

  private ensure(needed: number): void {
    if (this.buf && this.buf.length >= needed) return;
    let size = this.buf ? this.buf.length : MIN_ALLOCATION;
    while (size < needed) size *= 2;
    if (size > this.maxCapacity) size = Math.max(this.maxCapacity, needed);
    // A recycled buffer is zeroed: no byte of another connection can ever show through.
    const next = size === MIN_ALLOCATION && spare.length > 0 ? spare.pop()!.fill(0) : new Uint8Array(size);
    const old = this.buf;
    if (old) {
      // Keep everything up to the furthest position that may hold data (reassembly may sit past `length`).
      const keep = old.length;
      const first = old.length - this.head;
      next.set(old.subarray(this.head), 0);
      if (first < keep) next.set(old.subarray(0, keep - first), first);
      recycle(old);
    }
    this.buf = next;
    this.head = 0;
  }
}
