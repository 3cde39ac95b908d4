/**
 * The TAP worker thread (TapNic worker mode). It owns a duplicate of the TAP
 * fd: the addon's uv_poll (on this thread's loop) reads frames straight into
 * the shared rx ring; frames the stack transmits arrive in the shared tx ring
 * and are written out. Counters and link state cross in a small Int32 block.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { constants as osConstants } from 'node:os';
import { FrameRing } from '../ring/frame-ring';
import type { TapAddon } from './addon';
import { TapReader } from './tap-reader';
import {
  STAT_ADMIN_UP, STAT_BELL, STAT_CARRIER, STAT_COMMITTED, STAT_ERRNO, STAT_RX_BAD, STAT_RX_DROPS, STAT_TX_DROPS, STAT_TX_ERRORS,
  TapWorkerData,
} from './worker-protocol';

const { EAGAIN, ENOBUFS } = osConstants.errno;
const data = workerData as TapWorkerData;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = require(data.addonPath) as TapAddon;
const stats = new Int32Array(data.stats);
const rx = FrameRing.attach(data.rxBuffer, { slots: data.rxSlots, slotSize: data.rxSlotSize });
const tx = FrameRing.attach(data.txBuffer, { slots: data.txSlots, slotSize: data.txSlotSize });
const handle = addon.adopt(data.fd);
const reader = new TapReader(addon, handle, rx, 14, null);
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

function onReadable(status: number): void {
  if (!open) return;
  if (status < 0) {
    fail(-status);
    return;
  }
  const up = Atomics.load(stats, STAT_ADMIN_UP) === 1;
  // Timestamps are written by the main thread (on its clock) when it accounts the frames.
  const r = up ? reader.readAll(0) : reader.discardAll();
  if (r.frames > 0) Atomics.add(stats, STAT_COMMITTED, r.frames);
  if (r.bad > 0) Atomics.add(stats, STAT_RX_BAD, r.bad);
  if (r.dropped > 0) Atomics.add(stats, STAT_RX_DROPS, r.dropped);
  if (r.frames + r.bad + r.dropped > 0) ringMain();
  if (r.error !== 0) fail(r.error);
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
