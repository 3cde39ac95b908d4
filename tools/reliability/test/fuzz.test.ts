/**
 * A short run of every fuzz target (`pnpm fuzz` runs a million cases each). Most parsers already have property
 * tests in packages/<name>/test; the WebSocket frame reader and the HTTP parser fed random bytes in random pieces are
 * new here, the rest is the same harness at a small size so a broken target fails `pnpm test`.
 */
import test from 'ava';
import fc from 'fast-check';
import { fuzzTargets } from '../src/fuzz-targets';

for (const target of fuzzTargets()) {
  test(`fuzz (short): ${target.name} never throws`, (t) => {
    fc.assert(target.property, { numRuns: 500, seed: 20261127 });
    t.pass();
  });
}
