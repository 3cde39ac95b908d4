import { VirtualClock } from '@pnet/nic';

/**
 * A VirtualClock that drives itself: the user's code just awaits
 * `network.get(...)`, and virtual time moves whenever the process has nothing
 * else to do.
 *
 * How: every `schedule` makes sure one `setImmediate` turn is queued. A turn
 * runs every event due at the next instant and queues the next turn. Promise
 * jobs and `nextTick`s settle after each callback and earlier `setImmediate`s
 * run first, so the async code a frame woke up runs before time moves on (the
 * same rhythm as `VirtualClock.drive`). With no event pending no turn is
 * queued (no spinning; `schedule` starts it again), and after `stop()` none
 * ever is, so the clock does not keep the process alive.
 */
export class PumpedClock extends VirtualClock {
  private immediate: NodeJS.Immediate | null = null;
  private stopped = false;
  private turns = 0;

  constructor(start = 0) {
    super(start);
  }

  override schedule(at: number, fn: (arg: number) => void, arg = 0): number {
    const handle = super.schedule(at, fn, arg);
    this.kick();
    return handle;
  }

  /** Turns run so far (each advanced time to one instant). */
  get turnsRun(): number {
    return this.turns;
  }

  /** Whether a turn is queued (false when idle or stopped). */
  get pumping(): boolean {
    return this.immediate !== null;
  }

  /** Stops driving for good: no more turns are queued. Events stay pending. */
  stop(): void {
    this.stopped = true;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
  }

  private kick(): void {
    if (this.immediate === null && !this.stopped) this.immediate = setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    this.immediate = null;
    if (this.stopped) return;
    const next = this.nextEventTime();
    if (next === Infinity) return;
    this.turns++;
    while (this.nextEventTime() === next) this.step();
    if (this.nextEventTime() !== Infinity) this.kick();
  };
}
