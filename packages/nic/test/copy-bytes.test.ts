import test from 'ava';
import { allocateWasmBacked, copyBytes, copyBytesWithoutView, viewsMadeBy } from '../src';

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 0xff;
  return a;
}

test('copyBytes copies the range and nothing around it: loop and native sizes, Buffers, views at an offset, wasm memory', (t) => {
  const src = pattern(70000, 3);
  const targets = [new Uint8Array(70000), Buffer.alloc(70000), new Uint8Array(new ArrayBuffer(70100), 100), new Uint8Array(allocateWasmBacked(70000), 0, 70000)];
  for (const dst of targets) {
    for (const [from, at, n] of [[0, 0, 1], [5, 9, 64], [1, 2, 65], [66, 4003, 1448], [123, 0, 65483], [70000, 70000, 0]]) {
      dst.fill(0xee);
      copyBytes(src, from, dst, at, n);
      t.deepEqual(Array.from(dst.subarray(at, at + n)), Array.from(src.subarray(from, from + n)));
      t.true(dst.subarray(0, at).every((b) => b === 0xee) && dst.subarray(at + n).every((b) => b === 0xee), `${from} ${at} ${n}`);
    }
  }
});

test('copyBytes refuses a range past either end or a bad offset with a RangeError (a copy is exactly n bytes or an error)', (t) => {
  const src = new Uint8Array(100);
  const dst = new Uint8Array(200);
  for (const [from, at, n] of [[1, 0, 100], [0, 101, 100], [-1, 0, 10], [0, -1, 10], [0, 0, -1], [0.5, 0, 80], [0, 0, 80.5], [NaN, 0, 80]]) {
    t.throws(() => copyBytes(src, from, dst, at, n), { instanceOf: RangeError }, `${from} ${at} ${n}`);
  }
  t.true(dst.every((b) => b === 0));
});

test('copyBytes makes no view for a copy between two buffers under Node (the per-frame garbage it exists to avoid)', (t) => {
  t.true(copyBytesWithoutView, 'Node\'s buffer binding copy was not found');
  const src = Buffer.from(pattern(4096, 1));
  const dst = new Uint8Array(allocateWasmBacked(4096));
  t.is(viewsMadeBy(() => { for (let i = 0; i < 100; i++) copyBytes(src, i, dst, 1000 + i, 1448); }), 0);
  t.deepEqual(Array.from(dst.subarray(1099, 1099 + 1448)), Array.from(src.subarray(99, 99 + 1448)));
  // Without the binding (PNET_NO_NATIVE_COPY=1) the view is made: this test fails then.
});

test('copyBytes moves overlapping ranges of one array correctly, short and long', (t) => {
  for (const [from, at, n] of [[0, 3, 40], [3, 0, 40], [0, 100, 1448], [100, 0, 1448]]) {
    const a = pattern(4096, 5);
    const expected = Array.from(a);
    expected.splice(at, n, ...Array.from(a.subarray(from, from + n)));
    copyBytes(a, from, a, at, n);
    t.deepEqual(Array.from(a), expected, `${from} -> ${at}, ${n} bytes`);
  }
});
