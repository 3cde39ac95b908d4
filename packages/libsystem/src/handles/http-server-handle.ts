import type { Writable } from 'node:stream';
import type { HttpServerExchange } from '../backends/backends';
import { BodyReader } from './body-reader';
import { Handle, HandleContext } from './handle';
import { flattenHeaders } from './http-handle';
import { Encoding, parseReadModes, ReadModeArg, ReadResult, toBytes } from './read-modes';

/**
 * One HTTP request received by `listen('http://...')`, delivered in
 * `network_request`. Phoenix never implemented HTTP serving; this handle
 * mirrors the client one: `read` the request body, `write` the response body
 * (the head goes out with the first write or at `close()`), `close()` ends
 * the response.
 */
export class HTTPServerHandle extends Handle {
  private readonly reader: BodyReader;
  private code = 200;
  private readonly outHeaders: Record<string, string> = {};
  private out: Writable | null = null;

  constructor(ctx: HandleContext, private readonly exchange: HttpServerExchange, private readonly encoding: Encoding) {
    super(ctx, 'open');
    this.reader = new BodyReader(exchange.body, (text) => {
      if (!this.closedByUser) this.setStatus('error', text);
    });
  }

  /** The request method, e.g. `GET`. */
  method(): string {
    this.ensureUsable('read from');
    return this.exchange.method;
  }

  /** The request target: path and query. */
  path(): string {
    this.ensureUsable('read from');
    return this.exchange.target;
  }

  requestHeaders(): Record<string, string> {
    this.ensureUsable('read from');
    return flattenHeaders(this.exchange.headers);
  }

  remoteIP(): string {
    this.ensureUsable('read from');
    return this.exchange.remoteAddress;
  }

  /** Reads the request body, like `HTTPHandle.read`. */
  async read(...modes: ReadModeArg[]): Promise<ReadResult> {
    this.ensureState('read from', 'open');
    return this.reader.read(parseReadModes(modes), this.encoding, () => this.ensureUsable('read from'));
  }

  setResponseCode(code: number): void {
    this.ensureUsable('write to');
    if (this.out) throw new Error('Response already started');
    if (!Number.isInteger(code) || code < 100 || code > 999) throw new Error(`bad argument #1 to 'setResponseCode' (invalid status ${code})`);
    this.code = code;
  }

  setResponseHeader(name: string, value: string): void {
    this.ensureUsable('write to');
    if (this.out) throw new Error('Response already started');
    this.outHeaders[name] = String(value);
  }

  /** Writes to the response body, sending the head first if it has not gone yet. */
  write(...data: Array<string | Uint8Array | number>): void {
    this.ensureState('write to', 'open');
    const out = this.start();
    for (const d of data) out.write(toBytes(d));
  }

  private start(): Writable {
    if (!this.out) this.out = this.exchange.respond(this.code, this.outHeaders);
    return this.out;
  }

  protected release(): void {
    try {
      this.start().end();
    } finally {
      this.reader.abort('drain');
    }
  }
}
