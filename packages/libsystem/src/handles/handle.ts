import { EventEmitter } from 'node:events';
import type { HandleStatus } from '../events/event-queue';

export type { HandleStatus };

/** What a handle needs from its system: ids, the event queue, the list of live handles. */
export interface HandleContext {
  nextHandleId(): number;
  /** Queues a Phoenix event on the system queue. */
  queueEvent(name: string, payload: unknown): void;
  /** Called once when a handle is created and once when it is released, so shutdown can close it. */
  track(handle: Handle, live: boolean): void;
}

export type StatusResult = [status: HandleStatus] | [status: HandleStatus, error: string];

/** The verbs in `attempt to X a closed handle`. */
export type HandleVerb = 'read from' | 'write to' | 'close' | 'use';

/**
 * A connection handle (Phoenix's `system.network.Handle`): a numeric `id`,
 * `status()`, and Phoenix's events, both emitted on the handle (an
 * EventEmitter) and queued on the system for `pullEvent`.
 *
 * `close()` works in every state but `closed` (Phoenix refused to close a
 * handle that was still connecting); afterwards every method throws
 * `attempt to X a closed handle`.
 */
export abstract class Handle extends EventEmitter {
  readonly id: number;
  protected currentStatus: HandleStatus;
  protected errorText: string | undefined;
  /** True once the user called `close()`. */
  protected closedByUser = false;

  protected constructor(protected readonly ctx: HandleContext, initial: HandleStatus) {
    super();
    this.id = ctx.nextHandleId();
    this.currentStatus = initial;
    ctx.track(this, true);
  }

  /** `[status]`, or `[status, error]` in the `error` state. */
  status(): StatusResult {
    return this.currentStatus === 'error' ? ['error', this.errorText ?? 'Unknown error'] : [this.currentStatus];
  }

  close(): void {
    this.ensureUsable('close');
    this.closedByUser = true;
    this.release();
    this.setStatus('closed');
    this.ctx.track(this, false);
  }

  /** Frees what the handle holds (sockets, streams). Called once, by `close()` or system shutdown. */
  protected abstract release(): void;

  /** Shutdown path: closes without throwing, whatever the state. */
  forceClose(): void {
    if (this.closedByUser) return;
    this.closedByUser = true;
    try {
      this.release();
    } catch {
      // Shutting down: nothing useful to do with a failure to release.
    }
    this.setStatus('closed');
    this.ctx.track(this, false);
  }

  protected ensureUsable(verb: HandleVerb): void {
    if (this.closedByUser) throw new Error(`attempt to ${verb} a closed handle`);
  }

  /** Throws Phoenix's `attempt to read from a connecting handle` unless the handle is in one of `states`. */
  protected ensureState(verb: HandleVerb, ...states: HandleStatus[]): void {
    this.ensureUsable(verb);
    if (!states.includes(this.currentStatus)) throw new Error(`attempt to ${verb} a ${this.currentStatus} handle`);
  }

  protected setStatus(status: HandleStatus, error?: string): void {
    if (status === this.currentStatus && status !== 'error') return;
    if (this.currentStatus === 'closed' && this.closedByUser) return;
    this.currentStatus = status;
    this.errorText = status === 'error' ? error : undefined;
    const payload = { id: this.id, status };
    this.emit('handle_status_change', payload);
    this.ctx.queueEvent('handle_status_change', payload);
  }

  protected dataReady(): void {
    const payload = { id: this.id };
    this.emit('handle_data_ready', payload);
    this.ctx.queueEvent('handle_data_ready', payload);
  }

  /** Resolves when the status is one of `states` (now or later). */
  whenStatus(...states: HandleStatus[]): Promise<HandleStatus> {
    if (states.includes(this.currentStatus)) return Promise.resolve(this.currentStatus);
    return new Promise((resolve) => {
      const on = (e: { status: HandleStatus }) => {
        if (states.includes(e.status)) {
          this.off('handle_status_change', on);
          resolve(e.status);
        }
      };
      this.on('handle_status_change', on);
    });
  }
}
