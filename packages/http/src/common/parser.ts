import { HttpError } from './errors';
import { Headers, isToken } from './headers';

/**
 * An incremental HTTP/1.1 message parser for both directions. Bytes go in with
 * `push` in chunks of any size; the head, body pieces and end of each message
 * come out through callbacks. Memory is bounded: the head and trailers by
 * `maxHeaderSize`, chunk-size lines by `maxChunkLineSize`; body bytes are passed
 * on as views of the input, never gathered.
 *
 * Bad input never throws: it ends in one `onError` and the parser ignores
 * everything after it.
 */

export interface ParserLimits {
  /** Bytes of start line plus header fields (and, separately, of trailers). */
  maxHeaderSize: number;
  /** Header fields in one head (and in one trailer section). */
  maxHeaderCount: number;
  /** Bytes of one chunk-size line, extensions included. */
  maxChunkLineSize: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxHeaderSize: 16 * 1024, maxHeaderCount: 100, maxChunkLineSize: 1024 };

export interface RequestHead {
  kind: 'request';
  method: string;
  target: string;
  versionMajor: number;
  versionMinor: number;
  headers: Headers;
}

export interface ResponseHead {
  kind: 'response';
  status: number;
  statusText: string;
  versionMajor: number;
  versionMinor: number;
  headers: Headers;
}

export type MessageHead = RequestHead | ResponseHead;

export type BodyFraming =
  | { type: 'none' }
  | { type: 'length'; length: number }
  | { type: 'chunked' }
  | { type: 'close' };

export interface ParserHandler {
  /** A final head (for responses: not 1xx, except 101). `mustClose`: the framing is suspect, do not reuse the connection. */
  onHead(head: MessageHead, framing: BodyFraming, mustClose: boolean): void;
  /** An interim 1xx response other than 101 (responses only). */
  onInformational?(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  onEnd(trailers: Headers): void;
  onError(err: HttpError): void;
}

const enum State {
  Head,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
  Error,
}

const MAX_INTERIM = 20;
const MAX_CHUNK_HEX_DIGITS = 12; // 2^48 bytes: far beyond anything real, safely an integer

export class HttpParser {
  private state = State.Head;
  private readonly limits: ParserLimits;
  private lineAcc = '';
  private lines: string[] = [];
  private headBytes = 0;
  private remaining = 0;
  private bodyTotal = 0;
  private pending: Buffer | null = null;
  private requestMethod = 'GET';
  private framingTotal = 0;
  private interimCount = 0;

  constructor(private readonly kind: 'request' | 'response', private readonly handler: ParserHandler, limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** For responses: the method of the request being answered (HEAD responses have no body). */
  expectResponseTo(method: string): void {
    this.requestMethod = method.toUpperCase();
  }

  /** True between messages: nothing of a next message has arrived yet. */
  get idle(): boolean {
    return this.state === State.Head && this.lines.length === 0 && this.lineAcc === '';
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  get failed(): boolean {
    return this.state === State.Error;
  }

  /** Bytes received after the end of the current message (kept until `reset` or `takePending`). */
  get pendingBytes(): number {
    return this.pending ? this.pending.length : 0;
  }

  push(data: Buffer): void {
    if (this.state === State.Error || data.length === 0) return;
    if (this.state === State.Done) {
      this.pending = this.pending ? Buffer.concat([this.pending, data]) : data;
      return;
    }
    this.execute(data);
  }

  /** Starts on the next message, first parsing any bytes that arrived after the last one. */
  reset(): void {
    if (this.state === State.Error) return;
    this.state = State.Head;
    this.interimCount = 0;
    this.lineAcc = '';
    this.lines = [];
    this.headBytes = 0;
    const p = this.pending;
    this.pending = null;
    if (p) this.execute(p);
  }

  /** Hands over the bytes after the last message (after an upgrade) and stops parsing. */
  takePending(): Buffer {
    const p = this.pending ?? Buffer.alloc(0);
    this.pending = null;
    this.state = State.Error;
    return p;
  }

  /** The stream ended. Ends a read-until-close body, or fails a message cut short. */
  finish(): void {
    switch (this.state) {
      case State.Head:
        if (!this.idle) this.fail('HTTP_PREMATURE_CLOSE', `connection closed in the middle of the ${this.kind} head`);
        return;
      case State.BodyLength:
        this.fail('HTTP_PREMATURE_CLOSE', `connection closed after ${this.framingTotal - this.remaining} of ${this.framingTotal} body bytes (Content-Length)`);
        return;
      case State.ChunkSize:
      case State.ChunkData:
      case State.ChunkDataEnd:
      case State.Trailers:
        this.fail('HTTP_PREMATURE_CLOSE', `connection closed inside a chunked body after ${this.bodyTotal} bytes`);
        return;
      case State.UntilClose:
        this.state = State.Done;
        this.handler.onEnd(new Headers());
        return;
      default:
        return;
    }
  }

  /** Stops parsing for good, without reporting anything. */
  destroy(): void {
    this.state = State.Error;
    this.pending = null;
  }

  private fail(code: ConstructorParameters<typeof HttpError>[0], message: string): void {
    if (this.state === State.Error) return;
    this.state = State.Error;
    this.pending = null;
    this.handler.onError(new HttpError(code, message));
  }

  private execute(data: Buffer): void {
    let off = 0;
    const len = data.length;
    while (off < len) {
      switch (this.state) {
        case State.Head:
        case State.Trailers: {
          const budget = this.limits.maxHeaderSize - this.headBytes;
          const r = this.readLine(data, off, budget);
          if (r < 0) {
            const what = this.state === State.Head ? `${this.kind} head` : 'trailer section';
            this.fail('HTTP_HEADER_OVERFLOW', `${what} exceeds ${this.limits.maxHeaderSize} bytes`);
            return;
          }
          this.headBytes += r - off;
          off = r;
          if (this.lineDone) this.onLine();
          break;
        }
        case State.ChunkSize:
        case State.ChunkDataEnd: {
          const r = this.readLine(data, off, this.limits.maxChunkLineSize);
          if (r < 0) {
            this.fail('HTTP_INVALID_CHUNK', this.state === State.ChunkSize ? `chunk-size line longer than ${this.limits.maxChunkLineSize} bytes` : 'missing CRLF after chunk data');
            return;
          }
          off = r;
          if (this.lineDone) this.onLine();
          break;
        }
        case State.BodyLength:
        case State.ChunkData: {
          const n = Math.min(this.remaining, len - off);
          const piece = data.subarray(off, off + n);
          off += n;
          this.remaining -= n;
          this.bodyTotal += n;
          if (this.remaining === 0) {
            if (this.state === State.BodyLength) {
              this.state = State.Done;
              this.handler.onBody(piece);
              if (this.state === State.Done) this.handler.onEnd(new Headers());
            } else {
              this.state = State.ChunkDataEnd;
              this.handler.onBody(piece);
            }
          } else {
            this.handler.onBody(piece);
          }
          break;
        }
        case State.UntilClose: {
          const piece = off === 0 ? data : data.subarray(off);
          off = len;
          this.bodyTotal += piece.length;
          this.handler.onBody(piece);
          break;
        }
        case State.Done: {
          const rest = data.subarray(off);
          this.pending = this.pending ? Buffer.concat([this.pending, rest]) : rest;
          return;
        }
        case State.Error:
          return;
      }
    }
  }

  private lineDone = false;

  /**
   * Adds bytes up to and including the next LF to the current line. Returns the
   * new offset, or -1 when the line would pass `budget` bytes.
   */
  private readLine(data: Buffer, off: number, budget: number): number {
    const lf = data.indexOf(10, off);
    const end = lf < 0 ? data.length : lf + 1;
    if (this.lineAcc.length + (end - off) > budget) return -1;
    this.lineAcc += data.toString('latin1', off, lf < 0 ? end : lf);
    this.lineDone = lf >= 0;
    return end;
  }

  private onLine(): void {
    this.lineDone = false;
    let line = this.lineAcc;
    this.lineAcc = '';
    if (line.endsWith('\r')) line = line.slice(0, -1);
    switch (this.state) {
      case State.Head:
        if (line === '') {
          // Empty lines before a start line are tolerated (RFC 9112 2.2).
          // They still count against the head budget, so endless empty lines end in an error.
          if (this.lines.length === 0) return;
          this.onHeadComplete();
        } else {
          this.lines.push(line);
          if (this.lines.length > this.limits.maxHeaderCount + 1) {
            this.fail('HTTP_HEADER_OVERFLOW', `more than ${this.limits.maxHeaderCount} header fields`);
          }
        }
        return;
      case State.Trailers:
        if (line === '') {
          const trailers = new Headers();
          if (!this.parseFields(this.lines, trailers)) return;
          this.state = State.Done;
          this.handler.onEnd(trailers);
        } else {
          this.lines.push(line);
          if (this.lines.length > this.limits.maxHeaderCount) this.fail('HTTP_HEADER_OVERFLOW', `more than ${this.limits.maxHeaderCount} trailer fields`);
        }
        return;
      case State.ChunkSize: {
        const m = /^([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?$/.exec(line);
        if (!m) {
          this.fail('HTTP_INVALID_CHUNK', `invalid chunk-size line ${JSON.stringify(line.slice(0, 40))}`);
          return;
        }
        const digits = m[1].replace(/^0+(?=.)/, '');
        if (digits.length > MAX_CHUNK_HEX_DIGITS) {
          this.fail('HTTP_INVALID_CHUNK', `chunk size ${m[1].slice(0, 20)} is too large`);
          return;
        }
        const size = parseInt(digits, 16);
        if (size === 0) {
          this.state = State.Trailers;
          this.lines = [];
          this.headBytes = 0;
        } else {
          this.remaining = size;
          this.state = State.ChunkData;
        }
        return;
      }
      case State.ChunkDataEnd:
        if (line !== '') {
          this.fail('HTTP_INVALID_CHUNK', 'chunk data is longer than its chunk size');
          return;
        }
        this.state = State.ChunkSize;
        return;
      default:
        return;
    }
  }

  /** Parses field lines into `out`; false (after failing) when one is malformed. */
  private parseFields(lines: string[], out: Headers): boolean {
    for (const line of lines) {
      if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) {
        this.fail('HTTP_INVALID_HEADER', 'obsolete line folding in header fields');
        return false;
      }
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!isToken(name)) {
        this.fail('HTTP_INVALID_HEADER', `invalid header line ${JSON.stringify(line.slice(0, 60))}`);
        return false;
      }
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
        this.fail('HTTP_INVALID_HEADER', `invalid characters in the value of ${name}`);
        return false;
      }
      out.appendUnchecked(name, value);
    }
    return true;
  }

  private onHeadComplete(): void {
    const [start, ...fieldLines] = this.lines;
    this.lines = [];
    this.headBytes = 0;
    const headers = new Headers();
    let head: MessageHead;
    if (this.kind === 'response') {
      const m = /^HTTP\/(\d)\.(\d) ([1-9]\d\d)(?: ([^\r\n]*))?$/.exec(start);
      if (!m) {
        this.fail('HTTP_INVALID_START_LINE', `invalid status line ${JSON.stringify(start.slice(0, 60))}`);
        return;
      }
      head = { kind: 'response', versionMajor: +m[1], versionMinor: +m[2], status: +m[3], statusText: m[4] ?? '', headers };
    } else {
      const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/(\d)\.(\d)$/.exec(start);
      if (!m) {
        this.fail('HTTP_INVALID_START_LINE', `invalid request line ${JSON.stringify(start.slice(0, 60))}`);
        return;
      }
      head = { kind: 'request', method: m[1], target: m[2], versionMajor: +m[3], versionMinor: +m[4], headers };
    }
    if (head.versionMajor !== 1) {
      this.fail('HTTP_INVALID_START_LINE', `unsupported HTTP version ${head.versionMajor}.${head.versionMinor}`);
      return;
    }
    if (!this.parseFields(fieldLines, headers)) return;

    if (head.kind === 'response' && head.status < 200 && head.status !== 101) {
      // Interim responses are skipped, but not forever.
      if (++this.interimCount > MAX_INTERIM) {
        this.fail('HTTP_INVALID_START_LINE', `more than ${MAX_INTERIM} interim (1xx) responses`);
        return;
      }
      this.handler.onInformational?.(head);
      return; // stay in Head for the final response
    }
    const f = this.framing(head);
    if (!f) return;
    const [framing, mustClose] = f;
    this.bodyTotal = 0;
    switch (framing.type) {
      case 'none':
        this.state = State.Done;
        this.handler.onHead(head, framing, mustClose);
        if (this.state === State.Done) this.handler.onEnd(new Headers());
        return;
      case 'length':
        this.framingTotal = framing.length;
        this.remaining = framing.length;
        this.state = framing.length === 0 ? State.Done : State.BodyLength;
        this.handler.onHead(head, framing, mustClose);
        if (framing.length === 0 && this.state === State.Done) this.handler.onEnd(new Headers());
        return;
      case 'chunked':
        this.state = State.ChunkSize;
        this.handler.onHead(head, framing, mustClose);
        return;
      case 'close':
        this.state = State.UntilClose;
        this.handler.onHead(head, framing, mustClose);
        return;
    }
  }

  /** The body framing of a message (RFC 9112 6.3), or null after failing. */
  private framing(head: MessageHead): [BodyFraming, boolean] | null {
    if (head.kind === 'response') {
      const s = head.status;
      if (this.requestMethod === 'HEAD' || s === 101 || s === 204 || s === 304) return [{ type: 'none' }, false];
      if (this.requestMethod === 'CONNECT' && s >= 200 && s < 300) return [{ type: 'none' }, false];
    }
    const te = head.headers.tokens('transfer-encoding');
    const hasCl = head.headers.has('content-length');
    if (te.length > 0) {
      const chunked = te[te.length - 1] === 'chunked';
      if (head.kind === 'request') {
        if (!chunked || hasCl) {
          this.fail('HTTP_INVALID_TRANSFER_ENCODING', chunked ? 'both Transfer-Encoding and Content-Length' : `unsupported Transfer-Encoding ${te.join(', ')}`);
          return null;
        }
        return [{ type: 'chunked' }, false];
      }
      // A response with both is a smuggling sign: trust the chunking, then drop the connection.
      return chunked ? [{ type: 'chunked' }, hasCl] : [{ type: 'close' }, true];
    }
    if (hasCl) {
      let value: number | undefined;
      for (const field of head.headers.getAll('content-length')) {
        for (const part of field.split(',')) {
          const p = part.trim();
          const n = /^\d{1,15}$/.test(p) ? Number(p) : NaN;
          if (!Number.isSafeInteger(n) || (value !== undefined && value !== n)) {
            this.fail('HTTP_INVALID_CONTENT_LENGTH', `invalid Content-Length ${JSON.stringify(head.headers.get('content-length')!.slice(0, 40))}`);
            return null;
          }
          value = n;
        }
      }
      return [{ type: 'length', length: value! }, false];
    }
    if (head.kind === 'request') return [{ type: 'none' }, false];
    return [{ type: 'close' }, true];
  }
}

/** Whether the sender of this head lets the connection stay open afterwards. */
export function headKeepsAlive(head: MessageHead): boolean {
  const conn = head.headers.tokens('connection');
  if (head.versionMinor >= 1 && head.versionMajor === 1) return !conn.includes('close');
  return conn.includes('keep-alive');
}
