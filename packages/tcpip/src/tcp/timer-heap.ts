import { objectArray } from './object-array';

/**
 * One binary min-heap of deadlines for all connections of a layer: each item carries its own
 * deadline and heap index, so re-arming is O(log n) and there is one clock timer per layer,
 * not one per connection.
 */
export interface HeapItem {
  deadline: number;
  heapIndex: number;
}

export class TimerHeap<T extends HeapItem> {
  private items: T[] = objectArray<T>();

  get size(): number {
    return this.items.length;
  }

  /** The earliest deadline, or Infinity. */
  peekDeadline(): number {
    return this.items.length > 0 ? this.items[0].deadline : Infinity;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Inserts, moves or removes (deadline Infinity) an item. */
  update(item: T, deadline: number): void {
    if (deadline === Infinity) {
      this.remove(item);
      item.deadline = Infinity;
      return;
    }
    if (item.heapIndex < 0) {
      item.deadline = deadline;
      item.heapIndex = this.items.length;
      this.items.push(item);
      this.up(item.heapIndex);
      return;
    }
    const old = item.deadline;
    item.deadline = deadline;
    if (deadline < old) this.up(item.heapIndex);
    else if (deadline > old) this.down(item.heapIndex);
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (last !== item) {
      this.items[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(last.heapIndex);
    }
  }

  private up(i: number): void {
    const items = this.items;
    const x = items[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (items[p].deadline <= x.deadline) break;
      items[i] = items[p];
      items[i].heapIndex = i;
      i = p;
    }
    items[i] = x;
    x.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const x = items[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && items[c + 1].deadline < items[c].deadline) c++;
      if (items[c].deadline >= x.deadline) break;
      items[i] = items[c];
      items[i].heapIndex = i;
      i = c;
    }
    items[i] = x;
    x.heapIndex = i;
  }
}

/** An item of a DeadlineFifo (the links belong to the list). */
export interface FifoItem {
  deadline: number;
  fifoPrev: FifoItem | null;
  fifoNext: FifoItem | null;
  inFifo: boolean;
}

/**
 * Deadlines that arrive in increasing order (TIME-WAIT: now + a constant) need no heap: a doubly
 * linked FIFO keeps them sorted with O(1) insert and remove, and keeps them out of the heap, where
 * thousands of TIME-WAIT connections would lengthen every active connection's re-arm.
 */
export class DeadlineFifo<T extends FifoItem> {
  head: T | null = null;
  private tail: T | null = null;
  size = 0;

  peekDeadline(): number {
    return this.head ? this.head.deadline : Infinity;
  }

  /** Moves or appends `item` with `deadline` if that keeps the list sorted; else leaves it out and returns false. */
  push(item: T, deadline: number): boolean {
    if (item.inFifo) this.remove(item);
    const t = this.tail;
    if (t && t.deadline > deadline) return false;
    item.deadline = deadline;
    item.fifoPrev = t;
    item.fifoNext = null;
    item.inFifo = true;
    if (t) t.fifoNext = item; else this.head = item;
    this.tail = item;
    this.size++;
    return true;
  }

  /** Puts `next` where `item` is (same deadline, same place in the order); `item` leaves. */
  replace(item: T, next: T): void {
    const p = item.fifoPrev as T | null, n = item.fifoNext as T | null;
    next.deadline = item.deadline;
    next.fifoPrev = p;
    next.fifoNext = n;
    next.inFifo = true;
    if (p) p.fifoNext = next; else this.head = next;
    if (n) n.fifoPrev = next; else this.tail = next;
    item.fifoPrev = item.fifoNext = null;
    item.inFifo = false;
  }

  remove(item: T): void {
    if (!item.inFifo) return;
    const p = item.fifoPrev as T | null, n = item.fifoNext as T | null;
    if (p) p.fifoNext = n; else this.head = n;
    if (n) n.fifoPrev = p; else this.tail = p;
    item.fifoPrev = item.fifoNext = null;
    item.inFifo = false;
    this.size--;
  }
}
