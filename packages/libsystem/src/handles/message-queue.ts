import { ByteBuffer } from './byte-buffer';
import { collect, encodeValue, Encoding, ReadMode, ReadResult, ReadValue } from './read-modes';

/**
 * Received messages (datagrams, WebSocket messages) kept whole. Read modes
 * work inside the oldest message: `*a` returns the rest of it, a byte count
 * never runs into the next one, and a message read to its end is dropped.
 * (Phoenix glued WebSocket messages into one string and lost the edges.)
 */
export class MessageQueue {
  private messages: ByteBuffer[] = [];
  /** Messages dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly capacity = 1024) {}

  get length(): number {
    return this.messages.length;
  }

  push(data: Uint8Array): void {
    const b = new ByteBuffer();
    b.append(data);
    this.messages.push(b);
    if (this.messages.length > this.capacity) {
      this.messages.shift();
      this.dropped++;
    }
  }

  clear(): void {
    this.messages = [];
  }

  read(modes: ReadMode[], encoding: Encoding): ReadResult {
    const values: ReadValue[] = [];
    for (const mode of modes) {
      const head = this.messages[0];
      let v: Buffer | number | null = null;
      if (head) {
        if (head.length === 0) {
          // An empty message reads as one empty string, then is gone.
          this.messages.shift();
          v = mode.kind === 'n' ? null : Buffer.alloc(0);
        } else {
          v = (head.take(mode, true) as { value: Buffer | number | null }).value;
          if (head.length === 0) this.messages.shift();
        }
      }
      values.push(typeof v === 'number' || v === null ? v : encodeValue(v, encoding));
      if (v === null) break;
    }
    return collect(values, modes.length);
  }
}
