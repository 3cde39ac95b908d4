import { Impairments, SimLink, SimNic, VirtualClock, localMac, readTestSeq, writeTestFrame } from '../../src';

export interface Arrival {
  seq: number;
  time: number;
  length: number;
}

export interface RunResult {
  arrivals: Arrival[];
  link: SimLink;
  a: SimNic;
  b: SimNic;
  /** Per arrival: the received bytes (only when `keepBytes`). */
  bytes: Uint8Array[];
}

export interface RunOptions {
  frames: number;
  /** Gap between transmissions (virtual ms). */
  spacing: number;
  /** Frame length, or a function of the sequence number. */
  length?: number | ((seq: number) => number);
  seed?: number;
  keepBytes?: boolean;
  mtu?: number;
  /** Called after each frame a sends (e.g. to send traffic the other way). */
  onEach?: (seq: number, r: RunResult) => void;
}

/** Sends `frames` test frames from a to b over a link with `aToB` impairments, in virtual time. */
export function runLink(aToB: Impairments, o: RunOptions): RunResult {
  const clock = new VirtualClock();
  const mtu = o.mtu ?? 1500;
  const a = new SimNic({ name: 'a', mac: localMac(1), clock, mtu });
  const b = new SimNic({ name: 'b', mac: localMac(2), clock, mtu });
  const link = new SimLink({ clock, seed: o.seed ?? 42, aToB });
  link.connect(a, b);
  const arrivals: Arrival[] = [];
  const bytes: Uint8Array[] = [];
  b.onReceive(() => {
    for (let f = b.rx.peek(); f !== null; f = b.rx.peek()) {
      arrivals.push({ seq: readTestSeq(f.data), time: f.timestamp, length: f.length });
      if (o.keepBytes) bytes.push(f.data.slice(0, f.length));
      b.rx.release();
    }
  });
  const result: RunResult = { arrivals, link, a, b, bytes };
  const buf = new Uint8Array(70_000);
  const lengthOf = typeof o.length === 'function' ? o.length : () => (o.length as number | undefined) ?? 64;
  for (let seq = 0; seq < o.frames; seq++) {
    clock.runUntil(seq * o.spacing);
    const len = writeTestFrame(buf, { dst: localMac(2), src: localMac(1), seq, length: lengthOf(seq) });
    a.transmit(buf, len);
    o.onEach?.(seq, result);
  }
  clock.runUntilIdle();
  return result;
}

/** Number of arrivals that come after a frame with a higher sequence number. */
export function outOfOrder(arrivals: Arrival[]): number {
  let max = -1;
  let n = 0;
  for (const a of arrivals) {
    if (a.seq < max) n++;
    else max = a.seq;
  }
  return n;
}
