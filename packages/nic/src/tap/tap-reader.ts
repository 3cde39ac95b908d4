import type { FrameRing } from '../ring/frame-ring';
import type { TapAddon, TapHandle } from './addon';
import { RingLayout } from './ring-layout';

/** Frames read per readiness event at most, so a flood cannot starve the event loop (uv_poll is level-triggered). */
export const READ_BUDGET = 4096;

export interface ReadResult {
  frames: number;
  bytes: number;
  /** Runts and giants the kernel handed us (read and skipped). */
  bad: number;
  /** Frames read and thrown away because the ring was full (or `discardAll`). */
  dropped: number;
  /** errno of a hard read error (the device is gone), else 0. */
  error: number;
  /** GSO super-frames among `frames` (offload mode). */
  gso: number;
}

/** readBatch's per-frame flags (tap.c RX_CSUM_OK, RX_GSO). */
export const RX_CSUM_OK = 1;
export const RX_GSO = 2;

/**
 * Moves frames from a TAP fd into a FrameRing (the producer side): the addon
 * reads a batch straight into consecutive free slots, then each is committed.
 * Shared by the main-thread TapNic and the worker. Allocates nothing per frame.
 */
export class TapReader {
  private readonly lens: Int32Array;
  private readonly status = new Int32Array(3);
  private readonly layout: RingLayout;
  private readonly flags: Int32Array | null;
  readonly result: ReadResult = { frames: 0, bytes: 0, bad: 0, dropped: 0, error: 0, gso: 0 };

  /**
   * `slotFlags` (offload mode): gets each frame's RX_CSUM_OK / RX_GSO flags at its slot's index,
   * before the frame is committed.
   */
  constructor(
    private readonly addon: TapAddon,
    private readonly handle: TapHandle,
    private readonly ring: FrameRing,
    minFrame: number,
    private readonly onFrame: ((slot: Uint8Array, length: number, timestamp: number) => void) | null,
    private readonly slotFlags: Uint8Array | null = null,
  ) {
    this.layout = new RingLayout(ring);
    this.lens = new Int32Array(Math.min(ring.slots, READ_BUDGET));
    this.flags = slotFlags !== null ? new Int32Array(this.lens.length) : null;
    addon.bindRing(handle, new Uint8Array(ring.buffer), this.layout.dataOffset, this.layout.stride, ring.slotSize, ring.slots, minFrame);
  }

  /** Reads until the device has no more frames (or the budget is spent); commits them with `timestamp`. */
  readAll(timestamp: number): ReadResult {
    const r = this.result;
    r.frames = 0; r.bytes = 0; r.bad = 0; r.dropped = 0; r.error = 0; r.gso = 0;
    const ring = this.ring;
    const flags = this.flags;
    while (r.frames + r.dropped < READ_BUDGET) {
      const slot = ring.reserve();
      if (slot === null) {
        // Ring full: drain the device anyway (like a NIC whose ring is full), or the level-triggered poll spins.
        const d = this.addon.discard(this.handle, READ_BUDGET);
        if (d < 0) r.error = -d; else r.dropped += d;
        break;
      }
      const free = ring.slots - ring.size;
      const want = Math.min(free, this.lens.length, READ_BUDGET - r.frames - r.dropped);
      const first = this.layout.slotIndex(slot);
      const n = flags !== null
        ? this.addon.readBatch(this.handle, first, want, this.lens, this.status, flags)
        : this.addon.readBatch(this.handle, first, want, this.lens, this.status);
      for (let k = 0; k < n; k++) {
        const s = ring.reserve()!;
        const len = this.lens[k];
        if (flags !== null) {
          const f = flags[k];
          this.slotFlags![(first + k) & this.layout.mask] = f;
          if ((f & RX_GSO) !== 0) r.gso++;
        }
        ring.commit(len, timestamp);
        r.bytes += len;
        if (this.onFrame !== null) this.onFrame(s, len, timestamp);
      }
      r.frames += n;
      r.bad += this.status[0];
      if (this.status[1] !== 0) { r.error = this.status[1]; break; }
      if (this.status[2] !== 0) break; // drained: EAGAIN
    }
    return r;
  }

  /** Reads and drops everything waiting (link administratively down). */
  discardAll(): ReadResult {
    const r = this.result;
    r.frames = 0; r.bytes = 0; r.bad = 0; r.dropped = 0; r.error = 0; r.gso = 0;
    const d = this.addon.discard(this.handle, READ_BUDGET);
    if (d < 0) r.error = -d; else r.dropped = d;
    return r;
  }
}
