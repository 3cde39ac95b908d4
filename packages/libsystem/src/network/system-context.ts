import type { NetworkBackends } from '../backends/backends';
import { EventQueue } from '../events/event-queue';
import type { Handle, HandleContext } from '../handles/handle';

/** What a system shares with its handles and its network module: ids, the event queue, live handles, backends. */
export class SystemContext implements HandleContext {
  readonly events = new EventQueue();
  readonly handles = new Set<Handle>();
  private lastId = 0;
  shutDown = false;

  constructor(readonly backends: NetworkBackends) {}

  nextHandleId(): number {
    return ++this.lastId;
  }

  queueEvent(name: string, payload: unknown): void {
    this.events.push(name, payload);
  }

  track(handle: Handle, live: boolean): void {
    if (live) this.handles.add(handle);
    else this.handles.delete(handle);
  }

  ensureRunning(): void {
    if (this.shutDown) throw new Error('The system has been shut down');
  }
}
