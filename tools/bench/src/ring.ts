/**
 * The hot-path ring: frames per second through one FrameRing (push + peek +
 * release, one frame at a time, one thread) for 64- and 1514-byte frames, in
 * local and shared (Atomics) mode, and heap growth per million frames.
 *
 * Anchor: a plain JS array used as a queue of Buffers doing the same work:
 * copy the frame into a fresh Buffer, push it, shift it off, read it.
 */
import * as v8 from 'node:v8';
import { FrameRing } from '@pnet/nic';
import { BenchOptions, BenchRow, median, row } from './bench';

interface Queue {
  /** Moves `n` frames of `length` bytes through the queue; returns a checksum so the work is not optimized away. */
  move(frame: Uint8Array, length: number, n: number): number;
}

function ringQueue(shared: boolean): Queue {
  const ring = new FrameRing({ slots: 1024, slotSize: 1536, shared });
  return {
    move(frame, length, n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        ring.push(frame, length, i);
        const f = ring.peek()!;
        sum += f.data[f.length - 1] + f.length;
        ring.release();
      }
      return sum;
    },
  };
}

function arrayQueue(): Queue {
  const q: Buffer[] = [];
  return {
    move(frame, length, n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const b = Buffer.allocUnsafe(length);
        b.set(length === frame.length ? frame : frame.subarray(0, length));
        q.push(b);
        const f = q.shift()!;
        sum += f[f.length - 1] + f.length;
      }
      return sum;
    },
  };
}

function framesPerSecond(q: Queue, length: number, frames: number, runs: number): number {
  const frame = new Uint8Array(length).map((_, i) => i & 0xff);
  q.move(frame, length, Math.min(frames, 200_000)); // warm up (JIT)
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    sink += q.move(frame, length, frames);
    const ns = Number(process.hrtime.bigint() - t0);
    rates.push(frames / (ns / 1e9));
  }
  if (sink === -1) console.log(sink);
  return median(rates);
}

/**
 * Bytes the heap grows by per million frames. V8 collects garbage while we
 * run, so we sample the used heap every `STEP` frames and add up the rises
 * (a fall means a collection ran in that interval; that interval is left
 * out), then subtract what the sampling itself allocates.
 */
const STEP = 2000;
function heapGrowthPerMillion(q: Queue | null, length: number, frames: number): number {
  const frame = new Uint8Array(length);
  if (q) q.move(frame, length, 100_000);
  let grown = 0;
  let counted = 0;
  let prev = v8.getHeapStatistics().used_heap_size;
  for (let done = 0; done < frames; done += STEP) {
    if (q) q.move(frame, length, STEP);
    const now = v8.getHeapStatistics().used_heap_size;
    if (now >= prev) {
      grown += now - prev;
      counted += STEP;
    }
    prev = now;
  }
  return counted === 0 ? 0 : (grown / counted) * 1e6;
}

function heapRun(q: Queue | null, length: number, frames: number, runs: number): number {
  const values: number[] = [];
  for (let r = 0; r < runs; r++) values.push(heapGrowthPerMillion(q, length, frames));
  return median(values);
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const frames = opts.tiny ? 20_000 : opts.quick ? 500_000 : 5_000_000;
  const runs = opts.tiny ? 1 : opts.quick ? 3 : 7;
  const rows: BenchRow[] = [];
  const anchor = 'JS array queue of Buffers';
  for (const length of [64, 1514]) {
    const local = framesPerSecond(ringQueue(false), length, frames, runs);
    const shared = framesPerSecond(ringQueue(true), length, frames, runs);
    const array = framesPerSecond(arrayQueue(), length, frames, runs);
    rows.push(row(`ring push+peek+release, ${length} B`, local, 'frames/s', anchor, array));
    rows.push(row(`ring shared (Atomics), ${length} B`, shared, 'frames/s', anchor, array));
  }
  const heapFrames = opts.tiny ? 20_000 : opts.quick ? 500_000 : 2_000_000;
  const heapRuns = opts.tiny ? 1 : opts.quick ? 3 : 5;
  const baseline = heapRun(null, 64, heapFrames, heapRuns); // what the sampling itself allocates
  const ours = Math.max(0, heapRun(ringQueue(false), 64, heapFrames, heapRuns) - baseline);
  const theirs = Math.max(0, heapRun(arrayQueue(), 64, heapFrames, heapRuns) - baseline);
  rows.push(row('ring heap growth per 1M frames, 64 B', ours, 'bytes', anchor, theirs));
  return rows;
}
