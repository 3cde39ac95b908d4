import test, { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where tshark is, or null. */
export const TSHARK: string | null = (() => {
  if (fs.existsSync('/usr/bin/tshark')) return '/usr/bin/tshark';
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'tshark');
    if (dir && fs.existsSync(p)) return p;
  }
  return null;
})();

/**
 * Registers a test that needs tshark. Without tshark it is skipped with a loud
 * reason, unless CI=true, where a missing tshark is a failure.
 */
export function tsharkTest(title: string, fn: (t: ExecutionContext, tshark: string) => void | Promise<void>): void {
  if (TSHARK) {
    test(title, (t) => fn(t, TSHARK!));
  } else if (process.env.CI === 'true') {
    test(title, (t) => t.fail('tshark is required with CI=true but was not found (install the tshark package)'));
  } else {
    console.warn(`\n*** SKIPPING "${title}": tshark not found (apt-get install tshark). With CI=true this fails. ***\n`);
    test.skip(title, () => {});
  }
}

export interface TsharkVerdict {
  /** Frames tshark read. */
  frames: number;
  /** Frame lengths tshark reports, in file order. */
  lengths: number[];
  /** Lines of the expert report that mention malformed packets or errors (should be empty). */
  problems: string[];
  /** The whole expert report. */
  expert: string;
}

/** Reads a capture with tshark: frame lengths, and the expert report checked for malformed packets and errors. */
export function tsharkVerdict(tshark: string, file: string): TsharkVerdict {
  const run = (args: string[]): string => {
    const r = spawnSync(tshark, ['-n', '-r', file, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const fields = run(['-T', 'fields', '-e', 'frame.len']);
  const lengths = fields.split('\n').filter((l) => l.trim() !== '').map((l) => Number(l));
  const expert = run(['-q', '-z', 'expert']);
  const problems = expert.split('\n').filter((l) => /malformed|^\s*errors\s*\(/i.test(l));
  return { frames: lengths.length, lengths, problems, expert };
}
