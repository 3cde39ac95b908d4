import { Readable, Writable, type Duplex } from 'node:stream';
import type { ListenOptions, StreamServer, StreamTransport } from '@pnet/tls';
import { defaultClock, Timer, type HttpClock } from '../common/clock';
import { HttpError } from '../common/errors';
import { Headers, type HeaderInit } from '../common/headers';
import { HttpParser, headKeepsAlive, type BodyFraming, type ParserLimits, type RequestHead } from '../common/parser';

const CRLF = Buffer.from('\r\n');

export const STATUS_TEXT: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information',
  204: 'No Content', 205: 'Reset Content', 206: 'Partial Content', 300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found',
  303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request',
  401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed', 418: "I'm a teapot",
  421: 'Misdirected Request', 422: 'Unprocessable Content', 426: 'Upgrade Required', 428: 'Precondition Required',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

/** A request as the server received it; the body streams with backpressure. */
export interface ServerRequest {
  method: string;
  /** The request-target as sent (e.g. `/get?a=1`). */
  target: string;
  /** Path and query parsed against the Host (or `localhost`). */
  url: URL;
  httpVersion: string;
  headers: Headers;
  body: Readable;
  /** Trailer fields of a chunked body, filled when the body has ended. */
  trailers: Headers;
  /** The peer's address when the stream knows it (net/tls sockets, pnet TCP). */
  remoteAddress?: string;
  /** The stream under this request. */
  socket: Duplex;
}

export interface ServerStats {
  connections: number;
  requests: number;
  /** Requests refused as malformed (400, 431, 501) or with a broken body. */
  badRequests: number;
  /** Handlers that threw or rejected. */
  handlerErrors: number;
  /** Heads or bodies that stalled past their timeout. */
  timeouts: number;
}

export type RequestHandler = (req: ServerRequest, res: ServerResponse) => void | Promise<void>;
/** Takes over the stream for an `Upgrade` request; `head` holds bytes that came after the request head. */
export type UpgradeHandler = (req: ServerRequest, socket: Duplex, head: Buffer) => void;

export interface HttpServerOptions {
  clock?: HttpClock;
  limits?: Partial<ParserLimits>;
  /** Idle time allowed between requests on a kept-alive connection. Default 5000 ms. */
  keepAliveTimeout?: number;
  /** Time allowed for a request head to arrive (slow-loris guard). Default 30 000 ms. */
  headersTimeout?: number;
  /** Longest silence from the client while a request body is being read (not counting time the handler does not read). Default 60 000 ms. */
  bodyIdleTimeout?: number;
  /** Requests that carry `Upgrade` (e.g. WebSocket) go here; without it they are served as plain requests. */
  onUpgrade?: UpgradeHandler;
  /** A handler threw or rejected (the client got a 500 or a closed connection). */
  onError?: (err: unknown, req: ServerRequest) => void;
}

/**
 * A response being written. A Writable: `write` and `end` send body bytes, so a
 * stream can be piped into it. Framing: the Content-Length you set, else the
 * length of a body given whole to `end` before any `write`, else chunked (or
 * until close for HTTP/1.0 clients). HEAD, 204 and 304 responses send no body.
 */
export class ServerResponse extends Writable {
  statusCode = 200;
  statusMessage: string | undefined;
  readonly headers = new Headers();
  headersSent = false;
  /** Set to true (or send `Connection: close`) to close the connection after this response. */
  shouldClose = false;
  private framing: 'length' | 'chunked' | 'close' | 'none' = 'none';
  private remaining = 0;
  private trailers: Headers | null = null;

  constructor(private readonly socket: Duplex, private readonly req: ServerRequest, private readonly http10: boolean, wantsClose: boolean) {
    super({ decodeStrings: true });
    this.shouldClose = wantsClose;
  }

  setHeader(name: string, value: string | number | readonly string[]): this {
    if (this.headersSent) throw new Error('ServerResponse.setHeader: headers already sent');
    this.headers.delete(name);
    if (Array.isArray(value)) for (const v of value) this.headers.append(name, v);
    else this.headers.append(name, value as string | number);
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.headers.get(name);
  }

  removeHeader(name: string): void {
    if (this.headersSent) throw new Error('ServerResponse.removeHeader: headers already sent');
    this.headers.delete(name);
  }

  writeHead(status: number, headers?: HeaderInit): this;
  writeHead(status: number, statusMessage: string, headers?: HeaderInit): this;
  writeHead(status: number, a?: string | HeaderInit, b?: HeaderInit): this {
    if (this.headersSent) throw new Error('ServerResponse.writeHead: headers already sent');
    if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`invalid status code ${status}`);
    this.statusCode = status;
    if (typeof a === 'string') this.statusMessage = a;
    const h = typeof a === 'string' ? b : a;
    if (h) for (const [n, v] of new Headers(h)) this.headers.append(n, v);
    return this;
  }

  /** Trailer fields sent after a chunked body (ignored for other framings). */
  addTrailers(trailers: HeaderInit): void {
    this.trailers ??= new Headers();
    for (const [n, v] of new Headers(trailers)) this.trailers.append(n, v);
  }

  /** Sends the head now (otherwise it goes with the first body bytes or `end`). */
  flushHeaders(): void {
    this.sendHead(undefined);
    this.send([]);
  }

  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    if (typeof chunk === 'function') return super.end(chunk as () => void);
    if (!this.headersSent && this.writableLength === 0 && !this.wroteBody && chunk !== undefined && chunk !== null) {
      const n = typeof chunk === 'string' ? Buffer.byteLength(chunk, (typeof encoding === 'string' ? encoding : 'utf8') as BufferEncoding) : (chunk as Uint8Array).byteLength;
      if (!this.headers.has('content-length') && !this.headers.has('transfer-encoding')) this.implicitLength = n;
    } else if (!this.headersSent && !this.wroteBody && (chunk === undefined || chunk === null)) {
      if (!this.headers.has('content-length') && !this.headers.has('transfer-encoding')) this.implicitLength = 0;
    }
    return super.end(chunk as string, encoding as BufferEncoding, cb as () => void);
  }

  private wroteBody = false;
  private implicitLength: number | undefined;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.wroteBody = true;
    this.sendHead(this.implicitLength);
    if (this.socket.destroyed) return cb(new HttpError('HTTP_PREMATURE_CLOSE', 'connection closed'));
    switch (this.framing) {
      case 'none':
        return cb();
      case 'length':
        if (chunk.length > this.remaining) {
          this.socket.destroy();
          return cb(new HttpError('HTTP_BODY_LENGTH_MISMATCH', 'response body is longer than its Content-Length'));
        }
        this.remaining -= chunk.length;
        return this.send([chunk], cb);
      case 'chunked':
        if (chunk.length === 0) return cb();
        return this.send([Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF], cb);
      case 'close':
        return this.send([chunk], cb);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sendHead(this.implicitLength);
    if (this.framing === 'chunked') {
      let tail = '0\r\n';
      if (this.trailers) for (const [n, v] of this.trailers) tail += `${n}: ${v}\r\n`;
      return this.send([Buffer.from(`${tail}\r\n`, 'latin1')], cb);
    }
    if (this.framing === 'length' && this.remaining > 0) {
      this.shouldClose = true;
      this.socket.destroy();
      return cb(new HttpError('HTTP_BODY_LENGTH_MISMATCH', `response body is ${this.remaining} bytes shorter than its Content-Length`));
    }
    this.send([], cb);
  }

  private pendingHead: Buffer | null = null;

  /** Writes `parts` with the head (if not yet written) in one socket write. */
  private send(parts: Buffer[], cb?: (err?: Error | null) => void): void {
    if (this.pendingHead) {
      parts = [this.pendingHead, ...parts];
      this.pendingHead = null;
    }
    if (parts.length === 0) return void cb?.();
    if (this.socket.destroyed || this.socket.writableEnded) return void cb?.(new HttpError('HTTP_PREMATURE_CLOSE', 'connection closed'));
    this.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts), (err) => cb?.(err ?? null));
  }

  private sendHead(implicitLength: number | undefined): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const status = this.statusCode;
    const noBody = this.req.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    const h = this.headers;
    if (h.tokens('connection').includes('close')) this.shouldClose = true;
    const cl = h.get('content-length');
    if (status === 204 || (status >= 100 && status < 200)) {
      h.delete('content-length');
      h.delete('transfer-encoding');
      this.framing = 'none';
    } else if (cl !== undefined) {
      this.framing = noBody ? 'none' : 'length';
      this.remaining = /^\d+$/.test(cl) ? Number(cl) : 0;
    } else if (h.tokens('transfer-encoding').includes('chunked')) {
      this.framing = noBody ? 'none' : 'chunked';
    } else if (implicitLength !== undefined) {
      h.append('Content-Length', String(implicitLength));
      this.framing = noBody ? 'none' : 'length';
      this.remaining = implicitLength;
    } else if (noBody) {
      this.framing = 'none';
    } else if (this.http10) {
      this.framing = 'close';
      this.shouldClose = true;
    } else {
      h.append('Transfer-Encoding', 'chunked');
      this.framing = 'chunked';
    }
    if (this.shouldClose && !h.tokens('connection').includes('close')) h.append('Connection', 'close');
    if (!this.shouldClose && this.http10 && !h.has('connection')) h.append('Connection', 'keep-alive');
    let head = `HTTP/1.1 ${status} ${this.statusMessage ?? STATUS_TEXT[status] ?? 'Unknown'}\r\n`;
    for (const [n, v] of h) head += `${n}: ${v}\r\n`;
    this.pendingHead = Buffer.from(`${head}\r\n`, 'latin1');
  }
}

/** An HTTP/1.1 server over any Duplex, or over a StreamTransport's listener. */
export class HttpServer {
  private readonly clock: HttpClock;
  private readonly listeners = new Set<StreamServer>();
  private readonly connections = new Set<Duplex>();
  private closing = false;
  /** Counters: bad input from the wire is counted and answered, never thrown. */
  readonly stats: ServerStats = { connections: 0, requests: 0, badRequests: 0, handlerErrors: 0, timeouts: 0 };

  constructor(private readonly handler: RequestHandler, private readonly options: HttpServerOptions = {}) {
    if (typeof handler !== 'function') throw new TypeError('HttpServer: handler must be a function');
    this.clock = options.clock ?? defaultClock();
  }

  /** Accepts connections from `transport` and serves them. */
  async listen(transport: StreamTransport, options: ListenOptions): Promise<StreamServer> {
    const server = await transport.listen(options, (socket) => this.handle(socket));
    this.listeners.add(server);
    return server;
  }

  /** Open connections (for tests and diagnostics). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening, closes idle connections now and the others after their current response. */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.listeners].map((l) => l.close());
    this.listeners.clear();
    for (const c of this.connections) c.emit('pnet:server-closing');
    await Promise.all(all);
  }

  /** Serves HTTP on one stream until either side closes it. */
  handle(socket: Duplex): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    this.stats.connections++;
    new ServerConnection(socket, this.handler, this.options, this.clock, () => this.closing, () => this.connections.delete(socket), this.stats);
  }
}

class ServerConnection {
  private readonly parser: HttpParser;
  private req: ServerRequest | null = null;
  private res: ServerResponse | null = null;
  private reqDone = false;
  private resDone = false;
  private bodyPaused = false;
  private closed = false;
  private readonly keepAliveTimer: Timer;
  private readonly headersTimer: Timer;
  private readonly bodyTimer: Timer;
  private upgraded = false;

  constructor(
    private readonly socket: Duplex,
    private readonly handler: RequestHandler,
    private readonly options: HttpServerOptions,
    clock: HttpClock,
    private readonly isClosing: () => boolean,
    private readonly onGone: () => void,
    private readonly stats: ServerStats,
  ) {
    this.keepAliveTimer = new Timer(clock, () => this.close());
    this.headersTimer = new Timer(clock, () => {
      this.stats.timeouts++;
      this.reject(408, 'request head not received in time');
    });
    this.bodyTimer = new Timer(clock, () => {
      this.stats.timeouts++;
      const req = this.req;
      if (req && !req.body.destroyed) req.body.destroy(new HttpError('HTTP_IDLE_TIMEOUT', 'request body stalled'));
      this.close();
    });
    this.parser = new HttpParser('request', {
      onHead: (head, framing) => this.onHead(head as RequestHead, framing),
      onBody: (chunk) => {
        if (this.req && !this.req.body.destroyed && !this.req.body.push(chunk)) {
          this.bodyPaused = true;
          this.bodyTimer.stop();
          this.socket.pause();
        }
      },
      onEnd: (trailers) => {
        if (!this.req) return;
        for (const [n, v] of trailers) this.req.trailers.appendUnchecked(n, v);
        this.reqDone = true;
        this.bodyTimer.stop();
        if (!this.req.body.destroyed) this.req.body.push(null);
        this.maybeNext();
      },
      onError: (err) => (this.stats.badRequests++, this.reject(err.code === 'HTTP_HEADER_OVERFLOW' ? 431 : err.code === 'HTTP_INVALID_TRANSFER_ENCODING' ? 501 : 400, err.message, err)),
    }, options.limits);
    socket.on('data', (d: Buffer) => {
      if (this.upgraded) return;
      this.keepAliveTimer.stop();
      if (this.parser.idle) this.headersTimer.start(this.options.headersTimeout ?? 30_000);
      else if (this.req && !this.reqDone && !this.bodyPaused) this.bodyTimer.start(this.options.bodyIdleTimeout ?? 60_000);
      this.parser.push(d);
      // Between requests, hold further (pipelined) bytes in the socket until the response is done.
      if (this.parser.done && this.parser.pendingBytes > 0) this.socket.pause();
    });
    socket.on('end', () => this.onPeerEnd());
    socket.on('close', () => this.onEof());
    socket.on('error', () => this.onEof());
    socket.on('pnet:server-closing', () => {
      if (!this.req) this.close();
      else if (this.res) this.res.shouldClose = true;
    });
    this.keepAliveTimer.start(this.options.keepAliveTimeout ?? 5000);
  }

  private onHead(head: RequestHead, framing: BodyFraming): void {
    this.headersTimer.stop();
    this.stats.requests++;
    const host = head.headers.get('host');
    let url: URL;
    try {
      url = new URL(head.target.startsWith('/') ? head.target : head.target === '*' ? '/' : head.target, `http://${host && /^[^\s/?#@]+$/.test(host) ? host : 'localhost'}`);
    } catch {
      url = new URL('http://localhost/');
    }
    const remote = (this.socket as { remoteAddress?: string }).remoteAddress;
    const body = new Readable({
      highWaterMark: 64 * 1024,
      read: () => {
        if (this.bodyPaused) {
          this.bodyPaused = false;
          if (!this.reqDone) this.bodyTimer.start(this.options.bodyIdleTimeout ?? 60_000);
          this.socket.resume();
        }
      },
    });
    body.on('error', () => {});
    const req: ServerRequest = {
      method: head.method, target: head.target, url, httpVersion: `${head.versionMajor}.${head.versionMinor}`,
      headers: head.headers, body, trailers: new Headers(), socket: this.socket, ...(remote ? { remoteAddress: remote } : {}),
    };
    this.req = req;
    this.reqDone = false;
    this.resDone = false;
    if (framing.type !== 'none') this.bodyTimer.start(this.options.bodyIdleTimeout ?? 60_000);
    if (this.options.onUpgrade && head.headers.has('upgrade') && head.headers.tokens('connection').includes('upgrade') && framing.type === 'none') {
      this.upgraded = true;
      this.socket.pause();
      this.socket.removeAllListeners('data');
      this.keepAliveTimer.stop();
      // The parser has already ended this body-less message; what follows the head belongs to the new protocol.
      queueMicrotask(() => {
        const rest = this.parser.takePending();
        this.detach();
        this.options.onUpgrade!(req, this.socket, rest);
      });
      return;
    }
    const http10 = head.versionMinor === 0;
    const res = new ServerResponse(this.socket, req, http10, !headKeepsAlive(head) || this.isClosing());
    this.res = res;
    res.on('error', () => {});
    res.on('finish', () => {
      this.resDone = true;
      this.maybeNext();
    });
    if (head.headers.tokens('expect').includes('100-continue') && framing.type !== 'none') {
      this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    }
    let result: void | Promise<void>;
    try {
      result = this.handler(req, res);
    } catch (err) {
      this.handlerFailed(err, req, res);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(undefined, (err) => this.handlerFailed(err, req, res));
    }
  }

  private handlerFailed(err: unknown, req: ServerRequest, res: ServerResponse): void {
    this.stats.handlerErrors++;
    this.options.onError?.(err, req);
    if (!res.headersSent && !res.writableEnded) {
      res.statusCode = 500;
      res.headers.raw.length = 0;
      res.shouldClose = true;
      res.end('Internal Server Error\n');
    } else {
      this.close();
    }
  }

  /** After both the request body and the response are done: next request, or close. */
  private maybeNext(): void {
    if (!this.resDone || this.closed) return;
    const res = this.res!;
    if (!this.reqDone) {
      // The handler answered without reading the whole body: read and drop it, within reason.
      if (res.shouldClose) return this.close();
      this.req!.body.resume();
      return;
    }
    this.req = null;
    this.res = null;
    if (res.shouldClose) {
      this.close();
      return;
    }
    this.bodyPaused = false;
    this.socket.resume();
    this.parser.reset(); // may start serving a pipelined request at once
    if (this.parser.idle) this.keepAliveTimer.start(this.options.keepAliveTimeout ?? 5000);
    else if (!this.req && !this.closed) this.headersTimer.start(this.options.headersTimeout ?? 30_000);
  }

  /** Answers a bad request with `status` and closes. */
  private reject(status: number, message: string, err?: HttpError): void {
    this.headersTimer.stop();
    this.parser.destroy();
    if (this.req && this.res) {
      // A request was already being served: its body is broken. Answer 400 if the handler has not answered yet.
      const res = this.res;
      if (!this.req.body.destroyed) this.req.body.destroy(err ?? new HttpError('HTTP_PREMATURE_CLOSE', message));
      if (res.headersSent || this.socket.destroyed) {
        this.close();
        return;
      }
      res.headersSent = true;
    }
    const body = `${message}\n`;
    this.socket.write(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, 'latin1');
    this.socket.end();
    this.detach();
  }

  /** The client finished sending. A request in progress still gets its response (when the stream can still carry it). */
  private onPeerEnd(): void {
    if (this.closed || this.upgraded) return;
    if (this.req && this.res && !this.resDone && this.reqDone && this.socket.writable) {
      this.res.shouldClose = true;
      this.parser.destroy();
      return;
    }
    this.onEof();
  }

  private onEof(): void {
    if (this.closed || this.upgraded) return;
    this.parser.finish();
    if (this.req && !this.reqDone && !this.req.body.destroyed) this.req.body.destroy(new HttpError('HTTP_PREMATURE_CLOSE', 'client closed the connection before the request body ended'));
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.keepAliveTimer.stop();
    this.headersTimer.stop();
    this.bodyTimer.stop();
    this.parser.destroy();
    if (!this.socket.destroyed) {
      this.socket.end();
      // Do not wait for a peer that never closes its side.
      this.socket.once('finish', () => this.socket.destroy());
    }
    this.onGone();
  }

  private detach(): void {
    this.closed = true;
    this.keepAliveTimer.stop();
    this.headersTimer.stop();
    this.bodyTimer.stop();
    this.onGone();
  }
}
