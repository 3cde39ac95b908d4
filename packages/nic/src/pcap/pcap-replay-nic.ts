import { NicBase, NicBaseOptions } from '../nic/nic-base';
import { PcapRecord, readPcap } from './pcap-reader';

export interface PcapReplayNicOptions extends NicBaseOptions {
  /** The frames to play, in file order. */
  packets: readonly PcapRecord[];
  /** Clock time of the first frame (default: the clock's now when `start` is called). */
  startAt?: number;
  /** Playback speed: 2 plays twice as fast (default 1). */
  speed?: number;
}

/**
 * A NIC whose receive side plays a capture: each frame arrives in `rx` at
 * `startAt + (its timestamp - the first one's) / speed` on the clock, so in
 * virtual time the replay keeps the original timing exactly (to the
 * microsecond of the file). Only one event is pending at a time. What the
 * stack transmits is counted and discarded. Frames a receiving NIC would
 * refuse (too long for its MTU, shorter than a header) are counted as rx
 * errors, like any backend's.
 */
export class PcapReplayNic extends NicBase {
  private readonly packets: readonly PcapRecord[];
  private readonly speed: number;
  private readonly startOption: number | undefined;
  private origin = 0;
  private next = 0;
  private started = false;
  private timer = 0;
  private readonly playHandle: (index: number) => void;

  constructor(options: PcapReplayNicOptions) {
    super(options);
    const speed = options.speed ?? 1;
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`PcapReplayNic: speed must be a finite number > 0, got ${speed}`);
    this.packets = options.packets;
    this.speed = speed;
    this.startOption = options.startAt;
    this.playHandle = (i) => this.play(i);
  }

  /** Reads a pcap file and makes a replay NIC of it. */
  static async fromFile(path: string, options: Omit<PcapReplayNicOptions, 'packets'>): Promise<PcapReplayNic> {
    const capture = await readPcap(path);
    if (capture.linkType !== 1) throw new Error(`PcapReplayNic: ${path} has link type ${capture.linkType}, not Ethernet (1)`);
    return new PcapReplayNic({ ...options, packets: capture.packets });
  }

  /** Frames played so far. */
  get played(): number {
    return this.next;
  }

  /** Whether every frame has been played. */
  get done(): boolean {
    return this.next >= this.packets.length;
  }

  /** Clock time at which frame `index` is due. */
  dueTime(index: number): number {
    return this.origin + (this.packets[index].timestamp - this.packets[0].timestamp) / this.speed;
  }

  /** Starts playing. Throws when called twice. */
  start(): void {
    if (this.started) throw new Error(`${this.name}: replay already started`);
    this.started = true;
    this.origin = this.startOption ?? this.clock.now();
    if (this.packets.length > 0) this.timer = this.clock.schedule(this.dueTime(0), this.playHandle, 0);
  }

  /** Stops playing (what was played stays in `rx`). */
  stop(): void {
    this.clock.cancel(this.timer);
    this.timer = 0;
  }

  protected override sendFrame(): boolean {
    return true;
  }

  protected override onClose(): void {
    this.stop();
  }

  private play(index: number): void {
    this.timer = 0;
    // Frames due at the same instant arrive together, then listeners run once.
    const now = this.clock.now();
    let i = index;
    for (; i < this.packets.length && this.dueTime(i) <= now; i++) {
      const p = this.packets[i];
      this.deliver(p.data, p.data.length);
    }
    this.next = i;
    this.notifyReceive();
    if (i < this.packets.length) this.timer = this.clock.schedule(this.dueTime(i), this.playHandle, i);
  }
}
