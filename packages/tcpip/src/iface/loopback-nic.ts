import { Clock, NicBase, ZERO_MAC } from '@pnet/nic';

const FULL_OFFLOAD = Object.freeze({ tx: true, rx: true });

/**
 * The `lo` device: what it sends, it receives (into its own ring, read on the
 * next poll, never re-entrantly). Transport checksums are not computed on it, as on Linux.
 */
export class LoopbackNic extends NicBase {
  constructor(clock: Clock, mtu = 16384) {
    super({
      name: 'lo', mac: ZERO_MAC, clock, mtu, rxSlots: 256,
      capabilities: { checksum: { ipv4: { tx: false, rx: false }, tcp: FULL_OFFLOAD, udp: FULL_OFFLOAD, icmp: FULL_OFFLOAD } },
    });
  }

  protected override sendFrame(frame: Uint8Array, length: number): boolean {
    const ok = this.deliver(frame, length);
    if (ok) this.notifyReceive();
    return ok;
  }
}
