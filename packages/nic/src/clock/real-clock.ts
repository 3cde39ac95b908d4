import { performance } from 'node:perf_hooks';
import { Clock, TimerCallback, TimerHandle } from './clock';

/**
 * Wall-clock time for runs over real NICs. Timers are Node timers; with
 * `keepAlive: false` (the default) they do not keep the process running, so a
 * stack that was shut down lets Node exit.
 */
export class RealClock implements Clock {
  private readonly origin = performance.now();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextHandle = 1;

  constructor(private readonly options: { keepAlive?: boolean } = {}) {}

  now(): number {
    return performance.now() - this.origin;
  }

  schedule(at: number, fn: TimerCallback, arg = 0): TimerHandle {
    const handle = this.nextHandle++;
    const delay = Math.max(0, at - this.now());
    const timer = setTimeout(() => {
      this.timers.delete(handle);
      fn(arg);
    }, delay);
    if (!this.options.keepAlive) timer.unref();
    this.timers.set(handle, timer);
    return handle;
  }

  cancel(handle: TimerHandle): void {
    const timer = this.timers.get(handle);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(handle);
    }
  }

  /** Timers still pending (for leak checks). */
  get pending(): number {
    return this.timers.size;
  }

  /** Cancels every pending timer. */
  cancelAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
