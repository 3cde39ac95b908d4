import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Clock } from '../clock/clock';
import { RealClock } from '../clock/real-clock';
import type { MacAddress } from '../nic/mac-address';
import { NicBase } from '../nic/nic-base';
import { ETHERNET_OVERHEAD, FrameTap, NicCapabilities } from '../nic/nic';
import { FrameRing } from '../ring/frame-ring';
import { explainOpenError, loadTapAddon, tapAddonPath, TapAddon, TapHandle, TapUnavailableError } from './addon';
import { RingLayout } from './ring-layout';
import { RX_CSUM_OK, TapReader } from './tap-reader';
import { waitAsync } from './wait-async';
import {
  STAT_ACCOUNTED, STAT_ADMIN_UP, STAT_BELL, STAT_CARRIER, STAT_ERRNO, STAT_INTS, STAT_RX_BAD, STAT_RX_DROPS, STAT_TX_DROPS,
  STAT_TX_ERRORS, STAT_WRITTEN, TapWorkerData,
} from './worker-protocol';

const { EAGAIN, ENOBUFS } = osConstants.errno;

export interface TapNicOptions {
  /** Our (the stack's) MAC: the source of frames we send, the address the kernel learns. */
  mac: MacAddress;
  /** Interface name, or a pattern with `%d` (default `pnet%d`: the kernel picks a free number). At most 15 characters. */
  name?: string;
  /** Defaults to a RealClock (timers unref'd). */
  clock?: Clock;
  /** IP MTU of our side (default 1500); the ring's slot size follows it. */
  mtu?: number;
  /** Also set the kernel-side interface MTU: `true` = same as `mtu`, or a number. Default: leave it. */
  kernelMtu?: boolean | number;
  /** Receive ring slots (default 1024). */
  rxSlots?: number;
  /** Transmit ring slots in worker mode (default 1024). */
  txSlots?: number;
  /** Keep the process alive while the device is open (default false: an open TapNic never holds Node up). */
  keepAlive?: boolean;
  /** Do the TAP I/O in a worker thread; frames cross in SharedArrayBuffer rings (default false). */
  worker?: boolean;
  /**
   * Checksum and segmentation offload, as between QEMU and a virtio guest (default: on in the main
   * thread, off with `worker: true`, which does not support it and throws if asked): the fd
   * carries a virtio_net_hdr (IFF_VNET_HDR, stripped and added here, never seen above), the wire MTU
   * stays `mtu`, but up to 64 KiB TCP super-frames cross the fd both ways. We send TCP with partial
   * checksums (`checksum.tcp.tx`) and TSO (`tsoMaxBytes`); the kernel sends us GSO frames and partial
   * or verified checksums, flagged per frame (`rxChecksumOk`). Receive slots are 64 KiB (default 256
   * of them, 16 MiB). `false`: one wire frame per read and write, every checksum summed by the stack.
   */
  offload?: boolean;
  capabilities?: Partial<Omit<NicCapabilities, 'mac' | 'mtu'>>;
}

export type TapMode = 'main' | 'worker';

/** Smallest frame we accept from the kernel: an Ethernet header. */
const MIN_FRAME = 14;
/** Offload mode: the largest IPv4 packet either side may put in one super-frame. */
const GSO_MAX_IP = 65535;
const NO_OFFLOAD = Object.freeze({ tx: false, rx: false });

/**
 * A NIC backed by a Linux TAP device: the stack's frames go to the kernel's
 * network stack and back, so the kernel (and anything in its network
 * namespace) is a real peer. Same interface and counters as the simulated NIC.
 *
 * Main mode (default): the addon's uv_poll watches the fd on this thread's
 * loop; on readability a batch of frames is read straight into `rx`'s slots.
 * Worker mode: a worker thread does the reads and writes; `rx` is a shared
 * ring the worker fills, and transmitted frames go through a second shared
 * ring. The stack's thread never blocks on the device.
 */
export class TapNic extends NicBase {
  /** The kernel's name for the interface (e.g. `pnet0`). It keeps this name when moved to another namespace. */
  readonly ifname: string;
  readonly mode: TapMode;
  /** Resolves when the device is fully released (in worker mode, when the worker has closed its fd and exited). */
  readonly whenClosed: Promise<void>;
  /** Resolves when I/O is running (at once in main mode; when the worker has started in worker mode). Frames sent before are queued. */
  readonly whenReady: Promise<void>;
  /** errno text of the error that took the device away, if one did. */
  lastError: string | null = null;
  /** Offload mode is on (`options.offload`). */
  readonly offload: boolean;
  /** Offload mode: TSO super-frames written (`gsoTxFrames`) and GSO super-frames the kernel handed us (`gsoRxFrames`). */
  readonly offloadCounters = { gsoTxFrames: 0, gsoRxFrames: 0 };

  private readonly addon: TapAddon;
  private readonly handle: TapHandle;
  private carrierOk = true;
  private resolveClosed!: () => void;
  private resolveReady!: () => void;
  // main mode
  private reader: TapReader | null = null;
  // worker mode
  private worker: Worker | null = null;
  private txRing: FrameRing | null = null;
  private stats: Int32Array | null = null;
  private accounted = 0;
  private seenStats = new Int32Array(STAT_INTS);
  private slotLengths: Int32Array | null = null;
  private layout: RingLayout | null = null;
  // offload mode: each rx slot's RX_CSUM_OK / RX_GSO flags, written before the frame is committed
  private rxFlags: Uint8Array | null = null;
  private rxLayout: RingLayout | null = null;

  /**
   * Opens (creates) the TAP device. Throws a `TapUnavailableError` saying why
   * when this machine cannot (no addon, no /dev/net/tun, not root), and a
   * TypeError/RangeError for bad options.
   */
  static open(options: TapNicOptions): TapNic {
    if (options === null || typeof options !== 'object' || typeof options.mac !== 'number') {
      throw new TypeError('TapNic.open: options.mac (a MacAddress) is required');
    }
    const name = options.name ?? 'pnet%d';
    if (typeof name !== 'string' || name.length === 0 || name.length > 15 || /[\s/:]/.test(name)) {
      throw new RangeError(`TapNic.open: interface name must be 1 to 15 characters without spaces, '/' or ':', got ${JSON.stringify(name)}`);
    }
    if (options.offload !== undefined && typeof options.offload !== 'boolean') {
      throw new TypeError(`TapNic.open: options.offload must be a boolean, got ${JSON.stringify(options.offload)}`);
    }
    if (options.offload === true && options.worker === true) {
      throw new RangeError('TapNic.open: offload works in the main thread only (worker: true does not support it)');
    }
    const addon = loadTapAddon();
    let handle: TapHandle;
    let ifname: string;
    try {
      [handle, ifname] = addon.open(name, offloadWanted(options));
    } catch (e) {
      throw explainOpenError(e as NodeJS.ErrnoException, name);
    }
    try {
      return new TapNic(addon, handle, ifname, options);
    } catch (e) {
      addon.close(handle);
      throw e;
    }
  }

  private constructor(addon: TapAddon, handle: TapHandle, ifname: string, options: TapNicOptions) {
    const worker = options.worker === true;
    const offload = offloadWanted(options);
    super({
      name: ifname,
      mac: options.mac,
      clock: options.clock ?? new RealClock(),
      mtu: options.mtu,
      rxSlots: options.rxSlots ?? (offload ? 256 : undefined),
      rxSlotSize: offload ? GSO_MAX_IP + ETHERNET_OVERHEAD : undefined,
      // The kernel completes partial TCP checksums and cuts super-segments; received checksums are vouched for per frame.
      capabilities: offload
        ? { checksum: { ipv4: NO_OFFLOAD, tcp: { tx: true, rx: false }, udp: NO_OFFLOAD, icmp: NO_OFFLOAD }, tsoMaxBytes: GSO_MAX_IP, ...options.capabilities }
        : options.capabilities,
      sharedRing: worker,
    });
    this.offload = offload;
    this.addon = addon;
    this.handle = handle;
    this.ifname = ifname;
    this.mode = worker ? 'worker' : 'main';
    this.whenClosed = new Promise((resolve) => { this.resolveClosed = resolve; });
    this.whenReady = new Promise((resolve) => { this.resolveReady = resolve; });
    if (options.kernelMtu !== undefined && options.kernelMtu !== false) {
      const kmtu = options.kernelMtu === true ? this.capabilities.mtu : options.kernelMtu;
      try {
        addon.setMtu(ifname, kmtu);
      } catch (e) {
        throw new Error(`TapNic: cannot set the MTU of ${ifname} to ${kmtu}: ${(e as Error).message}`);
      }
    }
    if (worker) this.startWorker(options);
    else this.startMain(options);
  }

  // ---- main-thread mode ----

  private startMain(options: TapNicOptions): void {
    if (this.offload) {
      this.rxFlags = new Uint8Array(this.rx.slots);
      this.rxLayout = new RingLayout(this.rx);
      this.addon.setWireMtu(this.handle, this.capabilities.mtu);
    }
    this.reader = new TapReader(this.addon, this.handle, this.rx, MIN_FRAME, (slot, length, ts) => this.accountReceived(slot, length, ts), this.rxFlags);
    this.addon.setRef(this.handle, options.keepAlive === true);
    this.addon.start(this.handle, this.onReadable);
    this.resolveReady();
  }

  private readonly onReadable = (status: number): void => {
    if (this.closed) return;
    if (status < 0) {
      this.loseCarrier(-status);
      return;
    }
    const reader = this.reader!;
    const r = this.linkUp ? reader.readAll(this.clock.now()) : reader.discardAll();
    // rxPackets/rxBytes were counted per frame by accountReceived (which also feeds the taps).
    this.counters.rxErrors += r.bad;
    this.counters.rxDrops += r.dropped;
    this.offloadCounters.gsoRxFrames += r.gso;
    if (r.frames > 0) this.notifyReceive();
    if (r.error !== 0) this.loseCarrier(r.error);
  };

  // ---- worker mode ----

  private startWorker(options: TapNicOptions): void {
    const txRing = new FrameRing({ slots: options.txSlots ?? 1024, slotSize: this.maxFrameSize, shared: true });
    const statsBuffer = new SharedArrayBuffer(STAT_INTS * 4);
    const stats = new Int32Array(statsBuffer);
    stats[STAT_ADMIN_UP] = 1;
    stats[STAT_CARRIER] = 1;
    const lengthsBuffer = new SharedArrayBuffer(this.rx.slots * 4);
    this.layout = new RingLayout(this.rx);
    this.slotLengths = new Int32Array(lengthsBuffer);
    this.txRing = txRing;
    this.stats = stats;
    const data: TapWorkerData = {
      fd: this.addon.dupFd(this.handle),
      addonPath: tapAddonPath(),
      rxBuffer: this.rx.buffer as SharedArrayBuffer,
      rxSlots: this.rx.slots,
      rxSlotSize: this.rx.slotSize,
      txBuffer: txRing.buffer as SharedArrayBuffer,
      txSlots: txRing.slots,
      txSlotSize: txRing.slotSize,
      stats: statsBuffer,
      lengths: lengthsBuffer,
    };
    // The worker runs tap-worker.ts through ts-node when we run from source, tap-worker.js once compiled.
    const ext = path.extname(__filename);
    const entry = path.join(__dirname, `tap-worker${ext}`);
    const register = ext === '.ts' ? require.resolve('ts-node/register/transpile-only') : null;
    const code = `${register ? `require(${JSON.stringify(register)});\n` : ''}require(${JSON.stringify(entry)});\n`;
    const worker = new Worker(code, { eval: true, workerData: data, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' } });
    this.worker = worker;
    worker.on('error', (e) => {
      this.lastError = `worker: ${e.message}`;
      this.loseCarrier(0);
    });
    worker.on('message', (m: { type?: string }) => {
      if (m && m.type === 'ready') {
        // Held up while starting (someone may be awaiting whenReady); from now on it must not keep Node alive.
        if (options.keepAlive !== true && !this.closed) worker.unref();
        this.resolveReady();
      }
    });
    worker.on('exit', (code) => {
      this.worker = null;
      if (!this.closed) {
        // The worker may be gone before our pump saw its last stats: take the reason from them.
        const errno = Atomics.load(stats, STAT_ERRNO);
        if (this.lastError === null) this.lastError = errno > 0 ? errnoName(errno) : `TAP worker exited (${code})`;
        this.loseCarrier(errno);
      }
      this.resolveReady();
      this.resolveClosed();
    });
    this.pump();
  }

  /** Waits (without blocking) on the worker's bell; each ring commits the new frames, then notifies. */
  private readonly pump = (): void => {
    const array = this.stats!;
    const index = STAT_BELL;
    for (let spins = 0; !this.closed; spins++) {
      const seen = Atomics.load(array, index);
      this.drainWorker();
      const w = waitAsync(array, index, seen);
      if (w.async) {
        w.value.then(this.pump);
        return;
      }
      if (spins >= 64) {
        setImmediate(this.pump);
        return;
      }
    }
  };

  /**
   * Commits the frames the worker wrote into slots since last time: each is
   * stamped with our clock, counted and tapped here, before any consumer of
   * `rx` can see it.
   */
  private drainWorker(): void {
    const stats = this.stats!;
    const written = Atomics.load(stats, STAT_WRITTEN) >>> 0;
    const n = (written - this.accounted) >>> 0;
    if (n > 0) {
      const now = this.clock.now();
      const mask = this.rx.slots - 1;
      const lengths = this.slotLengths!;
      const layout = this.layout!;
      for (let k = 0; k < n; k++) {
        const i = (this.accounted + k) & mask;
        const slot = this.rx.reserve();
        // The worker only fills free slots, in order: the ring's next slot is the one it wrote.
        if (slot === null || layout.slotIndex(slot) !== i) throw new Error('TapNic: worker and ring out of step (a bug)');
        const length = lengths[i];
        this.rx.commit(length, now);
        this.accountReceived(slot, length, now);
      }
      this.accounted = written;
      Atomics.store(stats, STAT_ACCOUNTED, written | 0);
    }
    this.counters.rxErrors += this.statDelta(STAT_RX_BAD);
    this.counters.rxDrops += this.statDelta(STAT_RX_DROPS);
    this.counters.txDrops += this.statDelta(STAT_TX_DROPS);
    this.counters.txErrors += this.statDelta(STAT_TX_ERRORS);
    if (Atomics.load(stats, STAT_CARRIER) === 0 && this.carrierOk) this.loseCarrier(Atomics.load(stats, STAT_ERRNO));
    if (n > 0) this.notifyReceive();
  }

  private statDelta(i: number): number {
    const v = Atomics.load(this.stats!, i);
    const d = (v - this.seenStats[i]) | 0;
    this.seenStats[i] = v;
    return d;
  }

  // ---- both modes ----

  protected sendFrame(frame: Uint8Array, length: number, now: number, segmentSize: number): boolean {
    if (this.txRing !== null) {
      // Worker mode: copy into the shared tx ring (push rings its doorbell); a full ring drops.
      return this.txRing.push(frame, length, now);
    }
    const r = this.offload ? this.addon.write(this.handle, frame, length, segmentSize) : this.addon.write(this.handle, frame, length);
    if (r === length) {
      // Longer than the wire allows: tap.c sent it as a TSO super-frame.
      if (length > this.maxFrameSize) this.offloadCounters.gsoTxFrames++;
      return true;
    }
    if (r === -EAGAIN || r === -ENOBUFS) return false;
    if (r < 0) this.loseCarrier(-r);
    return false;
  }

  /**
   * In offload mode the stack leaves TCP checksums to the kernel: while a capture watches, complete
   * them before the taps see the frame, so captures show what goes on the wire (off the hot path).
   */
  override transmit(frame: Uint8Array, length: number = frame.length, segmentSize = 0): boolean {
    if (this.offload && this.tapped && length <= frame.length) this.addon.completeChecksum(frame, length);
    return super.transmit(frame, length, segmentSize);
  }

  /** In offload mode, a tap also makes the addon fill in the partial checksums the kernel hands us. */
  override addTap(tap: FrameTap): () => void {
    const remove = super.addTap(tap);
    if (this.offload && !this.closed) this.addon.setCompleteRx(this.handle, true);
    return () => {
      remove();
      if (this.offload && !this.tapped && !this.closed) this.addon.setCompleteRx(this.handle, false);
    };
  }

  /** Offload mode: whether the kernel vouched for the TCP/UDP checksum of the frame in this rx slot (partial or verified). */
  rxChecksumOk(frame: Uint8Array): boolean {
    const flags = this.rxFlags;
    if (flags === null) return false;
    const i = this.rxLayout!.slotIndex(frame);
    return i >= 0 && (flags[i] & RX_CSUM_OK) !== 0;
  }

  override setLinkUp(up: boolean): void {
    super.setLinkUp(up);
    if (this.stats !== null) Atomics.store(this.stats, STAT_ADMIN_UP, up ? 1 : 0);
  }

  protected override carrier(): boolean {
    return this.carrierOk;
  }

  protected override onClose(): void {
    this.addon.close(this.handle);
    if (this.worker !== null) {
      this.worker.postMessage({ type: 'close' });
      // Keep the process up until the worker has closed its fd; wake our pump so it sees `closed` and stops.
      this.worker.ref();
      Atomics.add(this.stats!, STAT_BELL, 1);
      Atomics.notify(this.stats!, STAT_BELL);
    } else {
      this.resolveClosed();
    }
  }

  private loseCarrier(errno: number): void {
    if (!this.carrierOk) return;
    const before = this.linkUp;
    this.carrierOk = false;
    if (errno > 0 && this.lastError === null) this.lastError = errnoName(errno);
    if (this.worker === null) this.addon.close(this.handle);
    if (before) this.emitLinkChange();
  }
}

/** Offload unless asked not to, or in worker mode (which does not support it). */
function offloadWanted(options: TapNicOptions): boolean {
  return options.offload ?? options.worker !== true;
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

export { TapUnavailableError };
