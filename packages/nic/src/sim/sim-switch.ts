import { isMulticastMac, MacAddress, readMac } from '../nic/mac-address';
import { FabricPort, SimFabric, SimFabricOptions } from './sim-fabric';

export interface SimSwitchOptions extends SimFabricOptions {
  /** How long a learned address stays valid without traffic from it (ms, default 300 000 as in 802.1D). */
  agingTime?: number;
}

export interface SwitchStats {
  /** Frames that reached the switch. */
  received: number;
  /** Unicast frames sent out of the one port their destination was learned on. */
  forwarded: number;
  /** Frames flooded (unknown unicast, broadcast, multicast). */
  flooded: number;
  /** Copies sent while flooding. */
  floodCopies: number;
  /** Frames dropped because their destination is on the port they came from. */
  filtered: number;
  /** Addresses learned (new, or moved to another port). */
  learned: number;
  /** Entries that expired. */
  aged: number;
}

/**
 * A learning Ethernet switch. It learns source addresses per port, forwards
 * known unicast out of one port, floods unknown unicast, broadcast and
 * multicast, filters frames for the port they came from, and forgets
 * addresses not seen for `agingTime` (checked when they are looked up, on the
 * clock) or whose port went down.
 *
 * The MAC table is a Map from address to a slot in typed arrays, so learning
 * an address already known allocates nothing.
 */
export class SimSwitch extends SimFabric {
  readonly agingTime: number;
  readonly stats: SwitchStats = { received: 0, forwarded: 0, flooded: 0, floodCopies: 0, filtered: 0, learned: 0, aged: 0 };
  private readonly slotOf = new Map<number, number>();
  private slotPort = new Int32Array(64);
  private slotSeen = new Float64Array(64);
  private freeSlots: number[] = [];
  private slotsUsed = 0;

  constructor(options: SimSwitchOptions) {
    super(options);
    const aging = options.agingTime ?? 300_000;
    if (!(aging > 0)) throw new RangeError(`SimSwitch: agingTime must be > 0 ms, got ${aging}`);
    this.agingTime = aging;
  }

  /** The port an address is learned on (and not expired), or undefined. */
  lookup(mac: MacAddress): number | undefined {
    const slot = this.liveSlot(mac);
    return slot < 0 ? undefined : this.slotPort[slot];
  }

  /** Live entries of the MAC table (expired ones are dropped first). */
  macTable(): { mac: MacAddress; port: number; lastSeen: number }[] {
    const out: { mac: MacAddress; port: number; lastSeen: number }[] = [];
    for (const mac of [...this.slotOf.keys()]) {
      const slot = this.liveSlot(mac as MacAddress);
      if (slot >= 0) out.push({ mac: mac as MacAddress, port: this.slotPort[slot], lastSeen: this.slotSeen[slot] });
    }
    return out;
  }

  /** Forgets every learned address. */
  flush(): void {
    for (const slot of this.slotOf.values()) this.freeSlots.push(slot);
    this.slotOf.clear();
  }

  /** @internal */
  forwardFrom(port: FabricPort, frame: Uint8Array, length: number): void {
    this.stats.received++;
    const now = this.clock.now();
    const src = readMac(frame, 6);
    if (!isMulticastMac(src)) this.learn(src, port.index, now);
    const dst = readMac(frame, 0);
    if (!isMulticastMac(dst)) {
      const slot = this.liveSlot(dst);
      if (slot >= 0) {
        const out = this.portList[this.slotPort[slot]];
        if (out === port) {
          this.stats.filtered++;
          return;
        }
        if (out.carrierUp) {
          out.egress.send(frame, length);
          this.stats.forwarded++;
          return;
        }
      }
    }
    this.stats.flooded++;
    this.stats.floodCopies += this.flood(port, frame, length);
  }

  protected override portGone(port: FabricPort): void {
    for (const [mac, slot] of [...this.slotOf]) {
      if (this.slotPort[slot] === port.index) this.forget(mac, slot);
    }
  }

  private learn(mac: MacAddress, port: number, now: number): void {
    let slot = this.slotOf.get(mac);
    if (slot === undefined) {
      slot = this.allocSlot();
      this.slotOf.set(mac, slot);
      this.stats.learned++;
    } else if (this.slotPort[slot] !== port) {
      this.stats.learned++;
    }
    this.slotPort[slot] = port;
    this.slotSeen[slot] = now;
  }

  private liveSlot(mac: MacAddress): number {
    const slot = this.slotOf.get(mac);
    if (slot === undefined) return -1;
    if (this.clock.now() - this.slotSeen[slot] > this.agingTime) {
      this.forget(mac, slot);
      this.stats.aged++;
      return -1;
    }
    return slot;
  }

  private forget(mac: number, slot: number): void {
    this.slotOf.delete(mac);
    this.freeSlots.push(slot);
  }

  private allocSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (this.slotsUsed === this.slotPort.length) {
      const n = this.slotPort.length * 2;
      const port = new Int32Array(n); port.set(this.slotPort); this.slotPort = port;
      const seen = new Float64Array(n); seen.set(this.slotSeen); this.slotSeen = seen;
    }
    return this.slotsUsed++;
  }
}
