/**
 * The TAP worker thread (TapNic worker mode). It owns a duplicate of the TAP
 * fd: the addon's uv_poll (on this thread's loop) reads frames straight into
 * free slots of the shared rx ring, and their lengths into a shared array;
 * the stack's thread then commits them to the ring (so it counts, taps and
 * stamps each frame before any consumer can see it). The worker never moves
 * the ring's indices: it only fills slots that are free, i.e. not yet handed
 * over (`written - accounted`) and not queued (`rx.size`). Frames the stack
 * transmits arrive in the shared tx ring and are written out. Counters and
 * link state cross in a small Int32 block.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { constants as osConstants } from 'node:os';
import { FrameRing } from '../ring/frame-ring';
import type { TapAddon } from './addon';
import { READ_BUDGET } from './tap-reader';
import { RingLayout } from './ring-layout';
import {
  STAT_ACCOUNTED, STAT_ADMIN_UP, STAT_BELL, STAT_CARRIER, STAT_ERRNO, STAT_RX_BAD, STAT_RX_DROPS, STAT_TX_DROPS, STAT_TX_ERRORS,
  STAT_WRITTEN, TapWorkerData,
} from './worker-protocol';

const { EAGAIN, ENOBUFS } = osConstants.errno;
const data = workerData as TapWorkerData;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = require(data.addonPath) as TapAddon;
const stats = new Int32Array(data.stats);
const rx = FrameRing.attach(data.rxBuffer, { slots: data.rxSlots, slotSize: data.rxSlotSize });
const tx = FrameRing.attach(data.txBuffer, { slots: data.txSlots, slotSize: data.txSlotSize });
const handle = addon.adopt(data.fd);
const slotLengths = new Int32Array(data.lengths);
const layout = new RingLayout(rx);
const mask = rx.slots - 1;
const batchLengths = new Int32Array(Math.min(rx.slots, READ_BUDGET));
const status = new Int32Array(3);
addon.bindRing(handle, new Uint8Array(rx.buffer), layout.dataOffset, layout.stride, rx.slotSize, rx.slots, 14);
let written = 0; // frames written into slots, ever (uint32)
let open = true;

function fail(errno: number): void {
  Atomics.store(stats, STAT_ERRNO, errno);
  Atomics.store(stats, STAT_CARRIER, 0);
  ringMain();
  shutdown();
}

/** Wakes the main thread after the stats moved (once per batch: Atomics.notify is not free). */
function ringMain(): void {
  Atomics.add(stats, STAT_BELL, 1);
  Atomics.notify(stats, STAT_BELL);
}

function onReadable(pollStatus: number): void {
  if (!open) return;
  if (pollStatus < 0) {
    fail(-pollStatus);
    return;
  }
  let frames = 0;
  let bad = 0;
  let dropped = 0;
  let error = 0;
  const up = Atomics.load(stats, STAT_ADMIN_UP) === 1;
  while (frames + dropped < READ_BUDGET) {
    // Free = not queued in the ring (rx.size) and not yet handed over to the main thread.
    const pending = (written - Atomics.load(stats, STAT_ACCOUNTED)) >>> 0;
    const free = rx.slots - rx.size - pending;
    if (!up || free <= 0) {
      const d = addon.discard(handle, READ_BUDGET);
      if (d < 0) error = -d; else dropped += d;
      break;
    }
    const want = Math.min(free, batchLengths.length, READ_BUDGET - frames - dropped);
    const n = addon.readBatch(handle, written & mask, want, batchLengths, status);
    for (let k = 0; k < n; k++) slotLengths[(written + k) & mask] = batchLengths[k];
    written = (written + n) >>> 0;
    frames += n;
    bad += status[0];
    if (n > 0) Atomics.store(stats, STAT_WRITTEN, written | 0);
    if (status[1] !== 0) { error = status[1]; break; }
    if (status[2] !== 0) break; // drained: EAGAIN
  }
  if (bad > 0) Atomics.add(stats, STAT_RX_BAD, bad);
  if (dropped > 0) Atomics.add(stats, STAT_RX_DROPS, dropped);
  if (frames + bad + dropped > 0) ringMain();
  if (error !== 0) fail(error);
}

function drainTx(): void {
  for (let f = tx.peek(); f !== null && open; f = tx.peek()) {
    const n = addon.write(handle, f.data, f.length);
    tx.release();
    if (n === f.length) continue;
    if (n === -EAGAIN || n === -ENOBUFS) Atomics.add(stats, STAT_TX_DROPS, 1);
    else {
      Atomics.add(stats, STAT_TX_ERRORS, 1);
      if (n < 0) {
        fail(-n);
        return;
      }
    }
  }
}

/** Writes what the stack queued, then waits (without blocking this thread's loop) for more. */
async function pumpTx(): Promise<void> {
  while (open) {
    drainTx();
    if (!open) return;
    // Announces the wait, so the producer (the stack's thread) rings the tx ring's doorbell.
    await tx.waitForFramesAsync();
  }
}

function shutdown(): void {
  if (!open) return;
  open = false;
  addon.close(handle);
  // Ends this thread only; the env cleanup hook would close the handle anyway.
  process.exit(0);
}

parentPort!.on('message', (m: { type: string }) => {
  if (m && m.type === 'close') shutdown();
});
addon.setRef(handle, true);
addon.start(handle, onReadable);
void pumpTx();
parentPort!.postMessage({ type: 'ready' });
