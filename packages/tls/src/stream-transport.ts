/**
 * The part of a StreamTransport that does not care whose TCP carries the
 * bytes: argument checks, timeouts, TLS on top, error mapping. The two
 * transports (pnet's stack, the kernel) only supply raw streams and a timer.
 */
import type { Duplex } from 'node:stream';
import { invalidArgument, toTransportError, TransportError } from './errors';
import { checkPem, secureClient, ServerTls, SessionCache } from './secure';
import type { ConnectOptions, ListenOptions, StreamServer, StreamTransport } from './transport';

/** Where raw (plain) byte streams come from. */
export interface RawStreams {
  /** A connected stream to host:port (resolving the name first); rejects with a Node-style coded error. Honours `signal`. */
  open(host: string, port: number, signal: AbortSignal): Promise<Duplex>;
  /** Listens; calls `onStream` for each accepted stream. */
  listen(port: number, host: string | undefined, onStream: (s: Duplex) => void): Promise<{ port: number; close(): Promise<void> }>;
  /** Runs `fn` after `ms`; returns a cancel function. */
  timer(ms: number, fn: () => void): () => void;
}

/**
 * Waits for a freshly created stream to connect: resolves on 'connect', rejects (and destroys it) on 'error', on
 * abort, and, when `closeBeforeConnect` names the error, on an early 'close'. Both transports open raw streams this way.
 */
export function whenConnected(socket: Duplex, signal: AbortSignal, closeBeforeConnect?: () => Error): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => { done(); socket.destroy(); reject(err); };
    const onClose = () => onError(closeBeforeConnect!());
    const onConnect = () => { done(); resolve(socket); };
    const onAbort = () => onError(signal.reason);
    function done() {
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      socket.removeListener('connect', onConnect);
      signal.removeEventListener('abort', onAbort);
    }
    socket.once('error', onError);
    if (closeBeforeConnect) socket.once('close', onClose);
    socket.once('connect', onConnect);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Options shared by both transports. */
export interface TransportOptions {
  /** CAs trusted when a connect passes no `ca` (the embedded world's CA). Default: Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Resume TLS sessions automatically (per name, port and trust settings). A number sets how
   * many sessions to keep. Default true (256). An explicit `session` in connect wins.
   */
  sessionCache?: boolean | number;
  /** Time allowed for a server-side TLS handshake, ms (default 30 000; 0 = none). */
  handshakeTimeout?: number;
}

/** A StreamTransport plus the session cache it resumes from. */
export interface PnetStreamTransport extends StreamTransport {
  /** The automatic session cache (null when disabled). */
  readonly sessions: SessionCache | null;
}

function validateConnect(o: ConnectOptions): void {
  if (!o || typeof o !== 'object') throw invalidArgument('connect: options must be an object');
  if (typeof o.host !== 'string' || o.host.length === 0) throw invalidArgument(`connect: host must be a non-empty string, got ${JSON.stringify(o.host)}`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw invalidArgument(`connect: port must be an integer 1..65535, got ${o.port}`);
  if (o.timeout !== undefined && !(typeof o.timeout === 'number' && o.timeout > 0)) throw invalidArgument(`connect: timeout must be a positive number of ms, got ${o.timeout}`);
  if (o.rejectUnauthorized !== undefined && typeof o.rejectUnauthorized !== 'boolean') throw invalidArgument('connect: rejectUnauthorized must be a boolean');
  if (!o.secure) {
    for (const k of ['servername', 'cert', 'key', 'session', 'ALPNProtocols'] as const) {
      if (o[k] !== undefined) throw invalidArgument(`connect: ${k} only applies with secure: true`);
    }
  }
  if ((o.cert === undefined) !== (o.key === undefined)) throw invalidArgument('connect: a client certificate needs both cert and key');
  checkPem('connect: ca', o.ca);
}

function validateListen(o: ListenOptions): void {
  if (!o || typeof o !== 'object') throw invalidArgument('listen: options must be an object');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw invalidArgument(`listen: port must be an integer 0..65535, got ${o.port}`);
  if (o.host !== undefined && typeof o.host !== 'string') throw invalidArgument('listen: host must be a string');
}

export function createStreamTransport(raw: RawStreams, options: TransportOptions = {}): PnetStreamTransport {
  checkPem('transport ca', options.ca);
  const cacheSize = options.sessionCache === false ? 0 : typeof options.sessionCache === 'number' ? options.sessionCache : 256;
  const sessions = cacheSize > 0 ? new SessionCache(cacheSize) : null;
  const handshakeTimeout = options.handshakeTimeout ?? 30_000;

  async function connect(o: ConnectOptions): Promise<Duplex> {
    validateConnect(o);
    const controller = new AbortController();
    let phase = 'name lookup and TCP connect';
    const stopTimer = o.timeout
      ? raw.timer(o.timeout, () => controller.abort(new TransportError(
        `${o.secure ? 'TLS connection' : 'connection'} to ${o.host}:${o.port} failed: timed out after ${o.timeout} ms (during ${phase}) [ETIMEDOUT]`,
        { code: 'ETIMEDOUT', kind: 'timeout', host: o.host, port: o.port, tls: phase === 'TLS handshake' })))
      : () => {};
    const onOuterAbort = () => controller.abort(new TransportError(`connection to ${o.host}:${o.port} aborted [ABORT_ERR]`, {
      code: 'ABORT_ERR', kind: 'aborted', host: o.host, port: o.port, cause: o.signal?.reason,
    }));
    if (o.signal?.aborted) onOuterAbort();
    else o.signal?.addEventListener('abort', onOuterAbort, { once: true });
    try {
      let stream: Duplex;
      try {
        stream = await raw.open(o.host, o.port, controller.signal);
      } catch (err) {
        throw toTransportError(controller.signal.aborted ? controller.signal.reason : err, { host: o.host, port: o.port, tls: false });
      }
      if (!o.secure) return stream;
      phase = 'TLS handshake';
      return await secureClient(stream, o, {
        host: o.host, port: o.port, defaultCa: options.ca, sessionCache: sessions ?? undefined, signal: controller.signal,
      });
    } finally {
      stopTimer();
      o.signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  async function listen(o: ListenOptions, onConnection: (socket: Duplex) => void): Promise<StreamServer> {
    validateListen(o);
    if (typeof onConnection !== 'function') throw invalidArgument('listen: onConnection must be a function');
    const serverTls = o.secure ? new ServerTls(o.secure) : null;
    const report = (err: unknown) => {
      if (o.onError) o.onError(toTransportError(err, { tls: serverTls !== null }));
    };
    let server: { port: number; close(): Promise<void> };
    try {
      server = await raw.listen(o.port, o.host, (stream) => {
        if (!serverTls) {
          onConnection(stream);
          return;
        }
        const peer = stream as Duplex & { remoteAddress?: unknown; remotePort?: unknown };
        serverTls.accept(stream, {
          host: typeof peer.remoteAddress === 'string' ? peer.remoteAddress : undefined,
          port: typeof peer.remotePort === 'number' ? peer.remotePort : undefined,
          startTimer: handshakeTimeout > 0 ? (fn) => raw.timer(handshakeTimeout, fn) : undefined,
        }).then((secure) => {
          // A TLSSocket over a JS stream has no peer address of its own: give it the TCP stream's.
          const s = secure as Duplex & { remoteAddress?: unknown };
          if (typeof s.remoteAddress !== 'string' && typeof peer.remoteAddress === 'string') {
            Object.defineProperty(s, 'remoteAddress', { value: peer.remoteAddress, configurable: true });
            Object.defineProperty(s, 'remotePort', { value: peer.remotePort, configurable: true });
          }
          onConnection(secure);
        }, report);
      });
    } catch (err) {
      throw toTransportError(err, { host: o.host, port: o.port, tls: false });
    }
    return server;
  }

  return { connect, listen, sessions };
}
