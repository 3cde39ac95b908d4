import type { ReadMode } from './read-modes';

/** A number as Lua's `*n` finds it: optional sign, digits, optional fraction and exponent. */
const NUMBER = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;

export type Taken = { value: Buffer | number | null } | 'wait';

/**
 * Received bytes waiting to be read, with Lua's read modes over them.
 * Chunks are kept as they arrive and joined only when a read needs them.
 */
export class ByteBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    // Copy: the producer may reuse its buffer (stack sockets lend views).
    this.chunks.push(Buffer.from(data));
    this.size += data.length;
  }

  clear(): void {
    this.chunks = [];
    this.size = 0;
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): Buffer {
    const all = this.joined();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return out;
  }

  /**
   * Reads one mode. With `ended` false (more bytes may come) a mode that
   * cannot be satisfied yet gives `'wait'`; HTTP bodies read this way. With
   * `ended` true it works on what is here (Phoenix's socket semantics): a
   * line may lack its newline, `*a` takes everything. Nothing left: null.
   */
  take(mode: ReadMode, ended: boolean): Taken {
    switch (mode.kind) {
      case 'a':
        if (!ended) return 'wait';
        return { value: this.size === 0 ? null : this.consume(this.size) };
      case 'l':
      case 'L': {
        const all = this.joined();
        const nl = all.indexOf(10);
        if (nl < 0) {
          if (!ended) return 'wait';
          return { value: this.size === 0 ? null : this.consume(this.size) };
        }
        const line = this.consume(nl + 1);
        return { value: mode.kind === 'L' ? line : line.subarray(0, nl) };
      }
      case 'n': {
        const text = this.joined().toString('latin1');
        const m = NUMBER.exec(text);
        if (!m || m.index + m[0].length === text.length) {
          // No number, or one that more digits could still extend.
          if (!ended) return 'wait';
          if (!m) return { value: null };
        }
        this.consume(m.index + m[0].length);
        return { value: Number(m[0]) };
      }
      case 'count':
        if (this.size >= mode.count && (mode.count > 0 || this.size > 0 || ended)) {
          if (mode.count === 0) return { value: this.size === 0 && ended ? null : Buffer.alloc(0) };
          return { value: this.consume(mode.count) };
        }
        if (!ended) return 'wait';
        return { value: this.size === 0 ? null : this.consume(this.size) };
    }
  }
}
