import type { Duplex } from 'node:stream';
import { numberToIP } from '../config/stack-config';
import { ByteBuffer } from './byte-buffer';
import { errorText } from './error-text';
import { Handle, HandleContext } from './handle';
import { collect, encodeValue, Encoding, parseReadModes, ReadModeArg, ReadResult, ReadValue, toBytes } from './read-modes';

/** An address as a socket reports it: text from Node, a number (Ipv4Address) from pnet's sockets. */
export function addressText(a: unknown): string | null {
  if (typeof a === 'number') return numberToIP(a);
  if (typeof a === 'string' && a !== '') return a.startsWith('::ffff:') ? a.slice(7) : a;
  return null;
}

/**
 * A TCP connection (`tcp://host:port`, Phoenix's `psp`), over any byte
 * stream Duplex. `read` returns what is buffered (`null` when nothing is)
 * and `handle_data_ready` says when more came. When the peer closes, the
 * status becomes `closed` but what was received can still be read (Phoenix
 * dropped it).
 */
export class TCPHandle extends Handle {
  private readonly buffer = new ByteBuffer();
  private stream: Duplex | null = null;
  private pendingClose = false;

  constructor(ctx: HandleContext, private readonly encoding: Encoding, source: Promise<Duplex> | Duplex) {
    super(ctx, source instanceof Promise ? 'connecting' : 'open');
    if (source instanceof Promise) {
      source.then(
        (s) => this.attach(s),
        (err) => {
          if (!this.closedByUser) this.setStatus('error', errorText(err));
        },
      );
    } else this.attach(source);
  }

  private attach(stream: Duplex): void {
    if (this.closedByUser) {
      stream.destroy();
      return;
    }
    this.stream = stream;
    stream.on('data', (chunk: Buffer | string) => {
      this.buffer.append(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      this.dataReady();
    });
    stream.on('end', () => {
      // The peer is done sending: finish our side too (Phoenix answered FIN with FIN).
      stream.end();
      if (!this.closedByUser && this.currentStatus === 'open') this.setStatus('closed');
    });
    stream.on('error', (err) => {
      if (!this.closedByUser && this.currentStatus !== 'closed') this.setStatus('error', errorText(err));
    });
    stream.on('close', () => {
      if (!this.closedByUser && this.currentStatus === 'open') this.setStatus('closed');
    });
    if (this.currentStatus !== 'open') this.setStatus('open');
  }

  /** Reads from what is buffered: one mode gives a value, several a tuple; `null` when nothing is there. */
  read(...modes: ReadModeArg[]): ReadResult {
    this.ensureState('read from', 'open', 'closed', 'error');
    const parsed = parseReadModes(modes);
    const values: ReadValue[] = [];
    for (const mode of parsed) {
      const v = (this.buffer.take(mode, true) as { value: Buffer | number | null }).value;
      values.push(typeof v === 'number' || v === null ? v : encodeValue(v, this.encoding));
      if (v === null) break;
    }
    return collect(values, parsed.length);
  }

  /** Bytes received and not read yet. */
  available(): number {
    this.ensureUsable('read from');
    return this.buffer.length;
  }

  /** Sends the bytes of each argument, in order. */
  write(...data: Array<string | Uint8Array | number>): void {
    this.ensureState('write to', 'open');
    for (const d of data) this.stream!.write(toBytes(d));
  }

  localIP(): string | null {
    this.ensureUsable('read from');
    return addressText((this.stream as { localAddress?: unknown } | null)?.localAddress);
  }

  remoteIP(): string | null {
    this.ensureUsable('read from');
    return addressText((this.stream as { remoteAddress?: unknown } | null)?.remoteAddress);
  }

  protected release(): void {
    this.buffer.clear();
    const s = this.stream;
    if (!s || this.pendingClose) return;
    this.pendingClose = true;
    // Send what is queued and a FIN, then let go of the socket.
    s.removeAllListeners('data');
    s.on('error', () => undefined);
    s.end(() => s.destroy());
    s.resume();
  }
}
