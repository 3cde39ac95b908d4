import { NicBase, NicBaseOptions } from '../nic/nic-base';

/**
 * The far side of a simulated NIC's cable: a link end or a switch/hub port.
 * `send` takes a borrowed frame and copies what it keeps; it returns false
 * when it dropped the frame in a way the sender can see (a full queue).
 */
export interface SimAttachment {
  send(frame: Uint8Array, length: number): boolean;
  /** Optional: a buffer of at least `size` bytes to build the next frame in, which `send` keeps without copying. */
  txBuffer?(size: number): Uint8Array;
  /** Whether the medium carries frames now (false when the far end is gone or the port is down). */
  readonly carrierUp: boolean;
  /** The NIC was closed: the medium unplugs it (the far end loses carrier). */
  nicClosed(nic: SimNic): void;
}

export type SimNicOptions = NicBaseOptions;

/**
 * A NIC that lives in the simulation: it sends into whatever medium it is
 * attached to (a SimLink, SimSwitch or SimHub) and receives what the medium
 * delivers, in the time of the injected clock. Unattached, it has no carrier.
 */
export class SimNic extends NicBase {
  private attachment: SimAttachment | null = null;
  private lastCarrier = false;

  constructor(options: SimNicOptions) {
    // Simulated frames live in wasm memory (ring and media pools) unless told otherwise, so the
    // stack's checksum sums them in place.
    // Media own their frame buffers, so they hand frames over by exchange (`receiveOwned`).
    super({ ...options, wasmRing: options.wasmRing ?? true, exchangeRing: options.exchangeRing ?? options.sharedRing !== true });
  }

  /** Whether a medium is plugged in. */
  get attached(): boolean {
    return this.attachment !== null;
  }

  /** Plugs the NIC into a medium. Media call this; throws if already attached. */
  attach(attachment: SimAttachment): void {
    if (this.attachment !== null) throw new Error(`${this.name}: already attached to a medium; detach it first`);
    this.attachment = attachment;
    this.carrierChanged();
  }

  /** Unplugs the NIC (carrier goes down). Does nothing when not attached to `attachment`. */
  detach(attachment?: SimAttachment): void {
    if (this.attachment === null || (attachment !== undefined && attachment !== this.attachment)) return;
    this.attachment = null;
    this.carrierChanged();
  }

  /** Media call this when their carrier state may have changed; emits a link change when it did. */
  carrierChanged(): void {
    if (this.closed) return; // close() reports the change itself
    const up = this.linkUp;
    if (up !== this.lastCarrier) {
      this.lastCarrier = up;
      this.emitLinkChange();
    }
  }

  /**
   * The medium delivers one frame (borrowed; it is copied into `rx`). Counts
   * and drops it when the NIC is down or the ring is full. Returns whether it
   * was queued.
   */
  receive(frame: Uint8Array, length: number): boolean {
    const ok = this.deliver(frame, length);
    if (ok) this.notifyReceive();
    return ok;
  }

  /**
   * `receive` for a medium that owns `frame` and gives it away: the frame becomes a slot of `rx`
   * and the medium gets that slot's old buffer back in exchange (no copy). Returns the buffer the
   * medium owns from then on (`frame` itself when the frame was copied or dropped).
   */
  receiveOwned(frame: Uint8Array, length: number): Uint8Array {
    const back = this.deliverOwned(frame, length);
    if (back === null) return frame;
    this.notifyReceive();
    return back;
  }

  /**
   * The medium's buffer when it lends one (the frame then crosses without a copy, so it must not
   * be written to once passed to `transmit`), else the NIC's scratch.
   */
  override txBuffer(): Uint8Array {
    const a = this.attachment;
    return a !== null && a.txBuffer !== undefined ? a.txBuffer(this.maxTxFrame) : super.txBuffer();
  }

  protected override carrier(): boolean {
    return this.attachment !== null && this.attachment.carrierUp;
  }

  protected override sendFrame(frame: Uint8Array, length: number): boolean {
    return this.attachment !== null && this.attachment.send(frame, length);
  }

  protected override emitLinkChange(): void {
    this.lastCarrier = this.linkUp;
    super.emitLinkChange();
  }

  protected override onClose(): void {
    const attachment = this.attachment;
    this.attachment = null;
    attachment?.nicClosed(this);
  }
}
