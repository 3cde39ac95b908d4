import { FrameRing } from '../ring/frame-ring';

/**
 * Where a FrameRing keeps its slots, lengths and timestamps inside its buffer
 * (the layout documented in frame-ring.ts), so the addon can read frames
 * straight into slots (and the worker can pick a slot by index).
 * Computed once and checked against the ring's own views, so a change of the
 * ring's layout fails loudly instead of corrupting frames.
 */
export class RingLayout {
  readonly dataOffset: number;
  readonly stride: number;
  readonly lengthsOffset = 64;
  readonly timestampsOffset: number;
  readonly mask: number;

  constructor(readonly ring: FrameRing) {
    const slots = ring.slots;
    this.stride = (ring.slotSize + 7) & ~7;
    this.timestampsOffset = (this.lengthsOffset + slots * 4 + 7) & ~7;
    this.dataOffset = this.timestampsOffset + slots * 8;
    this.mask = slots - 1;
    if (ring.buffer.byteLength !== FrameRing.byteLength(slots, this.stride) ||
        ring.buffer.byteLength !== this.dataOffset + slots * this.stride) {
      throw new Error('TapNic: FrameRing layout changed (buffer size); update packages/nic/src/tap/ring-layout.ts');
    }
    const slot = ring.reserve();
    if (slot !== null && (slot.buffer !== ring.buffer || slot.length !== ring.slotSize || this.slotIndex(slot) < 0)) {
      throw new Error('TapNic: FrameRing layout changed (slot views); update packages/nic/src/tap/ring-layout.ts');
    }
  }

  /** The index of a slot view returned by `ring.reserve()`, or -1 when it is not one of this ring's slots. */
  slotIndex(slot: Uint8Array): number {
    const rel = slot.byteOffset - this.dataOffset;
    if (rel < 0 || rel % this.stride !== 0) return -1;
    const i = rel / this.stride;
    return i <= this.mask ? i : -1;
  }
}
