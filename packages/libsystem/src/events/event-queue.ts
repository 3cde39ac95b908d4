/** Phoenix's event names and payloads. */
export type HandleStatus = 'ready' | 'connecting' | 'open' | 'closed' | 'error';

export interface NetworkEventMap {
  handle_status_change: { id: number; status: HandleStatus };
  handle_data_ready: { id: number };
  network_request: { uri: string; ip: string; handle: unknown };
  network_event: NetworkControlEvent;
}

/** A `network_event` (Phoenix: ICMP-like control messages reported to root processes). */
export interface NetworkControlEvent {
  type: 'control';
  messageType: 'ping' | 'pong' | 'unreachable' | 'timeout';
  /** The address that answered (or that the message was about). */
  sender: string;
  error?: string;
  /** Round-trip time in milliseconds, for a `pong` answering our `ping`. */
  rtt?: number;
}

export type EventName = keyof NetworkEventMap | (string & {});
export type QueuedEvent = [name: string, payload: any];

interface Waiter {
  name?: string;
  filter?: (payload: any) => boolean;
  resolve(event: QueuedEvent): void;
  reject(error: Error): void;
}

/**
 * One event queue per system, read with `pullEvent(name?)`, like a Phoenix
 * process's queue. Unlike `os.pullEvent(filter)`, pulling one name does not
 * throw away the other events before it: they stay queued for their own pulls.
 *
 * The queue is bounded: when nobody pulls, the oldest events are dropped
 * (and counted) instead of growing without limit.
 */
export class EventQueue {
  private events: QueuedEvent[] = [];
  private waiters: Waiter[] = [];
  private closedWith: Error | null = null;
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly capacity = 4096) {}

  get size(): number {
    return this.events.length;
  }

  push(name: string, payload: unknown): void {
    if (this.closedWith) return;
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      if (matches(w, name, payload)) {
        this.waiters.splice(i, 1);
        w.resolve([name, payload]);
        return;
      }
    }
    this.events.push([name, payload]);
    if (this.events.length > this.capacity) {
      this.events.shift();
      this.dropped++;
    }
  }

  /** Takes the oldest queued event with this name (any, without one) now, or null. */
  poll(name?: string, filter?: (payload: any) => boolean): QueuedEvent | null {
    const i = this.events.findIndex(([n, p]) => matches({ name, filter }, n, p));
    return i < 0 ? null : this.events.splice(i, 1)[0];
  }

  /** Waits for the next event with this name (any, without one) that passes `filter`. */
  pull(name?: string, filter?: (payload: any) => boolean): Promise<QueuedEvent> {
    const ready = this.poll(name, filter);
    if (ready) return Promise.resolve(ready);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => this.waiters.push({ name, filter, resolve, reject }));
  }

  /** Ends the queue: waiting pulls reject with `error`, later pushes are ignored. */
  close(error: Error): void {
    this.closedWith = error;
    const waiters = this.waiters;
    this.waiters = [];
    this.events = [];
    for (const w of waiters) w.reject(error);
  }
}

function matches(w: Pick<Waiter, 'name' | 'filter'>, name: string, payload: unknown): boolean {
  if (w.name !== undefined && w.name !== name) return false;
  return !w.filter || w.filter(payload);
}
