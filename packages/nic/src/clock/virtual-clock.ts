import { Clock, TimerCallback, TimerHandle } from './clock';

/**
 * A discrete-event scheduler: events run in time order (ties in scheduling
 * order) and time jumps straight to the next event. Deterministic: the same
 * schedule always runs the same way.
 *
 * Storage is a struct-of-arrays binary heap over a pool of slots, so
 * scheduling allocates nothing in steady state.
 */
const SLOT_BITS = 2 ** 24;
// Handles start above the Smi range, so the fields and arithmetic that carry them are doubles from the
// first timer, not after enough slot reuse pushes them out of the Smi range mid-run (a deopt and a map change).
const HANDLE_BASE = 2 ** 32;
// Generations wrap below 2^28, so HANDLE_BASE + gen * SLOT_BITS + slot + 1 stays an exact integer (< 2^53).
const GEN_LIMIT = 2 ** 28;

export class VirtualClock implements Clock {
  // Starts as a double (virtual time is fractional): an integer first would make it a Smi/tagged field, so
  // each later store would box a number and the map change deoptimises code built for the first one.
  private time = 0.5;
  private seq = 0;
  private capacity = 0;
  private times = new Float64Array(0);
  private seqs = new Float64Array(0);
  private args = new Float64Array(0);
  private gens = new Uint32Array(0);
  private fns: (TimerCallback | null)[] = [];
  private heap = new Int32Array(0);
  private heapSize = 0;
  private freeSlots: number[] = [];
  private executed = 0;

  constructor(start = 0) {
    this.time = start;
    this.grow(64);
  }

  now(): number {
    return this.time;
  }

  /** Number of events waiting (cancelled ones are dropped lazily and may still count). */
  get pending(): number {
    return this.heapSize;
  }

  /** Total events run so far. */
  get eventsRun(): number {
    return this.executed;
  }

  schedule(at: number, fn: TimerCallback, arg = 0): TimerHandle {
    if (typeof fn !== 'function') throw new TypeError('VirtualClock.schedule: fn must be a function');
    if (Number.isNaN(at)) throw new RangeError('VirtualClock.schedule: time is NaN');
    if (this.freeSlots.length === 0) this.grow(this.capacity * 2);
    const slot = this.freeSlots.pop()!;
    this.times[slot] = at < this.time ? this.time : at;
    this.seqs[slot] = this.seq++;
    this.args[slot] = arg;
    this.fns[slot] = fn;
    this.heap[this.heapSize] = slot;
    this.siftUp(this.heapSize++);
    return HANDLE_BASE + this.gens[slot] * SLOT_BITS + slot + 1;
  }

  cancel(handle: TimerHandle): void {
    if (!(handle > HANDLE_BASE)) return;
    const slot = (handle - HANDLE_BASE - 1) % SLOT_BITS;
    const gen = Math.floor((handle - HANDLE_BASE - 1) / SLOT_BITS);
    if (slot >= this.capacity || this.gens[slot] !== gen || this.fns[slot] === null) return;
    // Lazy removal: the slot stays in the heap with no callback and is skipped when it surfaces.
    this.fns[slot] = null;
  }

  /** Time of the next live event, or Infinity. */
  nextEventTime(): number {
    this.dropCancelledTop();
    return this.heapSize > 0 ? this.times[this.heap[0]] : Infinity;
  }

  /** Runs the next event (advancing time to it). Returns false when none is left. */
  step(): boolean {
    this.dropCancelledTop();
    if (this.heapSize === 0) return false;
    const slot = this.popTop();
    const fn = this.fns[slot]!;
    const arg = this.args[slot];
    if (this.times[slot] > this.time) this.time = this.times[slot];
    this.release(slot);
    this.executed++;
    fn(arg);
    return true;
  }

  /** Runs every event due at or before `t`, then sets the time to `t`. */
  runUntil(t: number): void {
    for (;;) {
      const next = this.nextEventTime();
      if (next > t) break;
      this.step();
    }
    if (t > this.time) this.time = t;
  }

  /** Advances time by `ms`, running what falls due. */
  advance(ms: number): void {
    this.runUntil(this.time + ms);
  }

  /**
   * Runs events until none is left or time would pass `limit`. Returns the
   * number of events run. A guard against periodic timers that never end.
   */
  runUntilIdle(limit = Infinity, maxEvents = Infinity): number {
    let n = 0;
    while (n < maxEvents && this.nextEventTime() <= limit && this.step()) n++;
    return n;
  }

  /**
   * Drives asynchronous code in virtual time: runs one event at a time and lets
   * Node's own queues (promises, nextTick, setImmediate) settle between events,
   * until `done` settles. Rejects if virtual time passes `timeLimit` first.
   */
  async drive<T>(done: Promise<T>, timeLimit = this.time + 3_600_000): Promise<T> {
    let settled = false;
    let failure: unknown;
    let value!: T;
    let failed = false;
    done.then(
      (v) => { settled = true; value = v; },
      (e) => { settled = true; failed = true; failure = e; },
    );
    let idleYields = 0;
    while (!settled) {
      await yieldToEventLoop();
      if (settled) break;
      const next = this.nextEventTime();
      if (next === Infinity) {
        // Nothing scheduled: the awaited work may still be pending in real I/O.
        if (++idleYields > 10_000) throw new Error('VirtualClock.drive: no events left and the promise never settled');
        continue;
      }
      idleYields = 0;
      if (next > timeLimit) throw new Error(`VirtualClock.drive: virtual time limit ${timeLimit} ms reached`);
      // Run every event due at this instant before yielding again.
      const t = next;
      while (this.nextEventTime() === t) this.step();
    }
    if (failed) throw failure;
    return value;
  }

  private grow(n: number): void {
    const old = this.capacity;
    const times = new Float64Array(n); times.set(this.times); this.times = times;
    const seqs = new Float64Array(n); seqs.set(this.seqs); this.seqs = seqs;
    const args = new Float64Array(n); args.set(this.args); this.args = args;
    const gens = new Uint32Array(n); gens.set(this.gens); this.gens = gens;
    const heap = new Int32Array(n); heap.set(this.heap); this.heap = heap;
    for (let i = old; i < n; i++) this.fns.push(null);
    for (let i = n - 1; i >= old; i--) this.freeSlots.push(i);
    this.capacity = n;
  }

  private release(slot: number): void {
    this.fns[slot] = null;
    this.gens[slot] = (this.gens[slot] + 1) % GEN_LIMIT;
    this.freeSlots.push(slot);
  }

  private dropCancelledTop(): void {
    while (this.heapSize > 0 && this.fns[this.heap[0]] === null) this.release(this.popTop());
  }

  private less(a: number, b: number): boolean {
    const ta = this.times[a], tb = this.times[b];
    return ta < tb || (ta === tb && this.seqs[a] < this.seqs[b]);
  }

  private popTop(): number {
    const top = this.heap[0];
    const last = this.heap[--this.heapSize];
    if (this.heapSize > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const item = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = item;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = this.heapSize;
    const item = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.less(heap[child + 1], heap[child])) child++;
      if (!this.less(heap[child], item)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = item;
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
