import { FrameRing } from '../ring/frame-ring';

/**
 * Where a FrameRing keeps its slots, lengths and timestamps inside its buffer
 * (the layout documented in frame-ring.ts). The addon reads frames straight
 * into slots, and the worker-mode consumer stamps and taps frames, by offset.
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

  /** One view per slot, over the same memory as the ring's own (made once). */
  slotViews(): Uint8Array[] {
    const views: Uint8Array[] = [];
    for (let i = 0; i <= this.mask; i++) views.push(new Uint8Array(this.ring.buffer, this.dataOffset + i * this.stride, this.ring.slotSize));
    return views;
  }

  lengths(): Int32Array {
    return new Int32Array(this.ring.buffer, this.lengthsOffset, this.ring.slots);
  }

  timestamps(): Float64Array {
    return new Float64Array(this.ring.buffer, this.timestampsOffset, this.ring.slots);
  }
}
