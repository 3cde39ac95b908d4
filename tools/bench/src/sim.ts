/**
 * Simulated media: frames per second from one SimNic to another over a
 * SimLink in virtual time (transmit, impairments, scheduled delivery, receive
 * ring, drain), and heap growth per million frames.
 *
 * Anchor: the same transfer done the obvious way on the same VirtualClock:
 * copy each frame into a fresh Buffer and schedule a closure that delivers it
 * into the receiver's ring.
 */
import * as v8 from 'node:v8';
import { FrameRing, Impairments, SimLink, SimNic, VirtualClock, localMac, writeTestFrame } from '@pnet/nic';
import { BenchOptions, BenchRow, median, row } from './bench';

type Transfer = (frames: number) => void;

function simLink(imp: Impairments): Transfer {
  const clock = new VirtualClock();
  const a = new SimNic({ name: 'a', mac: localMac(1), clock });
  const b = new SimNic({ name: 'b', mac: localMac(2), clock });
  new SimLink({ clock, seed: 1, aToB: { delay: 0.5, ...imp } }).connect(a, b);
  b.onReceive(() => { for (let f = b.rx.peek(); f !== null; f = b.rx.peek()) b.rx.release(); });
  const buf = new Uint8Array(64);
  const len = writeTestFrame(buf, { src: localMac(1), dst: localMac(2), seq: 1, length: 64 });
  return (frames) => {
    const t0 = clock.now();
    for (let i = 0; i < frames; i++) {
      if ((i & 63) === 0) clock.runUntil(t0 + i * 0.001);
      a.transmit(buf, len);
    }
    clock.runUntilIdle();
  };
}

function closurePerFrame(): Transfer {
  const clock = new VirtualClock();
  const rx = new FrameRing({ slots: 1024, slotSize: 1536 });
  const buf = new Uint8Array(64);
  const len = writeTestFrame(buf, { src: localMac(1), dst: localMac(2), seq: 1, length: 64 });
  const drain = () => { for (let f = rx.peek(); f !== null; f = rx.peek()) rx.release(); };
  return (frames) => {
    const t0 = clock.now();
    for (let i = 0; i < frames; i++) {
      if ((i & 63) === 0) clock.runUntil(t0 + i * 0.001);
      const copy = Buffer.from(buf.subarray(0, len));
      clock.schedule(clock.now() + 0.5, () => { rx.push(copy, copy.length, clock.now()); drain(); });
    }
    clock.runUntilIdle();
  };
}

function rate(make: () => Transfer, frames: number, runs: number): number {
  const go = make();
  go(Math.min(frames, 100_000));
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    go(frames);
    rates.push(frames / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return median(rates);
}

/** Rises of the used heap summed over steps of STEP frames (a fall means a GC ran: that step is left out). */
const STEP = 2000;
function heapPerMillion(make: (() => Transfer) | null, frames: number): number {
  const go = make ? make() : null;
  go?.(100_000);
  let grown = 0, counted = 0;
  let prev = v8.getHeapStatistics().used_heap_size;
  for (let done = 0; done < frames; done += STEP) {
    go?.(STEP);
    const now = v8.getHeapStatistics().used_heap_size;
    if (now >= prev) { grown += now - prev; counted += STEP; }
    prev = now;
  }
  return counted === 0 ? 0 : (grown / counted) * 1e6;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const frames = opts.tiny ? 10_000 : opts.quick ? 200_000 : 1_000_000;
  const runs = opts.tiny ? 1 : opts.quick ? 3 : 5;
  const anchor = 'closure + Buffer copy per frame';
  const anchorRate = rate(closurePerFrame, frames, runs);
  const rows = [
    row('SimLink a->b, 64 B, 0.5 ms delay', rate(() => simLink({}), frames, runs), 'frames/s', anchor, anchorRate),
    row('SimLink a->b, 64 B, loss+jitter+dup', rate(() => simLink({ loss: 0.01, jitter: 0.1, keepOrder: true, duplicate: 0.01 }), frames, runs), 'frames/s', anchor, anchorRate),
  ];
  const heapFrames = opts.tiny ? 10_000 : opts.quick ? 200_000 : 1_000_000;
  const h = (m: (() => Transfer) | null) => median([0, 1, 2].map(() => heapPerMillion(m, heapFrames)));
  const base = h(null);
  rows.push(row('SimLink heap growth per 1M frames, 64 B', Math.max(0, h(() => simLink({})) - base), 'bytes', anchor, Math.max(0, h(closurePerFrame) - base)));
  return rows;
}
