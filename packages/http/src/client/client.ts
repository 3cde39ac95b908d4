import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import type { StreamTransport } from '@pnet/tls';
import { defaultClock, type HttpClock } from '../common/clock';
import { HttpError } from '../common/errors';
import { Headers, type HeaderInit, isToken } from '../common/headers';
import { collect, toBuffer } from '../common/io';
import type { ParserLimits } from '../common/parser';
import type { RawResponse, RequestBody, WireRequest } from './connection';
import { ConnectionPool, originKey, type Origin, type PoolOptions } from './pool';

export interface ClientTimeouts {
  /** Name lookup, TCP and TLS handshakes together. Default 30 000 ms. */
  connect?: number;
  /** From the end of the request to the first byte of the response. Default 60 000 ms. */
  firstByte?: number;
  /** Longest silence from the server while a response is awaited or read. Default 60 000 ms. */
  idle?: number;
  /** How long `Expect: 100-continue` waits before sending the body anyway. Default 1000 ms. */
  continue?: number;
}

export interface HttpClientOptions extends PoolOptions {
  /** Where byte streams come from (pnet TCP/TLS, the kernel, an in-memory pair). */
  transport: StreamTransport;
  /** Time for timeouts; defaults to Node timers. A `@pnet/nic` Clock fits. */
  clock?: HttpClock;
  /** Default timeouts (ms; 0 turns one off). */
  timeouts?: ClientTimeouts;
  /** Response head limits. Defaults: 16 KiB of head, 100 fields, 1 KiB chunk-size lines. */
  limits?: Partial<ParserLimits>;
}

export interface RequestOptions {
  /** Any token; default GET. */
  method?: string;
  /** Sent as given, in order and case. Host, Content-Length / Transfer-Encoding are added when absent. */
  headers?: HeaderInit;
  /** A whole body, or a stream of pieces (then sent chunked unless a Content-Length header is given). */
  body?: RequestBody;
  /** Follow redirects (default true, at most `maxRedirects`); false returns the 3xx response. */
  redirect?: boolean;
  /** Default 16. */
  maxRedirects?: number;
  /** Ask for gzip, deflate and br and decode them (default false). */
  decompress?: boolean;
  /** Send `Expect: 100-continue` and hold the body until 100 (or the continue timeout). */
  expectContinue?: boolean;
  /** Per-request timeouts, over the client's. */
  timeouts?: ClientTimeouts;
  /** Aborts the request (and its response body) with an HTTP_ABORTED error. */
  signal?: AbortSignal;
}

/** A response: head now, body as a stream (with backpressure). */
export class HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly httpVersion: string;
  readonly headers: Headers;
  /** Trailer fields of a chunked body, filled when the body has ended. */
  readonly trailers: Headers;
  /** The URL this response came from (after redirects). */
  readonly url: string;
  /** URLs of the redirects followed to get here, in order. */
  readonly redirects: readonly string[];
  /** The body; decoded when `decompress` was asked and the encoding is known. */
  readonly body: Readable;
  /** True when the body is decoded from a Content-Encoding. */
  readonly decoded: boolean;

  constructor(raw: RawResponse, url: string, redirects: string[], body: Readable, decoded: boolean) {
    this.status = raw.head.status;
    this.statusText = raw.head.statusText;
    this.httpVersion = `${raw.head.versionMajor}.${raw.head.versionMinor}`;
    this.headers = raw.head.headers;
    this.trailers = raw.trailers;
    this.url = url;
    this.redirects = redirects;
    this.body = body;
    this.decoded = decoded;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** The whole body; rejects past `limit` bytes. */
  buffer(limit?: number): Promise<Buffer> {
    return collect(this.body, limit);
  }

  async text(limit?: number): Promise<string> {
    return (await this.buffer(limit)).toString('utf8');
  }

  async json<T = unknown>(limit?: number): Promise<T> {
    return JSON.parse(await this.text(limit)) as T;
  }

  /** Reads and drops the rest of the body (so the connection can be reused). */
  discard(): void {
    this.body.resume();
  }
}

export interface ClientStats {
  /** Exchanges started (redirect hops and retries included). */
  requests: number;
  /** Requests sent again after a stale pooled connection failed. */
  retries: number;
  redirects: number;
  /** Exchanges that failed before a response head (network, protocol, timeout). */
  failures: number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TIMEOUTS: Required<ClientTimeouts> = { connect: 30_000, firstByte: 60_000, idle: 60_000, continue: 1000 };

/**
 * An HTTP/1.1 client over a StreamTransport: keep-alive pool per origin,
 * redirects, timeouts, optional decompression.
 */
export class HttpClient {
  readonly pool: ConnectionPool;
  private readonly clock: HttpClock;
  private readonly timeouts: Required<ClientTimeouts>;
  /** Counters for diagnostics. */
  readonly stats: ClientStats = { requests: 0, retries: 0, redirects: 0, failures: 0 };

  constructor(options: HttpClientOptions) {
    if (!options || typeof options.transport?.connect !== 'function') throw new TypeError('HttpClient: options.transport must be a StreamTransport');
    this.clock = options.clock ?? defaultClock();
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.pool = new ConnectionPool(options.transport, this.clock, options, options.limits);
  }

  /**
   * Sends a request and resolves with the response head (body still streaming).
   * Bad arguments throw at once; network and protocol failures reject with an HttpError.
   */
  request(url: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
    let target: URL;
    try {
      target = new URL(String(url));
    } catch {
      throw new TypeError(`invalid URL ${JSON.stringify(String(url))}`);
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new TypeError(`unsupported scheme ${target.protocol} (http: or https: only)`);
    const method = options.method ?? 'GET';
    if (typeof method !== 'string' || !isToken(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`);
    const headers = new Headers(options.headers);
    const body = options.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array) && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
      throw new TypeError('body must be a string, a Uint8Array or an async iterable (e.g. a Readable)');
    }
    const maxRedirects = options.maxRedirects ?? 16;
    if (!(maxRedirects >= 0)) throw new RangeError('maxRedirects must be 0 or more');
    const cl = headers.get('content-length');
    if (cl !== undefined && !/^\d+$/.test(cl)) throw new TypeError(`invalid Content-Length header ${JSON.stringify(cl)}`);
    if (cl !== undefined && (typeof body === 'string' || body instanceof Uint8Array) && toBuffer(body).length !== Number(cl)) {
      throw new TypeError(`Content-Length ${cl} does not match the body (${toBuffer(body).length} bytes)`);
    }
    if (options.signal?.aborted) return Promise.reject(aborted());
    return this.run(target, method, headers, body ?? null, options, maxRedirects);
  }

  /** A GET that reads the whole body. */
  async fetchBuffer(url: string, options: RequestOptions = {}): Promise<{ response: HttpResponse; body: Buffer }> {
    const response = await this.request(url, options);
    return { response, body: await response.buffer() };
  }

  /** Closes idle connections and refuses new requests. */
  close(): void {
    this.pool.close();
  }

  private async run(url: URL, method: string, headers: Headers, body: RequestBody | null, options: RequestOptions, maxRedirects: number): Promise<HttpResponse> {
    const followed: string[] = [];
    let bodyBuf: Buffer | AsyncIterable<Uint8Array | string> | null = body === null ? null : typeof body === 'string' || body instanceof Uint8Array ? toBuffer(body) : body;
    for (;;) {
      const raw = await this.exchange(url, method, headers, bodyBuf, options);
      const location = raw.head.headers.get('location');
      if (options.redirect === false || !REDIRECTS.has(raw.head.status) || location === undefined) {
        return this.wrap(raw, url, followed, method, options);
      }
      const status = raw.head.status;
      const streamBody = bodyBuf !== null && !Buffer.isBuffer(bodyBuf);
      if ((status === 307 || status === 308) && streamBody) {
        // A streamed body cannot be sent twice: hand the redirect to the caller.
        return this.wrap(raw, url, followed, method, options);
      }
      if (followed.length >= maxRedirects) {
        raw.body.destroy();
        throw new HttpError('HTTP_TOO_MANY_REDIRECTS', `more than ${maxRedirects} redirects (last to ${location})`);
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        raw.body.destroy();
        throw new HttpError('HTTP_BAD_REDIRECT', `invalid Location ${JSON.stringify(location.slice(0, 100))}`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        raw.body.destroy();
        throw new HttpError('HTTP_BAD_REDIRECT', `redirect to unsupported scheme ${next.protocol}`);
      }
      raw.body.resume(); // drain so the connection can go back to the pool
      headers = new Headers(headers);
      if (status === 301 || status === 302 || status === 303) {
        if (method !== 'HEAD') method = 'GET';
        bodyBuf = null;
        for (const h of ['content-length', 'content-type', 'transfer-encoding', 'content-encoding', 'expect']) headers.delete(h);
      }
      if (next.origin !== url.origin) {
        for (const h of ['authorization', 'cookie', 'proxy-authorization']) headers.delete(h);
      }
      headers.delete('host');
      this.stats.redirects++;
      next.hash = '';
      followed.push(next.href);
      url = next;
    }
  }

  private wrap(raw: RawResponse, url: URL, followed: string[], method: string, options: RequestOptions): HttpResponse {
    let body = raw.body;
    let decoded = false;
    const codings = raw.head.headers.tokens('content-encoding').filter((c) => c !== 'identity');
    const hasBody = method !== 'HEAD' && raw.framing.type !== 'none' && !(raw.framing.type === 'length' && raw.framing.length === 0);
    if (options.decompress && hasBody && codings.length > 0 && codings.every((c) => DECODERS[c])) {
      for (let i = codings.length - 1; i >= 0; i--) {
        const dec = DECODERS[codings[i]]();
        const src = body;
        body = pipeline(src, dec, () => {}) as unknown as Readable;
        dec.on('error', () => {});
      }
      decoded = true;
      // zlib's own errors become HttpErrors; the raw body's errors pass through pipeline.
      const out = body;
      out.on('error', () => {});
    }
    return new HttpResponse(raw, url.href, followed, body, decoded);
  }

  /** One request-response on a pooled connection, retried once on a stale one when safe. */
  private async exchange(url: URL, method: string, userHeaders: Headers, body: Buffer | AsyncIterable<Uint8Array | string> | null, options: RequestOptions): Promise<RawResponse> {
    const timeouts = { ...this.timeouts, ...options.timeouts };
    const origin: Origin = {
      secure: url.protocol === 'https:',
      host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
    };
    const wire = prepare(url, method, userHeaders, body, options, timeouts);
    const replayable = body === null || Buffer.isBuffer(body);
    const signal = options.signal;
    for (let attempt = 0; ; attempt++) {
      const acquiring = this.pool.acquire(origin, attempt > 0, timeouts.connect);
      const { conn, reused } = signal ? await raceAbort(acquiring, signal, (a) => a.conn.destroy()) : await acquiring;
      const onAbort = () => conn.destroy(aborted());
      signal?.addEventListener('abort', onAbort, { once: true });
      this.stats.requests++;
      try {
        const raw = await conn.send(wire);
        if (signal) void raw.finished.then(() => signal.removeEventListener('abort', onAbort));
        return raw;
      } catch (err) {
        signal?.removeEventListener('abort', onAbort);
        const stale = reused && conn.receivedThisExchange === 0 && err instanceof HttpError &&
          (err.code === 'HTTP_PREMATURE_CLOSE' || err.code === 'HTTP_CONNECTION_FAILED');
        if (attempt === 0 && stale && IDEMPOTENT.has(method.toUpperCase()) && replayable) {
          this.stats.retries++;
          continue;
        }
        this.stats.failures++;
        throw err;
      }
    }
  }
}

function aborted(): HttpError {
  return new HttpError('HTTP_ABORTED', 'request aborted');
}

/** `p`, or an abort error when `signal` fires first (then `cleanup` gets p's late value). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal, cleanup: (late: T) => void): Promise<T> {
  if (signal.aborted) {
    p.then(cleanup, () => {});
    return Promise.reject(aborted());
  }
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const onAbort = () => {
      if (done) return;
      done = true;
      p.then(cleanup, () => {});
      reject(aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        if (done) return;
        done = true;
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        if (done) return;
        done = true;
        reject(e);
      },
    );
  });
}

const DECODERS: Record<string, () => NodeJS.ReadWriteStream & import('node:stream').Duplex> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

function prepare(url: URL, method: string, user: Headers, body: Buffer | AsyncIterable<Uint8Array | string> | null, options: RequestOptions, timeouts: Required<ClientTimeouts>): WireRequest {
  const headers = new Headers();
  if (!user.has('host')) headers.append('Host', url.host);
  for (const [n, v] of user) headers.appendUnchecked(n, v);
  let bodyFraming: WireRequest['bodyFraming'] = 'none';
  let declaredLength = 0;
  const userCl = user.get('content-length');
  const userChunked = user.tokens('transfer-encoding').includes('chunked');
  if (body !== null) {
    if (userChunked) bodyFraming = 'chunked';
    else if (userCl !== undefined) {
      if (!/^\d+$/.test(userCl)) throw new TypeError(`invalid Content-Length header ${JSON.stringify(userCl)}`);
      bodyFraming = 'length';
      declaredLength = Number(userCl);
      if (Buffer.isBuffer(body) && body.length !== declaredLength) throw new TypeError(`Content-Length ${userCl} does not match the body (${body.length} bytes)`);
    } else if (Buffer.isBuffer(body)) {
      bodyFraming = 'length';
      declaredLength = body.length;
      headers.append('Content-Length', String(body.length));
    } else {
      bodyFraming = 'chunked';
      headers.append('Transfer-Encoding', 'chunked');
    }
  } else if (userCl === undefined && !userChunked && /^(POST|PUT|PATCH)$/i.test(method)) {
    headers.append('Content-Length', '0');
  }
  let expectContinue = false;
  if (bodyFraming !== 'none' && !(bodyFraming === 'length' && declaredLength === 0)) {
    if (options.expectContinue && !user.has('expect')) headers.append('Expect', '100-continue');
    expectContinue = headers.tokens('expect').includes('100-continue');
  }
  if (options.decompress && !user.has('accept-encoding')) headers.append('Accept-Encoding', 'gzip, deflate, br');
  return {
    method,
    target: `${url.pathname || '/'}${url.search}`,
    headers,
    body,
    bodyFraming,
    declaredLength,
    expectContinue,
    timeouts: { firstByte: timeouts.firstByte, idle: timeouts.idle, continue: timeouts.continue },
  };
}

export { originKey };
