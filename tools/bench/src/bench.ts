/** One figure of a benchmark, beside the figure of its anchor (a simple, well-known way to do the same work). */
export interface BenchRow {
  /** What was measured, e.g. "ring push+peek+release, 64 B". */
  name: string;
  /** Our figure (the median of several runs). */
  value: number;
  unit: string;
  /** What we compare against, e.g. "JS array queue of Buffers". */
  anchor: string;
  /** The anchor's figure, measured in the same run, same unit. */
  anchorValue: number;
  /** value / anchorValue. */
  ratio: number;
}

export interface BenchOptions {
  /** A short run (fewer and smaller repetitions) for smoke checks. */
  quick: boolean;
  /** Tiny sizes and a single run: only checks that a module works (the harness test). Implies quick. */
  tiny?: boolean;
}

/** What every benchmark module exports. */
export type BenchRun = (opts: BenchOptions) => Promise<BenchRow[]>;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The arguments of the bulk measurement tools: `[count] [MiB] [mtu...]` (argv[2..]), a bad number
 * refused rather than turned into NaN runs.
 */
export function bulkToolArgs(argv: readonly string[], defaultCount: number): { count: number; mib: number; mtus: number[]; bytes: number; gib: number } {
  const count = Number(argv[2] ?? defaultCount);
  const mib = Number(argv[3] ?? 64);
  const mtus = argv.length > 4 ? argv.slice(4).map(Number) : [1500, 65535];
  for (const [what, v] of [['count', count], ['MiB', mib], ...mtus.map((m) => ['MTU', m] as const)] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  }
  return { count, mib, mtus, bytes: mib * 2 ** 20, gib: mib / 1024 };
}

export function row(name: string, value: number, unit: string, anchor: string, anchorValue: number): BenchRow {
  return { name, value, unit, anchor, anchorValue, ratio: anchorValue === 0 ? (value === 0 ? 1 : Infinity) : value / anchorValue };
}
