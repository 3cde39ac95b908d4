import test from 'ava';
import { Worker } from 'node:worker_threads';
import { FrameRing } from '../src';

test('shared ring: the doorbell is not rung while no consumer waits', (t) => {
  const ring = new FrameRing({ slots: 8, slotSize: 64, shared: true });
  const { array, index } = ring.doorbell;
  const before = Atomics.load(array, index);
  for (let i = 0; i < 5; i++) ring.push(new Uint8Array(60), 60, i);
  t.is(Atomics.load(array, index), before);
  t.is(ring.size, 5);
});

test('shared ring: waitForFrames returns at once when frames are queued, times out when none come', (t) => {
  const ring = new FrameRing({ slots: 8, slotSize: 64, shared: true });
  t.false(ring.waitForFrames(1));
  ring.push(new Uint8Array(60), 60, 0);
  t.true(ring.waitForFrames(0));
  const local = new FrameRing({ slots: 8, slotSize: 64 });
  t.false(local.waitForFrames(1000)); // a local ring never blocks
});

test('shared ring: a consumer sleeping in waitForFramesAsync is woken for every burst a worker produces', async (t) => {
  const ring = new FrameRing({ slots: 16, slotSize: 64, shared: true });
  const total = 3000;
  const worker = new Worker(
    `
    const { workerData } = require('node:worker_threads');
    require('ts-node').register({ transpileOnly: true });
    const { FrameRing } = require(workerData.ringPath);
    const ring = FrameRing.attach(workerData.buffer, { slots: 16, slotSize: 64 });
    const nap = new Int32Array(new SharedArrayBuffer(4));
    let sent = 0;
    while (sent < workerData.total) {
      const slot = ring.reserve();
      if (!slot) { Atomics.wait(nap, 0, 0, 0.05); continue; }
      slot[0] = sent & 0xff; slot[1] = (sent >> 8) & 0xff;
      ring.commit(60, sent);
      sent++;
      // Pause now and then so the consumer goes to sleep and must be woken.
      if (sent % 100 === 0) Atomics.wait(nap, 0, 0, 2);
    }
    `,
    { eval: true, workerData: { buffer: ring.buffer, total, ringPath: require.resolve('../src/ring/frame-ring') } },
  );
  let workerError: unknown = null;
  let exited = false;
  worker.on('error', (e) => { workerError = e; });
  worker.on('exit', () => { exited = true; });
  let got = 0;
  let bad = 0;
  let waits = 0;
  // No deadline: a slow machine only makes this slower. A worker that dies ends the loop.
  while (got < total && !(exited && ring.size === 0)) {
    if (!(await ring.waitForFramesAsync(1000))) continue;
    waits++;
    for (let f = ring.peek(); f; f = ring.peek()) {
      if ((f.data[0] | (f.data[1] << 8)) !== (got & 0xffff) || f.timestamp !== got) bad++;
      got++;
      ring.release();
    }
  }
  await worker.terminate();
  t.is(workerError, null);
  t.is(got, total);
  t.is(bad, 0);
  t.true(waits > 1);
});
