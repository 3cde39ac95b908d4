/**
 * A byte ring buffer whose storage is allocated on first use and grown by doubling up to
 * `maxCapacity`, so idle connections cost no buffer memory. Positions are logical offsets from
 * the oldest byte; `writeAt` may place bytes past `length` (receive reassembly) as long as they
 * stay within `maxCapacity`.
 */
import * as nic from '@pnet/nic';

// Read once: `@pnet/nic` re-exports through getters, and the getter showed in bulk profiles (a call per copy).
const { copyBytes } = nic;

const MIN_ALLOCATION = 4096;

/**
 * First allocations given back by released rings, for the next ring to start with: short
 * connections take and drop two rings each, and a fresh ArrayBuffer per ring (allocation,
 * zeroing, the collector's external-memory accounting) was a fifth of a connection's CPU time.
 */
const spare: Uint8Array[] = [];
const MAX_SPARE = 64;

/**
 * (handsOut) The largest piece of receive storage: below glibc's mmap threshold (128 KiB), as
 * Node's own 64 KiB socket read buffers, so pieces that the views no longer hold go back to the
 * malloc heap and come out again without a system call or fresh pages. The single storage of
 * up to twice the window this replaces moved its unread bytes at its end (at MTU 65535 a third
 * of the data was copied twice) and its 512 KiB allocations kept touching fresh pages.
 */
const PIECE = 65536;
/** Shared by every ring that holds no pieces (send rings, idle connections): no array each. */
const NO_PIECES: Buffer[] = [];

/**
 * Gives `buf` to the spares, zeroed up to `dirty` (the bytes ever written into it): no byte of
 * another connection can ever show through, and a short connection's 32 bytes do not cost a
 * 4 KiB fill.
 */
function recycle(buf: Uint8Array | null, dirty: number): void {
  if (buf !== null && buf.length === MIN_ALLOCATION && spare.length < MAX_SPARE) spare.push(buf.fill(0, 0, dirty));
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
  /** buf[0..dirty) may hold bytes written since it was zeroed (the rest is zero). */
  private dirty = 0;
  /** Bytes from the head that are valid and contiguous. */
  length = 0;
  /** (handsOut) The storage, in order: pieces[0] holds the head (at `head`). */
  private pieces: Buffer[] = NO_PIECES;
  /** (handsOut) Bytes in `pieces`. */
  private stored = 0;
  /** (handsOut) A view of pieces[0] was handed out: it may never be reused (views come from it only). */
  private firstViewed = false;

  /**
   * `handsOut`: `view` may give bytes away as views of the storage (no copy). The storage is then
   * a list of pieces used linearly instead of wrapping: bytes below the head are never written
   * again, a piece is dropped (left to the views) once the head has passed it, and new pieces
   * are appended as data arrives, so nothing ever moves.
   */
  constructor(public maxCapacity: number, private readonly handsOut = false) {
    if (!Number.isInteger(maxCapacity) || maxCapacity < 1) throw new RangeError(`buffer size must be a positive integer, got ${maxCapacity}`);
  }

  /** Bytes currently allocated (0 until first use). */
  get allocated(): number {
    if (this.handsOut) return this.stored;
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
      this.writePieces(pos, src, offset, len);
      return;
    }
    this.ensure(pos + len);
    const buf = this.buf!;
    const cap = buf.length;
    let at = this.head + pos;
    if (at >= cap) at -= cap;
    const first = Math.min(len, cap - at);
    copyBytes(src, offset, buf, at, first);
    if (first < len) {
      copyBytes(src, offset + first, buf, 0, len - first);
      this.dirty = cap;
    } else if (at + first > this.dirty) this.dirty = at + first;
  }

  /** Copies `len` bytes starting at logical position `pos` into dst[dstOffset..]. */
  copyOut(pos: number, dst: Uint8Array, dstOffset: number, len: number): void {
    if (len <= 0) return;
    if (this.handsOut) {
      this.copyPieces(pos, dst, dstOffset, len);
      return;
    }
    const buf = this.buf!;
    const cap = buf.length;
    let at = this.head + pos;
    if (at >= cap) at -= cap;
    const first = Math.min(len, cap - at);
    copyBytes(buf, at, dst, dstOffset, first);
    if (first < len) copyBytes(buf, 0, dst, dstOffset + first, len - first);
  }

  /** Drops `n` bytes from the head. Frees the storage when the ring becomes empty and `release` is set. */
  consume(n: number, release = false): void {
    if (n <= 0) return;
    if (n > this.length) n = this.length;
    this.length -= n;
    if (this.handsOut) {
      this.head += n;
      const pieces = this.pieces;
      // A piece the head has passed is never written again: what still views it keeps it alive.
      while (pieces.length > 0 && this.head >= pieces[0].length) {
        this.head -= pieces[0].length;
        this.stored -= pieces[0].length;
        this.dropFirstPiece();
      }
    } else if (this.buf) {
      this.head += n;
      if (this.head >= this.buf.length) this.head -= this.buf.length;
    }
    // Bytes past `length` (receive reassembly) stay where they are relative to the head.
    if (this.length === 0 && release) this.release();
  }

  /**
   * The first `n` stored bytes (n <= length) as a Buffer viewing the storage, no copy. Only with
   * `handsOut`, where the view stays valid after `consume`: those bytes are never written again.
   * Bytes that span two pieces are copied into a fresh Buffer (`contiguous` says how many do not).
   */
  view(n: number): Buffer {
    if (!this.handsOut) throw new Error('ByteRing.view: needs a ring made with handsOut');
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new RangeError(`ByteRing.view: ${n} of ${this.length} bytes`);
    if (n === 0) return Buffer.alloc(0);
    const first = this.pieces[0];
    if (this.head + n <= first.length) {
      this.firstViewed = true;
      return first.subarray(this.head, this.head + n);
    }
    const copy = Buffer.allocUnsafe(n);
    this.copyPieces(0, copy, 0, n);
    return copy;
  }

  /** (handsOut) How many of the first `length` bytes `view` can give without a copy. */
  get contiguous(): number {
    if (this.length === 0) return 0;
    return Math.min(this.length, this.pieces[0].length - this.head);
  }

  /**
   * The first `n` stored bytes (n <= length) as a Buffer the caller may keep: a copy when small
   * (the storage stays reusable), else a view (`view`). Only with `handsOut`.
   */
  chunk(n: number): Buffer {
    if (n > COPY_MAX || !this.handsOut || !Number.isInteger(n) || n <= 0 || n > this.length) return this.view(n);
    const out = Buffer.allocUnsafe(n);
    this.copyPieces(0, out, 0, n);
    return out;
  }

  /** Frees the storage (the content is lost). */
  release(): void {
    // Storage that handed out views may still be read through them: it is never given to another ring.
    if (!this.handsOut) recycle(this.buf, this.dirty);
    this.buf = null;
    this.dirty = 0;
    if (this.handsOut) {
      if (this.pieces.length > 0) this.dropFirstPiece();
      this.pieces = NO_PIECES;
      this.stored = 0;
    }
    this.head = 0;
    this.length = 0;
  }

  /**
   * (handsOut) Lets go of pieces[0]: to the next receive ring when no view of it was ever taken
   * (only the first, small piece of a connection is worth keeping), else to the views.
   */
  private dropFirstPiece(): void {
    const p = this.pieces.shift()!;
    if (!this.firstViewed && p.length === MIN_ALLOCATION && spareViewable.length < MAX_SPARE) spareViewable.push(p);
    this.firstViewed = false;
  }

  /**
   * Raises `maxCapacity` (receive auto-tuning). Nothing moves now: storage grows as bytes arrive,
   * keeping every byte (with `handsOut`, in new pieces: bytes handed out as views are never
   * rewritten).
   */
  grow(maxCapacity: number): void {
    if (!Number.isInteger(maxCapacity) || maxCapacity < this.maxCapacity) {
      throw new RangeError(`ByteRing.grow: ${maxCapacity} is not an integer >= the capacity ${this.maxCapacity}`);
    }
    this.maxCapacity = maxCapacity;
  }

  /** (handsOut) Stores bytes at logical position `pos`, appending pieces as needed. */
  private writePieces(pos: number, src: Uint8Array, offset: number, len: number): void {
    if (this.pieces === NO_PIECES) this.pieces = [];
    const pieces = this.pieces;
    const end = pos + len;
    // `room`: logical bytes from the head to the end of the last piece.
    let room = this.stored - this.head;
    while (room < end) {
      // Small first pieces for connections that receive little; then PIECE each.
      const size = pieces.length === 0 ? MIN_ALLOCATION : Math.min(PIECE, 2 * pieces[pieces.length - 1].length);
      // Uninitialised memory (or a spare's old bytes): only bytes written since are ever read or handed out.
      pieces.push(size === MIN_ALLOCATION && spareViewable.length > 0 ? spareViewable.pop()! : Buffer.allocUnsafe(size));
      this.stored += size;
      room += size;
    }
    // Data lands near the end (in order, or a little past a hole): search from the last piece.
    let i = pieces.length - 1;
    let start = room - pieces[i].length;
    while (start > pos) start -= pieces[--i].length;
    this.movePieces(i, pos - start, src, offset, len, true);
  }

  /** (handsOut) Copies `len` bytes from logical position `pos` into dst[dstOffset..]. */
  private copyPieces(pos: number, dst: Uint8Array, dstOffset: number, len: number): void {
    const pieces = this.pieces;
    let i = 0;
    let at = this.head + pos;
    while (at >= pieces[i].length) at -= pieces[i++].length;
    this.movePieces(i, at, dst, dstOffset, len, false);
  }

  /** (handsOut) Copies `len` bytes between `other` and the pieces from piece `i` at `at` on: into them when `into`, else out. */
  private movePieces(i: number, at: number, other: Uint8Array, offset: number, len: number, into: boolean): void {
    const pieces = this.pieces;
    while (len > 0) {
      const p = pieces[i++];
      const n = Math.min(len, p.length - at);
      if (into) copyBytes(other, offset, p, at, n);
      else copyBytes(p, at, other, offset, n);
      offset += n;
      len -= n;
      at = 0;
    }
  }

  private ensure(needed: number): void {
    if (this.buf && this.buf.length >= needed) return;
    let size = this.buf ? this.buf.length : MIN_ALLOCATION;
    while (size < needed) size *= 2;
    if (size > this.maxCapacity) size = Math.max(this.maxCapacity, needed);
    // A spare was zeroed when it was given back (`recycle`).
    const next = size === MIN_ALLOCATION && spare.length > 0 ? spare.pop()! : new Uint8Array(size);
    const old = this.buf;
    if (old) {
      // Keep everything up to the furthest position that may hold data (reassembly may sit past `length`).
      const keep = old.length;
      const first = old.length - this.head;
      next.set(old.subarray(this.head), 0);
      if (first < keep) next.set(old.subarray(0, keep - first), first);
      recycle(old, this.dirty);
      this.dirty = keep;
    }
    this.buf = next;
    this.head = 0;
  }
}
