import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ConnectOptions, StreamTransport } from '@pnet/tls';
import { defaultClock, Timer, type HttpClock, type RandomSource } from '../common/clock';
import { HttpError } from '../common/errors';
import { Headers, type HeaderInit, isToken } from '../common/headers';
import { HttpParser, type ParserLimits, type ResponseHead } from '../common/parser';
import type { ServerRequest } from '../server/server';
import { STATUS_TEXT } from '../server/server';
import { WebSocket } from './websocket';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value for a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface WebSocketConnectOptions {
  transport: StreamTransport;
  /** Extra request header fields (kept in order and case). */
  headers?: HeaderInit;
  /** Subprotocols to offer. */
  protocols?: string[];
  clock?: HttpClock;
  /** Key and masks; defaults to crypto randomness. */
  random?: RandomSource;
  /** Connect plus handshake, in ms. Default 30 000; 0 turns it off. */
  timeout?: number;
  maxPayload?: number;
  closeTimeout?: number;
  /** TLS settings for wss:. */
  tls?: Omit<ConnectOptions, 'host' | 'port' | 'secure' | 'timeout'>;
  limits?: Partial<ParserLimits>;
}

/** Opens a ws: or wss: connection: TCP (and TLS), then the HTTP upgrade with its key check. */
export function connectWebSocket(url: string | URL, options: WebSocketConnectOptions): Promise<WebSocket> {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new TypeError(`invalid URL ${JSON.stringify(String(url))}`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`unsupported scheme ${u.protocol} (ws: or wss: only)`);
  if (u.hash) throw new TypeError('a WebSocket URL has no fragment');
  for (const p of options.protocols ?? []) if (!isToken(p)) throw new TypeError(`invalid subprotocol ${JSON.stringify(p)}`);
  if (typeof options.transport?.connect !== 'function') throw new TypeError('connectWebSocket: options.transport must be a StreamTransport');
  const extra = new Headers(options.headers);
  return open(u, options, extra);
}

async function open(u: URL, options: WebSocketConnectOptions, extra: Headers): Promise<WebSocket> {
  const clock = options.clock ?? defaultClock();
  const secure = u.protocol === 'wss:';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : secure ? 443 : 80;
  const timeout = options.timeout ?? 30_000;

  let socket: Duplex | null = null;
  let timedOut = false;
  const abort = new AbortController();
  const timer = new Timer(clock, () => {
    timedOut = true;
    abort.abort();
    socket?.destroy();
  });
  timer.start(timeout);
  try {
    try {
      socket = await options.transport.connect({ ...(secure ? options.tls : {}), host, port, secure, signal: abort.signal });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new HttpError('HTTP_CONNECTION_FAILED', `cannot connect to ${u.host}: ${e?.code ? `${e.code} ` : ''}${e?.message ?? String(err)}`, err);
    }
    if (timedOut) {
      socket.destroy();
      throw new HttpError('HTTP_CONNECT_TIMEOUT', `WebSocket connect to ${u.host} took more than ${timeout} ms`);
    }
    const keyBytes = Buffer.allocUnsafe(16);
    if (options.random) for (let i = 0; i < 16; i += 4) keyBytes.writeUInt32BE(options.random.nextU32() >>> 0, i);
    else randomBytes(16).copy(keyBytes);
    const key = keyBytes.toString('base64');
    const h = new Headers();
    if (!extra.has('host')) h.append('Host', u.host);
    h.append('Upgrade', 'websocket');
    h.append('Connection', 'Upgrade');
    h.append('Sec-WebSocket-Key', key);
    h.append('Sec-WebSocket-Version', '13');
    if (options.protocols?.length) h.append('Sec-WebSocket-Protocol', options.protocols.join(', '));
    for (const [n, v] of extra) h.appendUnchecked(n, v);
    let head = `GET ${u.pathname || '/'}${u.search} HTTP/1.1\r\n`;
    for (const [n, v] of h) head += `${n}: ${v}\r\n`;
    socket.write(`${head}\r\n`, 'latin1');

    const { response, rest } = await readResponseHead(socket, options.limits, () => timedOut);
    const fail = (why: string) => {
      socket!.destroy();
      return new HttpError('WS_HANDSHAKE_FAILED', why);
    };
    if (response.status !== 101) throw fail(`server answered ${response.status} ${response.statusText} instead of 101`);
    if (!response.headers.tokens('upgrade').includes('websocket')) throw fail('101 response without Upgrade: websocket');
    if (!response.headers.tokens('connection').includes('upgrade')) throw fail('101 response without Connection: upgrade');
    if (response.headers.get('sec-websocket-accept') !== acceptKey(key)) throw fail('Sec-WebSocket-Accept does not match the key');
    if (response.headers.has('sec-websocket-extensions')) throw fail('server chose an extension that was not offered');
    const protocol = response.headers.get('sec-websocket-protocol') ?? '';
    if (protocol && !(options.protocols ?? []).includes(protocol)) throw fail(`server chose subprotocol ${protocol}, which was not offered`);
    timer.stop();
    return new WebSocket(socket, {
      role: 'client', clock, protocol, head: rest,
      ...(options.random ? { random: options.random } : {}),
      ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
      ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout } : {}),
    });
  } catch (err) {
    timer.stop();
    socket?.destroy();
    if (timedOut && !(err instanceof HttpError && err.code === 'HTTP_CONNECT_TIMEOUT')) {
      throw new HttpError('HTTP_CONNECT_TIMEOUT', `WebSocket handshake with ${u.host} took more than ${timeout} ms`);
    }
    throw err;
  }
}

function readResponseHead(socket: Duplex, limits: Partial<ParserLimits> | undefined, timedOut: () => boolean): Promise<{ response: ResponseHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, value?: { response: ResponseHead; rest: Buffer }) => {
      if (done) return;
      done = true;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      if (err) reject(err);
      else resolve(value!);
    };
    let head: ResponseHead | null = null;
    const parser = new HttpParser('response', {
      onHead: (h) => {
        head = h as ResponseHead;
      },
      onBody: () => {},
      onEnd: () => {},
      onError: (err) => finish(err),
    }, limits);
    parser.expectResponseTo('GET');
    const onData = (d: Buffer) => {
      parser.push(d);
      if (head) {
        // Whatever follows a 101 head is WebSocket frames; a non-101 answer is refused anyway.
        finish(null, { response: head, rest: head.status === 101 ? parser.takePending() : Buffer.alloc(0) });
      }
    };
    const onEnd = () => finish(timedOut() ? new HttpError('HTTP_CONNECT_TIMEOUT', 'handshake timed out') : new HttpError('WS_HANDSHAKE_FAILED', 'connection closed during the handshake'));
    const onError = (e: Error) => finish(new HttpError('WS_HANDSHAKE_FAILED', `connection failed during the handshake: ${e.message}`, e));
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}

export interface WebSocketAcceptOptions {
  /** Picks one of the offered subprotocols (or none). Default: none. */
  selectProtocol?: (offered: string[], req: ServerRequest) => string | undefined;
  /** Extra response header fields for the 101. */
  headers?: HeaderInit;
  clock?: HttpClock;
  maxPayload?: number;
  closeTimeout?: number;
}

/**
 * Completes a server-side upgrade (use from `HttpServer`'s `onUpgrade`). A bad
 * handshake gets a 400 (or 426 for a wrong version) and null.
 */
export function acceptWebSocket(req: ServerRequest, socket: Duplex, head: Buffer, options: WebSocketAcceptOptions = {}): WebSocket | null {
  const refuse = (status: number, why: string, extra = '') => {
    const body = `${why}\n`;
    socket.write(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n${extra}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, 'latin1');
    socket.end();
    socket.resume();
    return null;
  };
  const key = req.headers.get('sec-websocket-key') ?? '';
  if (req.method !== 'GET') return refuse(405, 'WebSocket upgrade needs GET');
  if (!req.headers.tokens('upgrade').includes('websocket')) return refuse(400, 'Upgrade must be websocket');
  if (!req.headers.tokens('connection').includes('upgrade')) return refuse(400, 'Connection must include upgrade');
  if (req.headers.get('sec-websocket-version') !== '13') return refuse(426, 'unsupported WebSocket version', 'Sec-WebSocket-Version: 13\r\n');
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return refuse(400, 'invalid Sec-WebSocket-Key');
  const offered = req.headers.tokens('sec-websocket-protocol');
  const protocol = options.selectProtocol?.(offered, req);
  if (protocol !== undefined && !offered.includes(protocol.toLowerCase())) throw new Error(`selectProtocol chose ${protocol}, which was not offered`);
  const h = new Headers();
  h.append('Upgrade', 'websocket');
  h.append('Connection', 'Upgrade');
  h.append('Sec-WebSocket-Accept', acceptKey(key));
  if (protocol) h.append('Sec-WebSocket-Protocol', protocol);
  for (const [n, v] of new Headers(options.headers)) h.appendUnchecked(n, v);
  let out = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const [n, v] of h) out += `${n}: ${v}\r\n`;
  socket.write(`${out}\r\n`, 'latin1');
  return new WebSocket(socket, {
    role: 'server', head, protocol: protocol ?? '',
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
    ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout } : {}),
  });
}

/** The echo.test behaviour: every message goes back as it came (text as text, binary as binary). */
export function websocketEcho(ws: WebSocket): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    ws.send(isBinary ? data : data.toString('utf8'), { binary: isBinary });
  });
}

/** An `onUpgrade` for HttpServer that accepts WebSocket and echoes. */
export function websocketEchoUpgrade(options: WebSocketAcceptOptions = {}): (req: ServerRequest, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const ws = acceptWebSocket(req, socket, head, options);
    if (ws) websocketEcho(ws);
  };
}
