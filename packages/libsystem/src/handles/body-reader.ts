import type { Readable } from 'node:stream';
import { ByteBuffer } from './byte-buffer';
import { collect, encodeValue, Encoding, ReadMode, ReadResult, ReadValue } from './read-modes';
import { errorText } from './error-text';

/** Above this many unread bytes the body stream is paused until the reader catches up. */
const HIGH_WATER = 1 << 20;

/**
 * Reads an HTTP body (a Readable) with Lua's read modes, waiting for data
 * the way Phoenix's `read` on an HTTP handle returns the whole next line.
 */
export class BodyReader {
  private readonly buffer = new ByteBuffer();
  private ended = false;
  private failure: string | null = null;
  private aborted = false;
  private wakers: Array<() => void> = [];

  constructor(private readonly stream: Readable, private readonly onFailure: (text: string) => void) {
    stream.on('data', (chunk: Buffer | string) => {
      this.buffer.append(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (this.buffer.length > HIGH_WATER) stream.pause();
      this.wake();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    stream.on('error', (err) => this.fail(errorText(err)));
    stream.on('close', () => {
      if (!this.ended && !this.aborted) this.fail('Connection closed before the body ended');
    });
  }

  private fail(text: string): void {
    if (this.failure !== null || this.ended || this.aborted) return;
    this.failure = text;
    this.onFailure(text);
    this.wake();
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  /** Reads each mode in turn, waiting as needed. `check` runs before every step (it throws once the handle is closed). */
  async read(modes: ReadMode[], encoding: Encoding, check: () => void): Promise<ReadResult> {
    const values: ReadValue[] = [];
    for (const mode of modes) {
      for (;;) {
        check();
        const taken = this.buffer.take(mode, this.ended);
        if (taken !== 'wait') {
          const v = taken.value;
          values.push(typeof v === 'number' || v === null ? v : encodeValue(v, encoding));
          break;
        }
        if (this.failure !== null) throw new Error(this.failure);
        await new Promise<void>((resolve) => this.wakers.push(resolve));
      }
      if (values[values.length - 1] === null) break;
    }
    if (this.buffer.length < HIGH_WATER && this.stream.isPaused()) this.stream.resume();
    return collect(values, modes.length);
  }

  /**
   * Stops reading: the stream is destroyed (`drain`: left to flow into the
   * void, for a request body whose connection still carries the response);
   * waiting reads wake and their `check` throws.
   */
  abort(how: 'destroy' | 'drain' = 'destroy'): void {
    this.aborted = true;
    if (how === 'destroy') this.stream.destroy();
    else {
      this.stream.removeAllListeners('data');
      this.stream.resume();
    }
    this.buffer.clear();
    this.wake();
  }
}
