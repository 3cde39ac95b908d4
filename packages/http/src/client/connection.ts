import { Readable, type Duplex } from 'node:stream';
import { Timer, type HttpClock } from '../common/clock';
import { HttpError } from '../common/errors';
import { Headers } from '../common/headers';
import { waitDrain, toBuffer } from '../common/io';
import { HttpParser, headKeepsAlive, type BodyFraming, type ParserLimits, type ResponseHead } from '../common/parser';

export type RequestBody = Uint8Array | string | AsyncIterable<Uint8Array | string>;

/** One request as it goes on the wire. */
export interface WireRequest {
  method: string;
  target: string;
  /** Final header fields, in order, framing fields included. */
  headers: Headers;
  body: Buffer | AsyncIterable<Uint8Array | string> | null;
  /** How the body is framed: by the Content-Length in `headers`, chunked, or absent. */
  bodyFraming: 'none' | 'length' | 'chunked';
  declaredLength: number;
  expectContinue: boolean;
  timeouts: ExchangeTimeouts;
}

export interface ExchangeTimeouts {
  /** From the end of the request to the first byte of the response. */
  firstByte?: number;
  /** Longest silence while a response is awaited or read (not counting time the caller does not read). */
  idle?: number;
  /** How long to wait for 100 Continue before sending the body anyway. */
  continue?: number;
}

export interface RawResponse {
  head: ResponseHead;
  framing: BodyFraming;
  body: Readable;
  /** Filled when the body has ended. */
  trailers: Headers;
  /** Resolves when the whole exchange is over (true when it ended cleanly). */
  finished: Promise<boolean>;
}

interface Exchange {
  req: WireRequest;
  resolve: (r: RawResponse) => void;
  reject: (e: Error) => void;
  raw: RawResponse | null;
  trailers: Headers;
  requestDone: boolean;
  responseDone: boolean;
  keepAlive: boolean;
  continueWait: (() => void) | null;
  settleFinished: (ok: boolean) => void;
  finished: Promise<boolean>;
  paused: boolean;
}

const CONTINUE_DEFAULT_MS = 1000;
const CRLF = Buffer.from('\r\n');

/**
 * One HTTP/1.1 client connection over any Duplex: one exchange at a time (no
 * pipelining). After a clean exchange that both sides allow to keep alive it
 * calls `onReusable`; otherwise it destroys the stream.
 */
export class ClientConnection {
  /** Exchanges that ended cleanly on this connection. */
  completed = 0;
  /** Bytes of the current response received so far (0: a failure is safe to retry). */
  receivedThisExchange = 0;
  closed = false;
  onReusable: (conn: ClientConnection) => void = () => {};
  onClosed: (conn: ClientConnection) => void = () => {};

  private readonly parser: HttpParser;
  private current: Exchange | null = null;
  private readonly firstByteTimer: Timer;
  private readonly idleTimer: Timer;
  private readonly continueTimer: Timer;

  constructor(readonly socket: Duplex, readonly key: string, clock: HttpClock, limits: Partial<ParserLimits> = {}) {
    this.firstByteTimer = new Timer(clock, () => this.fail(new HttpError('HTTP_FIRST_BYTE_TIMEOUT', `no response within ${this.current?.req.timeouts.firstByte} ms`)));
    this.idleTimer = new Timer(clock, () => this.fail(new HttpError('HTTP_IDLE_TIMEOUT', `connection idle for ${this.current?.req.timeouts.idle} ms`)));
    this.continueTimer = new Timer(clock, () => this.current?.continueWait?.());
    this.parser = new HttpParser('response', {
      onInformational: (head) => {
        if (head.status === 100) this.current?.continueWait?.();
      },
      onHead: (head, framing, mustClose) => this.onHead(head as ResponseHead, framing, mustClose),
      onBody: (chunk) => {
        const ex = this.current;
        if (!ex?.raw) return;
        if (!ex.raw.body.push(chunk)) {
          ex.paused = true;
          this.idleTimer.stop();
          this.socket.pause();
        }
      },
      onEnd: (trailers) => {
        const ex = this.current;
        if (!ex?.raw) return;
        for (const [n, v] of trailers) ex.trailers.appendUnchecked(n, v);
        ex.responseDone = true;
        ex.raw.body.push(null);
        this.maybeFinish(ex);
      },
      onError: (err) => this.fail(err),
    }, limits);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEof(null));
    socket.on('close', () => this.onEof(null));
    socket.on('error', (err: Error) => this.onEof(err));
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** Sends a request; resolves at the response head, rejects if no head comes. */
  send(req: WireRequest): Promise<RawResponse> {
    if (this.current) return Promise.reject(new Error('ClientConnection.send: an exchange is already running'));
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) {
      this.close();
      return Promise.reject(new HttpError('HTTP_PREMATURE_CLOSE', 'connection closed before the request was sent'));
    }
    return new Promise<RawResponse>((resolve, reject) => {
      let settleFinished!: (ok: boolean) => void;
      const finished = new Promise<boolean>((r) => (settleFinished = r));
      const ex: Exchange = {
        req, resolve, reject, raw: null, trailers: new Headers(), requestDone: false, responseDone: false,
        keepAlive: false, continueWait: null, settleFinished, finished, paused: false,
      };
      this.current = ex;
      this.receivedThisExchange = 0;
      this.parser.reset();
      this.parser.expectResponseTo(req.method);
      this.socket.resume();
      this.idleTimer.start(req.timeouts.idle);
      let head = `${req.method} ${req.target} HTTP/1.1\r\n`;
      for (const [n, v] of req.headers) head += `${n}: ${v}\r\n`;
      head += '\r\n';
      this.socket.write(Buffer.from(head, 'latin1'));
      if (req.bodyFraming !== 'none' && req.expectContinue) {
        ex.continueWait = () => {
          ex.continueWait = null;
          this.continueTimer.stop();
          void this.writeBody(ex);
        };
        this.continueTimer.start(req.timeouts.continue ?? CONTINUE_DEFAULT_MS);
      } else {
        void this.writeBody(ex);
      }
    });
  }

  /** Destroys the connection; a running exchange fails with `err`. */
  destroy(err?: Error): void {
    if (err && this.current) this.fail(err);
    else this.close();
  }

  private async writeBody(ex: Exchange): Promise<void> {
    const { req } = ex;
    try {
      if (req.bodyFraming !== 'none' && req.body) {
        const chunked = req.bodyFraming === 'chunked';
        let sent = 0;
        const pieces: AsyncIterable<Uint8Array | string> | Iterable<Buffer> = Buffer.isBuffer(req.body) ? [req.body] : req.body;
        for await (const piece of pieces) {
          if (this.current !== ex || ex.responseDone) return;
          const buf = toBuffer(piece);
          if (buf.length === 0) continue;
          let ok: boolean;
          if (chunked) {
            ok = this.socket.write(Buffer.concat([Buffer.from(`${buf.length.toString(16)}\r\n`, 'latin1'), buf, CRLF]));
          } else {
            sent += buf.length;
            if (sent > req.declaredLength) throw new HttpError('HTTP_BODY_LENGTH_MISMATCH', `request body is longer than its Content-Length ${req.declaredLength}`);
            ok = this.socket.write(buf);
          }
          if (!ok) {
            this.idleTimer.stop();
            const open = await waitDrain(this.socket);
            if (this.current !== ex) return;
            if (!open) throw new HttpError('HTTP_PREMATURE_CLOSE', 'connection closed while sending the request body');
            if (!ex.paused) this.idleTimer.start(req.timeouts.idle);
          }
        }
        if (this.current !== ex || ex.responseDone) return;
        if (chunked) this.socket.write('0\r\n\r\n', 'latin1');
        else if (sent !== req.declaredLength) throw new HttpError('HTTP_BODY_LENGTH_MISMATCH', `request body has ${sent} bytes, its Content-Length says ${req.declaredLength}`);
      }
      if (this.current !== ex) return;
      ex.requestDone = true;
      if (!ex.raw && this.receivedThisExchange === 0) this.firstByteTimer.start(req.timeouts.firstByte);
      this.maybeFinish(ex);
    } catch (err) {
      if (this.current === ex) this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onData(d: Buffer): void {
    const ex = this.current;
    if (!ex) {
      // Bytes nobody asked for: the peer is confused, the connection is not reusable.
      this.close();
      return;
    }
    this.receivedThisExchange += d.length;
    this.firstByteTimer.stop();
    if (!ex.paused) this.idleTimer.start(ex.req.timeouts.idle);
    this.inPush = true;
    this.parser.push(d);
    this.inPush = false;
    const release = this.releaseAfterPush;
    this.releaseAfterPush = null;
    if (release) this.release(release);
  }

  private inPush = false;
  private releaseAfterPush: Exchange | null = null;

  private onHead(head: ResponseHead, framing: BodyFraming, mustClose: boolean): void {
    const ex = this.current;
    if (!ex) return;
    if (ex.continueWait) {
      // A final answer before we sent the body: never send it; the connection cannot be reused.
      ex.continueWait = null;
      this.continueTimer.stop();
      ex.requestDone = true;
      mustClose = true;
    }
    ex.keepAlive = headKeepsAlive(head) && !mustClose && framing.type !== 'close' && head.status !== 101 &&
      !ex.req.headers.tokens('connection').includes('close');
    const body = new Readable({
      highWaterMark: 64 * 1024,
      read: () => {
        if (this.current === ex && ex.paused) {
          ex.paused = false;
          this.idleTimer.start(ex.req.timeouts.idle);
          this.socket.resume();
        }
      },
    });
    // Errors reach 'error' listeners and promise-based readers; with none attached they must not crash the process.
    body.on('error', () => {});
    body.on('close', () => {
      if (this.current === ex && !ex.responseDone) this.fail(new HttpError('HTTP_ABORTED', 'response body destroyed before its end'), true);
    });
    ex.raw = { head, framing, body, trailers: ex.trailers, finished: ex.finished };
    ex.resolve(ex.raw);
  }

  private maybeFinish(ex: Exchange): void {
    if (this.current !== ex || !ex.responseDone) return;
    if (!ex.requestDone) {
      // The whole response came while the request body was still going out: stop sending, and do not reuse.
      ex.requestDone = true;
      ex.keepAlive = false;
    }
    this.current = null;
    this.firstByteTimer.stop();
    this.idleTimer.stop();
    this.continueTimer.stop();
    this.completed++;
    ex.settleFinished(true);
    // Inside a push, bytes after this response may still be on their way into the parser: decide after it.
    if (this.inPush) this.releaseAfterPush = ex;
    else this.release(ex);
  }

  private release(ex: Exchange): void {
    if (ex.keepAlive && !this.closed && this.parser.pendingBytes === 0) {
      this.socket.resume();
      this.onReusable(this);
    } else {
      this.close();
    }
  }

  private fail(err: Error, quiet = false): void {
    const ex = this.current;
    this.current = null;
    this.firstByteTimer.stop();
    this.idleTimer.stop();
    this.continueTimer.stop();
    this.parser.destroy();
    if (ex) {
      ex.continueWait = null;
      if (!ex.raw) ex.reject(err);
      else if (!quiet && !ex.raw.body.destroyed) ex.raw.body.destroy(err);
      ex.settleFinished(false);
    }
    this.close();
  }

  private onEof(err: Error | null): void {
    const ex = this.current;
    if (ex && !this.closed) {
      if (err) {
        this.fail(new HttpError('HTTP_CONNECTION_FAILED', `connection failed: ${err.message}`, err));
        return;
      }
      this.closed = true;
      this.parser.finish();
      if (this.current === ex) {
        this.fail(new HttpError('HTTP_PREMATURE_CLOSE', ex.raw ? 'connection closed before the response ended' : 'connection closed before a response arrived'));
      }
      return;
    }
    this.close();
  }

  private close(): void {
    const first = !this.closed;
    this.closed = true;
    if (!this.socket.destroyed) this.socket.destroy();
    if (first || !this.reportedClose) {
      this.reportedClose = true;
      this.onClosed(this);
    }
  }

  private reportedClose = false;
}
