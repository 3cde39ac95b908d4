import test from 'ava';
import { FramePool, FrameRing, SimNic, VirtualClock, allocateWasmBacked, localMac, wasmMemoryOf } from '../src';

test('allocateWasmBacked: a zeroed buffer of whole wasm pages that wasmMemoryOf finds; plain buffers are not found', (t) => {
  const buf = allocateWasmBacked(70000);
  t.is(buf.byteLength, 2 * 65536);
  t.true(new Uint8Array(buf).every((b) => b === 0));
  const memory = wasmMemoryOf(buf);
  t.not(memory, undefined);
  t.is(memory!.buffer, buf);
  t.is(wasmMemoryOf(new ArrayBuffer(70000)), undefined);
  t.is(wasmMemoryOf(new SharedArrayBuffer(64)), undefined);
  t.is(allocateWasmBacked(0).byteLength, 0);
  t.throws(() => allocateWasmBacked(-1), { instanceOf: RangeError });
  t.throws(() => allocateWasmBacked(1.5), { instanceOf: RangeError });
});

test('FramePool: pooled, lent and grown (jumbo) buffers all live in wasm memory', (t) => {
  const pool = new FramePool(1518, 2);
  const frame = new Uint8Array(1500).fill(7);
  const handles = [pool.store(frame, 1500), pool.store(frame, 1500), pool.store(frame, 1500)]; // the third grows the pool
  for (const h of handles) {
    const buf = pool.buffer(h);
    t.not(wasmMemoryOf(buf.buffer), undefined);
    t.is(buf.length, 1518);
    t.is(buf.byteOffset % 64, 0);
    t.deepEqual(buf.subarray(0, 1500), frame);
  }
  const jumbo = new Uint8Array(9000).fill(3);
  const j = pool.store(jumbo, 9000);
  t.not(wasmMemoryOf(pool.buffer(j).buffer), undefined);
  t.deepEqual(pool.buffer(j).subarray(0, 9000), jumbo);
  const lent = pool.lend(65549);
  t.true(lent.length >= 65549);
  t.not(wasmMemoryOf(lent.buffer), undefined);
});

test('FrameRing: wasmMemory puts an unshared ring in wasm memory; SimNic receive rings are there unless told otherwise', (t) => {
  t.not(wasmMemoryOf(new FrameRing({ slots: 4, slotSize: 1514, wasmMemory: true }).buffer), undefined);
  t.is(wasmMemoryOf(new FrameRing({ slots: 4, slotSize: 1514 }).buffer), undefined);
  const clock = new VirtualClock();
  t.not(wasmMemoryOf(new SimNic({ name: 'a', mac: localMac(1), clock }).rx.buffer), undefined);
  t.is(wasmMemoryOf(new SimNic({ name: 'b', mac: localMac(2), clock, wasmRing: false }).rx.buffer), undefined);
  // The ring works as before over the rounded-up buffer.
  const ring = new FrameRing({ slots: 4, slotSize: 100, wasmMemory: true });
  t.true(ring.push(new Uint8Array([1, 2, 3]), 3, 5));
  const view = ring.peek()!;
  t.deepEqual([...view.data.subarray(0, view.length)], [1, 2, 3]);
});
