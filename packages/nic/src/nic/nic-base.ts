import type { Clock } from '../clock/clock';
import { FrameRing } from '../ring/frame-ring';
import type { MacAddress } from './mac-address';
import {
  ChecksumOffload, defaultCapabilities, ETHERNET_OVERHEAD, FrameDirection, FrameTap, Nic, NicCapabilities, NicCounters, newCounters,
} from './nic';

// Capabilities are read per frame (counters too: see newCounters). As classes every NIC's share one hidden class
// for the life of the process; object literals got a new one whenever V8 flushed the cold code that
// built them (between two benchmark runs), and the next Stack's hot paths deoptimised on the new map.

class Offload implements ChecksumOffload {
  readonly tx: boolean;
  readonly rx: boolean;
  constructor(o: ChecksumOffload) {
    this.tx = o.tx;
    this.rx = o.rx;
  }
}

class ChecksumOffloads {
  readonly ipv4: Offload;
  readonly tcp: Offload;
  readonly udp: Offload;
  readonly icmp: Offload;
  constructor(k: NicCapabilities['checksum']) {
    this.ipv4 = new Offload(k.ipv4);
    this.tcp = new Offload(k.tcp);
    this.udp = new Offload(k.udp);
    this.icmp = new Offload(k.icmp);
  }
}

class Capabilities implements NicCapabilities {
  readonly mtu: number = 0;
  // Starts as a double: a MAC in Smi range (ZERO_MAC on lo) and a real one then share one field representation.
  readonly mac: MacAddress = 0.5 as MacAddress;
  readonly checksum: ChecksumOffloads;
  readonly maxBurst: number = 0;
  /** Always present (0: no TSO), so the class has one shape. */
  readonly tsoMaxBytes: number = 0;
  constructor(c: NicCapabilities) {
    this.mtu = c.mtu;
    this.mac = c.mac;
    this.checksum = new ChecksumOffloads(c.checksum);
    this.maxBurst = c.maxBurst;
    this.tsoMaxBytes = c.tsoMaxBytes ?? 0;
  }
}

export interface NicBaseOptions {
  name: string;
  mac: MacAddress;
  clock: Clock;
  mtu?: number;
  /** Receive ring slots (default 1024). */
  rxSlots?: number;
  /** Overrides of the default capabilities (no checksum offload, burst 64). */
  capabilities?: Partial<Omit<NicCapabilities, 'mac' | 'mtu'>>;
  /** Allocate the receive ring in a SharedArrayBuffer (for worker-thread backends). */
  sharedRing?: boolean;
  /** Receive ring slot size (default `maxFrameSize`): larger for a backend that receives GSO super-frames. */
  rxSlotSize?: number;
  /** Allocate the (unshared) receive ring in a WebAssembly.Memory, see FrameRingOptions.wasmMemory. */
  wasmRing?: boolean;
  /** The backend hands frames over by exchanging buffers with the ring (`deliverOwned`), see FrameRingOptions.exchange. */
  exchangeRing?: boolean;
}

/**
 * What every backend shares: counters, taps, listeners, the receive ring and
 * the MTU check. A backend implements `sendFrame` and calls `deliver` for
 * each received frame.
 */
export abstract class NicBase implements Nic {
  readonly name: string;
  readonly capabilities: NicCapabilities;
  readonly counters: NicCounters = newCounters();
  readonly rx: FrameRing;
  readonly maxFrameSize: number;
  protected readonly clock: Clock;
  protected adminUp = true;
  protected closed = false;
  private readonly scratch: Uint8Array;
  /** Largest frame `transmit` takes: `maxFrameSize`, or a TSO super-frame. */
  protected readonly maxTxFrame: number;
  private receiveListeners: (() => void)[] = [];
  private linkListeners: ((up: boolean) => void)[] = [];
  private taps: FrameTap[] = [];

  constructor(options: NicBaseOptions) {
    const mtu = options.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new RangeError(`${options.name}: MTU must be an integer from 68 to 65535, got ${mtu}`);
    }
    this.name = options.name;
    this.clock = options.clock;
    this.capabilities = new Capabilities({ ...defaultCapabilities(options.mac, mtu), ...options.capabilities, mac: options.mac, mtu });
    this.maxFrameSize = mtu + ETHERNET_OVERHEAD;
    this.rx = new FrameRing({ slots: options.rxSlots ?? 1024, slotSize: options.rxSlotSize ?? this.maxFrameSize, shared: options.sharedRing, wasmMemory: options.wasmRing, exchange: options.exchangeRing });
    const tso = this.capabilities.tsoMaxBytes ?? 0;
    this.maxTxFrame = Math.max(this.maxFrameSize, tso > 0 ? tso + ETHERNET_OVERHEAD : 0);
    this.scratch = new Uint8Array(this.maxTxFrame);
  }

  get linkUp(): boolean {
    return this.adminUp && !this.closed && this.carrier();
  }

  /** Whether the medium is there (a backend may override: a detached port has none). */
  protected carrier(): boolean {
    return true;
  }

  setLinkUp(up: boolean): void {
    const before = this.linkUp;
    this.adminUp = up;
    if (this.linkUp !== before) this.emitLinkChange();
  }

  txBuffer(): Uint8Array {
    return this.scratch;
  }

  transmit(frame: Uint8Array, length: number = frame.length, segmentSize = 0): boolean {
    if (!this.linkUp) {
      this.counters.txDrops++;
      return false;
    }
    if (length > this.maxTxFrame || length < 14 || length > frame.length) {
      this.counters.txErrors++;
      return false;
    }
    const now = this.clock.now();
    this.runTaps('tx', frame, length, now);
    if (!this.sendFrame(frame, length, now, segmentSize)) {
      this.counters.txDrops++;
      return false;
    }
    this.counters.txPackets++;
    this.counters.txBytes += length;
    return true;
  }

  onReceive(listener: () => void): () => void {
    this.receiveListeners = [...this.receiveListeners, listener];
    return () => { this.receiveListeners = this.receiveListeners.filter((l) => l !== listener); };
  }

  onLinkChange(listener: (up: boolean) => void): () => void {
    this.linkListeners = [...this.linkListeners, listener];
    return () => { this.linkListeners = this.linkListeners.filter((l) => l !== listener); };
  }

  addTap(tap: FrameTap): () => void {
    this.taps = [...this.taps, tap];
    return () => { this.taps = this.taps.filter((t) => t !== tap); };
  }

  close(): void {
    if (this.closed) return;
    const before = this.linkUp;
    this.closed = true;
    this.onClose();
    if (before) this.emitLinkChange();
  }

  /**
   * Hands the frame to the medium; it must copy what it keeps. Returns false when it dropped it.
   * `segmentSize`: the TCP segment size of a TSO super-frame (only on a NIC with `tsoMaxBytes`), else 0.
   */
  protected abstract sendFrame(frame: Uint8Array, length: number, now: number, segmentSize: number): boolean;

  /** Releases backend resources. */
  protected onClose(): void {}

  /**
   * Puts a received frame into the ring (copying it) with the current time as
   * its ingress timestamp. Does not notify: call `notifyReceive` after a batch.
   */
  protected deliver(frame: Uint8Array, length: number): boolean {
    return this.enqueue(frame, length, false) !== null;
  }

  /**
   * `deliver` for a backend that gives its buffer away (`FrameRing.exchange`, on a ring made with
   * `exchangeRing`): null when the frame was dropped (the caller keeps `frame`), else the buffer the
   * caller owns from then on instead of `frame` (`frame` itself when it was copied).
   */
  protected deliverOwned(frame: Uint8Array, length: number): Uint8Array | null {
    return this.enqueue(frame, length, true);
  }

  private enqueue(frame: Uint8Array, length: number, owned: boolean): Uint8Array | null {
    if (!this.linkUp) {
      this.counters.rxDrops++;
      return null;
    }
    if (length > this.maxFrameSize || length < 14) {
      this.counters.rxErrors++;
      return null;
    }
    const now = this.clock.now();
    const back = owned ? this.rx.exchange(frame, length, now) : this.rx.push(frame, length, now) ? frame : null;
    if (back === null) {
      this.counters.rxDrops++;
      return null;
    }
    this.counters.rxPackets++;
    this.counters.rxBytes += length;
    // `frame` holds the frame either way (the ring's slot now, or the copy's source) until we return.
    this.runTaps('rx', frame, length, now);
    return back;
  }

  /** Counts and taps a frame that a backend wrote into the ring itself (reserve/commit). */
  protected accountReceived(frame: Uint8Array, length: number, timestamp: number): void {
    this.counters.rxPackets++;
    this.counters.rxBytes += length;
    this.runTaps('rx', frame, length, timestamp);
  }

  /** Whether any tap (a capture) is watching. */
  protected get tapped(): boolean {
    return this.taps.length > 0;
  }

  protected notifyReceive(): void {
    const listeners = this.receiveListeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]();
  }

  protected emitLinkChange(): void {
    const up = this.linkUp;
    for (const l of this.linkListeners) l(up);
  }

  private runTaps(direction: FrameDirection, frame: Uint8Array, length: number, timestamp: number): void {
    const taps = this.taps;
    for (let i = 0; i < taps.length; i++) taps[i](direction, frame, length, timestamp);
  }
}
