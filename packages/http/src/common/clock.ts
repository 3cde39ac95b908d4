/**
 * Time for the HTTP layer. This layer sits on byte streams, not frames, but its
 * timeouts still ask an injected clock so the facade can run it in virtual time.
 * The interface is the same shape as `@pnet/nic`'s `Clock` (which this layer may
 * not import), so a nic `Clock` can be passed as is.
 */
export type TimerHandle = number;

export interface HttpClock {
  /** Current time in milliseconds. */
  now(): number;
  /** Runs `fn(arg)` at absolute time `at` (ms). */
  schedule(at: number, fn: (arg: number) => void, arg?: number): TimerHandle;
  /** Cancels a scheduled call; cancelling one that already ran does nothing. */
  cancel(handle: TimerHandle): void;
}

/**
 * The default clock: Node timers, unref'd so a pending timeout never keeps the
 * process alive on its own (open sockets do that).
 */
export function nodeClock(): HttpClock {
  const origin = performance.now();
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  return {
    now: () => performance.now() - origin,
    schedule(at, fn, arg = 0) {
      const handle = next++;
      const t = setTimeout(() => {
        timers.delete(handle);
        fn(arg);
      }, Math.max(0, at - (performance.now() - origin)));
      t.unref();
      timers.set(handle, t);
      return handle;
    },
    cancel(handle) {
      const t = timers.get(handle);
      if (t) {
        clearTimeout(t);
        timers.delete(handle);
      }
    },
  };
}

let shared: HttpClock | undefined;
/** One shared Node-timers clock for everything that was given none. */
export function defaultClock(): HttpClock {
  return (shared ??= nodeClock());
}

/** A restartable one-shot timer on an HttpClock. */
export class Timer {
  private handle: TimerHandle = 0;
  private armed = false;

  constructor(private readonly clock: HttpClock, private readonly fire: () => void) {}

  /** (Re)starts the timer for `ms` from now; `ms` of 0 or less, or not finite, disarms it. */
  start(ms: number | undefined): void {
    this.stop();
    if (ms === undefined || !(ms > 0) || !Number.isFinite(ms)) return;
    this.armed = true;
    this.handle = this.clock.schedule(this.clock.now() + ms, () => {
      if (!this.armed) return;
      this.armed = false;
      this.fire();
    });
  }

  stop(): void {
    if (this.armed) {
      this.armed = false;
      this.clock.cancel(this.handle);
    }
  }

  get running(): boolean {
    return this.armed;
  }
}

/** Randomness for WebSocket keys and masks; `@pnet/nic`'s seeded `Rng` fits this shape. */
export interface RandomSource {
  nextU32(): number;
}
