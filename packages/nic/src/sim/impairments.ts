/**
 * What a simulated medium does to frames in one direction. Every option is
 * off by default; probabilities are per frame, times are milliseconds on the
 * medium's clock. All randomness comes from the medium's seeded Rng, drawn in
 * a fixed order, so one seed and one configuration replay byte for byte.
 *
 * A frame goes through the stages in this order:
 *   MTU check -> scripted drops -> i.i.d. loss -> Gilbert-Elliott loss ->
 *   rate limit (drop-tail queue) -> duplication -> per copy: corruption,
 *   delay + jitter (+ keepOrder), reordering -> delivery.
 */
export interface Impairments {
  /** One-way latency added to every frame (ms). Default 0. */
  delay?: number;
  /** Uniform jitter: each frame's delay is `delay ± jitter` (never below 0). Default 0. */
  jitter?: number;
  /** With jitter, never let a frame arrive before an earlier one (it waits instead). Default false. */
  keepOrder?: boolean;
  /** Independent loss probability per frame, 0..1. */
  loss?: number;
  /** Bursty loss: a two-state Markov chain (Gilbert-Elliott). */
  gilbertElliott?: GilbertElliott;
  /** Probability that a frame is delivered twice. */
  duplicate?: number;
  /** Probability that a frame gets one random bit flipped. */
  corrupt?: number;
  /** First byte a corruption may touch (default 0; e.g. 42 to spare Ethernet/IPv4/UDP headers). */
  corruptFrom?: number;
  /** Probability that a frame is held back by `reorderGap` so later frames overtake it. */
  reorder?: number;
  /** How long a reordered frame is held back (ms). Default 1. */
  reorderGap?: number;
  /** Line rate in bits per second; frames queue behind each other (default: unlimited). */
  rate?: number;
  /** Drop-tail limit of the rate limiter's queue in frames, the one on the wire included. Default 1000. */
  queuePackets?: number;
  /** Drop-tail limit of the rate limiter's queue in bytes. Default unlimited. */
  queueBytes?: number;
  /** Largest Ethernet payload (bytes after the header and any 802.1Q tag) the medium carries. */
  mtu?: number;
  /** Indices (0 = the first frame offered in this direction) of frames to drop, whatever else happens. */
  dropFrames?: readonly number[];
}

/**
 * Gilbert-Elliott loss: in state Good a frame is lost with `lossGood`, in Bad
 * with `lossBad`; after each frame the state flips Good->Bad with `p` and
 * Bad->Good with `r`. Long-run loss = (r*lossGood + p*lossBad) / (p + r);
 * mean burst (Bad sojourn) = 1/r frames.
 */
export interface GilbertElliott {
  p: number;
  r: number;
  /** Loss probability in Good (default 0). */
  lossGood?: number;
  /** Loss probability in Bad (default 1). */
  lossBad?: number;
}

/** What the impairments did, per direction. */
export interface ImpairmentStats {
  /** Frames handed to this direction. */
  offered: number;
  /** Frames (copies included) handed to the far end. */
  delivered: number;
  deliveredBytes: number;
  /** Frames lost because nothing was listening when they arrived (link down, port unplugged). */
  droppedNoCarrier: number;
  droppedMtu: number;
  droppedScripted: number;
  /** Dropped by i.i.d. loss. */
  droppedLoss: number;
  /** Dropped by Gilbert-Elliott loss. */
  droppedBurst: number;
  /** Dropped at the tail of a full rate-limiter queue. */
  droppedQueue: number;
  /** Extra copies made. */
  duplicated: number;
  /** Copies with a flipped bit. */
  corrupted: number;
  /** Copies held back to be overtaken. */
  reordered: number;
  /** Copies that waited because of keepOrder. */
  heldForOrder: number;
  /** Highest rate-limiter queue occupancy seen, in frames and bytes. */
  queuePeakPackets: number;
  queuePeakBytes: number;
}

export function newImpairmentStats(): ImpairmentStats {
  return {
    offered: 0, delivered: 0, deliveredBytes: 0, droppedNoCarrier: 0, droppedMtu: 0, droppedScripted: 0,
    droppedLoss: 0, droppedBurst: 0, droppedQueue: 0, duplicated: 0, corrupted: 0, reordered: 0, heldForOrder: 0,
    queuePeakPackets: 0, queuePeakBytes: 0,
  };
}

/** A validated, fully defaulted configuration (internal to the media). */
export interface ResolvedImpairments {
  delay: number;
  jitter: number;
  keepOrder: boolean;
  loss: number;
  ge: { p: number; r: number; lossGood: number; lossBad: number } | null;
  duplicate: number;
  corrupt: number;
  corruptFrom: number;
  reorder: number;
  reorderGap: number;
  rate: number;
  queuePackets: number;
  queueBytes: number;
  mtu: number;
  dropFrames: ReadonlySet<number>;
}

/** Checks a configuration and fills in the defaults; throws a clear RangeError on bad values. */
export function resolveImpairments(imp: Impairments = {}, defaults: Impairments = {}): ResolvedImpairments {
  const v = { ...defaults, ...imp };
  const ge = v.gilbertElliott;
  const dropFrames = new Set<number>();
  for (const n of v.dropFrames ?? []) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`impairments: dropFrames holds ${n}; indices are integers >= 0`);
    dropFrames.add(n);
  }
  return {
    delay: nonNegative('delay', v.delay ?? 0),
    jitter: nonNegative('jitter', v.jitter ?? 0),
    keepOrder: v.keepOrder ?? false,
    loss: probability('loss', v.loss ?? 0),
    ge: ge
      ? {
        p: probability('gilbertElliott.p', ge.p),
        r: probability('gilbertElliott.r', ge.r),
        lossGood: probability('gilbertElliott.lossGood', ge.lossGood ?? 0),
        lossBad: probability('gilbertElliott.lossBad', ge.lossBad ?? 1),
      }
      : null,
    duplicate: probability('duplicate', v.duplicate ?? 0),
    corrupt: probability('corrupt', v.corrupt ?? 0),
    corruptFrom: integerAtLeast('corruptFrom', v.corruptFrom ?? 0, 0),
    reorder: probability('reorder', v.reorder ?? 0),
    reorderGap: nonNegative('reorderGap', v.reorderGap ?? 1),
    rate: v.rate === undefined ? Infinity : positive('rate', v.rate),
    queuePackets: v.queuePackets === undefined ? 1000 : integerAtLeast('queuePackets', v.queuePackets, 1),
    queueBytes: v.queueBytes === undefined ? Infinity : positive('queueBytes', v.queueBytes),
    mtu: v.mtu === undefined ? Infinity : integerAtLeast('mtu', v.mtu, 1),
    dropFrames,
  };
}

/** Ethernet payload length: the frame minus its 14-byte header and one 802.1Q tag if present. */
export function ethernetPayloadLength(frame: Uint8Array, length: number): number {
  const tagged = length >= 18 && frame[12] === 0x81 && frame[13] === 0x00;
  return length - (tagged ? 18 : 14);
}

function probability(name: string, x: number): number {
  if (typeof x !== 'number' || !(x >= 0 && x <= 1)) throw new RangeError(`impairments: ${name} must be a probability from 0 to 1, got ${x}`);
  return x;
}

function nonNegative(name: string, x: number): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new RangeError(`impairments: ${name} must be a finite number >= 0, got ${x}`);
  return x;
}

function positive(name: string, x: number): number {
  if (typeof x !== 'number' || !(x > 0)) throw new RangeError(`impairments: ${name} must be a number > 0, got ${x}`);
  return x;
}

function integerAtLeast(name: string, x: number, min: number): number {
  if (!Number.isInteger(x) || x < min) throw new RangeError(`impairments: ${name} must be an integer >= ${min}, got ${x}`);
  return x;
}
