/** What the main thread and the TAP worker share: indices into the Int32 stats block, and the workerData shape. */
export const STAT_WRITTEN = 0; // frames the worker wrote into rx slots (uint32, wraps); the main thread commits them
export const STAT_RX_BAD = 1; // runts and giants
export const STAT_RX_DROPS = 2; // ring full, or link administratively down
export const STAT_TX_DROPS = 3; // write() said EAGAIN/ENOBUFS
export const STAT_TX_ERRORS = 4; // other write errors
export const STAT_ADMIN_UP = 5; // 1 when the stack has the link up (set by main)
export const STAT_CARRIER = 6; // 1 while the device works (cleared by the worker on a hard error)
export const STAT_ERRNO = 7; // errno of the hard error
/** Bumped and notified by the worker after each batch; the main thread waits on it (Atomics.waitAsync). */
export const STAT_BELL = 8;
export const STAT_ACCOUNTED = 9; // frames the main thread has committed to the rx ring (uint32, wraps)
export const STAT_INTS = 10;

export interface TapWorkerData {
  fd: number;
  addonPath: string;
  rxBuffer: SharedArrayBuffer;
  rxSlots: number;
  rxSlotSize: number;
  txBuffer: SharedArrayBuffer;
  txSlots: number;
  txSlotSize: number;
  stats: SharedArrayBuffer;
  /** Int32 per rx slot: the length of the frame the worker wrote there. */
  lengths: SharedArrayBuffer;
}
