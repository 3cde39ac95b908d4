import test from 'ava';
import { median, row } from '../src/bench';
import { modules, table } from '../src/main';

test('median of odd and even counts, unsorted input left alone', (t) => {
  const v = [5, 1, 3];
  t.is(median(v), 3);
  t.deepEqual(v, [5, 1, 3]);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.throws(() => median([]));
});

test('row computes ours/anchor', (t) => {
  t.deepEqual(row('x', 30, 'frames/s', 'y', 10), { name: 'x', value: 30, unit: 'frames/s', anchor: 'y', anchorValue: 10, ratio: 3 });
  t.is(row('x', 0, 'B', 'y', 0).ratio, 1);
});

test('every listed benchmark module loads and exports run()', async (t) => {
  t.true(modules.length >= 1);
  const names = new Set<string>();
  for (const m of modules) {
    t.false(names.has(m.name), `duplicate module name ${m.name}`);
    names.add(m.name);
    const mod = await m.load();
    t.is(typeof mod.run, 'function', m.name);
  }
});

test('the table aligns every column', (t) => {
  const out = table([row('short', 1e6, 'frames/s', 'a', 2e6), row('a much longer name', 12.5, 'bytes', 'anchor two', 100)]);
  const lines = out.split('\n');
  t.is(lines.length, 4);
  t.true(lines.every((l) => l.length === lines[0].length));
  t.regex(lines[2], /1\.00 M/);
});
