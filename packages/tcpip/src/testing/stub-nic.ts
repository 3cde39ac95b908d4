import { Clock, MacAddress, NicBase, NicBaseOptions } from '@pnet/nic';

/**
 * A NIC for segment-level tests: frames the stack transmits are kept (copies,
 * with their send time) for the test to inspect; frames the test injects land
 * in the receive ring as if from the wire.
 */
export class StubNic extends NicBase {
  /** Frames sent by the stack and not yet taken by the test, oldest first. */
  readonly outbox: { frame: Uint8Array; time: number }[] = [];
  /** Every frame ever sent (for pcaps and debugging). */
  readonly history: { direction: 'in' | 'out'; frame: Uint8Array; time: number }[] = [];
  /** Carrier: set false to simulate a pulled cable. */
  carrierUp = true;

  constructor(options: Omit<NicBaseOptions, 'mac' | 'clock'> & { mac: MacAddress; clock: Clock }) {
    super(options);
  }

  /** Delivers a frame to the stack (queued in the ring; the stack sees it on its next poll). */
  inject(frame: Uint8Array): boolean {
    this.history.push({ direction: 'in', frame: Uint8Array.from(frame), time: this.clock.now() });
    const ok = this.deliver(frame, frame.length);
    if (ok) this.notifyReceive();
    return ok;
  }

  /** Takes the oldest frame sent, or undefined. */
  take(): Uint8Array | undefined {
    return this.outbox.shift()?.frame;
  }

  protected override carrier(): boolean {
    return this.carrierUp;
  }

  protected override sendFrame(frame: Uint8Array, length: number, now: number): boolean {
    const copy = frame.slice(0, length);
    this.outbox.push({ frame: copy, time: now });
    this.history.push({ direction: 'out', frame: copy, time: now });
    return true;
  }
}
