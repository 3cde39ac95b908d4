/**
 * Time for the whole stack. Nothing above the NIC reads `Date.now()` or calls
 * `setTimeout` itself: it asks the injected Clock, so the same code runs in
 * virtual time (deterministic, replayable) and in real time.
 *
 * Times are milliseconds as float64 (sub-millisecond resolution), monotonic,
 * starting near 0.
 */
export type TimerHandle = number;

/** A timer callback. The numeric argument lets hot paths schedule without a closure per event. */
export type TimerCallback = (arg: number) => void;

export interface Clock {
  /** Current time in milliseconds. */
  now(): number;
  /** Runs `fn(arg)` at absolute time `at` (ms); a time in the past runs as soon as possible. */
  schedule(at: number, fn: TimerCallback, arg?: number): TimerHandle;
  /** Cancels a scheduled call; cancelling one that already ran or was cancelled does nothing. */
  cancel(handle: TimerHandle): void;
}

/** A handle value that is never returned by `schedule`, for "no timer". */
export const NO_TIMER: TimerHandle = 0;
