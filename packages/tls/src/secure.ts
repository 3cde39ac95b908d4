/**
 * TLS over any connected Duplex: Node's tls (OpenSSL) does the protocol and the
 * cryptography; this file only sets it up safely and reports failures plainly.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { invalidArgument, toTransportError, TransportError } from './errors';
import type { ConnectOptions, ServerSecureOptions } from './transport';

/**
 * Once TLS sits on a JS stream (pnet's TcpSocket), the TLS socket decides when
 * to end the TCP stream. The TLS socket has already copied the stream's
 * allowHalfOpen (false, like net.Socket); the stream itself must not end its
 * write side on the peer's FIN by itself, or whatever the TLS layer writes in
 * answer to that FIN (a reply, close_notify) is lost after our own FIN.
 */
function keepRawHalfOpen(raw: Duplex): void {
  (raw as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
}

/** A CA option must hold PEM certificates; OpenSSL silently ignores anything else, and every peer would then look untrusted. */
export function checkPem(what: string, pem: Pem): void {
  if (pem === undefined) return;
  for (const item of Array.isArray(pem) ? pem : [pem]) {
    const text = typeof item === 'string' ? item : Buffer.isBuffer(item) ? item.toString('latin1') : null;
    if (text === null || !text.includes('-----BEGIN CERTIFICATE-----')) {
      throw invalidArgument(`${what} must be PEM certificates (-----BEGIN CERTIFICATE-----)`);
    }
  }
}

/** True when `stream` is a TLS stream (what `connect({ secure: true })` and a secure `listen` hand out). */
export function isSecureStream(stream: Duplex): stream is tls.TLSSocket {
  return stream instanceof tls.TLSSocket;
}

const latestSession = new WeakMap<tls.TLSSocket, Buffer>();

/** The newest resumable session a client stream has received, if any (pass it as `session` to a later connect). */
export function sessionOf(stream: Duplex): Buffer | undefined {
  return stream instanceof tls.TLSSocket ? latestSession.get(stream) : undefined;
}

/**
 * Resolves with a client stream's session: at once when it has one, else at its
 * next 'session' event (TLS 1.3 tickets arrive after the handshake, with the
 * first data read). Rejects when the stream closes first.
 */
export function waitForSession(stream: Duplex): Promise<Buffer> {
  const have = sessionOf(stream);
  if (have) return Promise.resolve(have);
  return new Promise((resolve, reject) => {
    const onSession = (s: Buffer) => { stream.removeListener('close', onClose); resolve(s); };
    const onClose = () => { stream.removeListener('session', onSession); reject(new Error('stream closed before a TLS session arrived')); };
    stream.once('session', onSession);
    stream.once('close', onClose);
  });
}

/** Remembers the newest TLS session per destination and trust settings, for resumption. */
export class SessionCache {
  private readonly sessions = new Map<string, Buffer>();
  constructor(private readonly capacity = 256) {}

  get size(): number {
    return this.sessions.size;
  }

  get(key: string): Buffer | undefined {
    const s = this.sessions.get(key);
    if (s) {
      // Most recently used goes last, so eviction takes the oldest.
      this.sessions.delete(key);
      this.sessions.set(key, s);
    }
    return s;
  }

  set(key: string, session: Buffer): void {
    this.sessions.delete(key);
    this.sessions.set(key, session);
    while (this.sessions.size > this.capacity) this.sessions.delete(this.sessions.keys().next().value!);
  }

  delete(key: string): void {
    this.sessions.delete(key);
  }

  clear(): void {
    this.sessions.clear();
  }
}

type Pem = string | Buffer | Array<string | Buffer> | undefined;

function digest(...parts: Pem[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    for (const item of p === undefined ? [] : Array.isArray(p) ? p : [p]) h.update(item).update('\0');
    h.update('|');
  }
  return h.digest('base64');
}

/**
 * A resumed session skips the certificate and name checks, so a session is
 * only offered again to the same name, port and trust settings it was made with.
 */
export function sessionKey(o: ConnectOptions, ca: Pem): string {
  return [
    o.servername ?? o.host, o.host, o.port, o.rejectUnauthorized === false ? 'noverify' : 'verify',
    o.minVersion ?? '', o.maxVersion ?? '', (o.ALPNProtocols ?? []).join(','), digest(ca, o.cert, o.key),
  ].join('|');
}

export interface ClientTlsContext {
  host: string;
  port: number;
  /** CA bundle used when the connect options carry none. */
  defaultCa?: Pem;
  sessionCache?: SessionCache;
  signal: AbortSignal;
}

/** Runs the client handshake over `raw`; resolves once the server is verified (or verification was explicitly waived). */
export function secureClient(raw: Duplex, o: ConnectOptions, ctx: ClientTlsContext): Promise<tls.TLSSocket> {
  const verifyName = o.servername ?? o.host;
  const ca = o.ca ?? ctx.defaultCa;
  const key = ctx.sessionCache ? sessionKey(o, ca) : '';
  const session = o.session ?? (ctx.sessionCache ? ctx.sessionCache.get(key) : undefined);
  const reject = o.rejectUnauthorized !== false; // only an explicit false turns verification off
  return new Promise((resolve, rejectPromise) => {
    let peerCertificate: tls.PeerCertificate | undefined;
    let settled = false;
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({
        socket: raw,
        host: verifyName, // the name (or IP) the certificate must match
        servername: isIP(verifyName) ? undefined : verifyName, // SNI never carries an IP (RFC 6066)
        ca,
        cert: o.cert,
        key: o.key,
        ALPNProtocols: o.ALPNProtocols,
        session,
        rejectUnauthorized: reject,
        minVersion: o.minVersion ?? 'TLSv1.2',
        maxVersion: o.maxVersion ?? 'TLSv1.3',
      });
    } catch (err) {
      // Unusable key or certificate material (the only things tls.connect throws on synchronously).
      raw.destroy();
      rejectPromise(invalidArgument(`connect: TLS settings refused: ${(err as Error).message}`, err));
      return;
    }
    keepRawHalfOpen(raw);
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.on('error', () => {}); // late errors of a socket we gave up on
      socket.destroy();
      raw.destroy();
      // A session that now fails must not be offered again.
      if (ctx.sessionCache && session && !o.session) ctx.sessionCache.delete(key);
      rejectPromise(toTransportError(err, { host: ctx.host, port: ctx.port, tls: true, peerCertificate, servername: verifyName }));
    };
    const onCapture = () => {
      try { peerCertificate = socket.getPeerCertificate(false); } catch { /* handle gone */ }
    };
    const onSecure = () => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(socket);
    };
    const onClose = () => fail(Object.assign(new Error('socket closed during the TLS handshake'), { code: 'ECONNRESET' }));
    const onAbort = () => fail(ctx.signal.reason);
    function cleanup() {
      socket.removeListener('secure', onCapture);
      socket.removeListener('secureConnect', onSecure);
      socket.removeListener('error', fail);
      socket.removeListener('close', onClose);
      ctx.signal.removeEventListener('abort', onAbort);
    }
    const cache = ctx.sessionCache;
    socket.on('session', (s: Buffer) => {
      latestSession.set(socket, s);
      if (cache) cache.set(key, s);
    });
    // Runs before Node's own 'secure' handler, which may destroy the socket on a bad certificate.
    socket.prependListener('secure', onCapture);
    socket.once('secureConnect', onSecure);
    socket.on('error', fail);
    socket.once('close', onClose);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Server-side TLS for one listening port: one SecureContext (so session tickets resume across connections). */
export class ServerTls {
  private readonly context: tls.SecureContext;
  private readonly byName = new Map<string, tls.SecureContext>();
  private readonly options: ServerSecureOptions;

  constructor(options: ServerSecureOptions) {
    if (!options || !options.key || !options.cert) throw new TypeError('secure listen needs a key and a cert (PEM)');
    checkPem('secure.ca', options.ca);
    this.options = options;
    // Tickets and session IDs are bound to this context; needed for resumption when client certificates are requested.
    const sessionIdContext = randomBytes(16).toString('hex');
    const common = { ca: options.ca, minVersion: options.minVersion ?? 'TLSv1.2', maxVersion: options.maxVersion ?? 'TLSv1.3', sessionIdContext } as const;
    const context = (what: string, key: string | Buffer, cert: string | Buffer) => {
      try {
        return tls.createSecureContext({ key, cert, ...common });
      } catch (err) {
        throw invalidArgument(`listen: ${what} key/cert refused: ${(err as Error).message}`, err);
      }
    };
    this.context = context('secure', options.key, options.cert);
    for (const [name, kc] of Object.entries(options.sni ?? {})) this.byName.set(name.toLowerCase(), context(`sni ${name}`, kc.key, kc.cert));
  }

  /** Runs the server handshake over an accepted `raw` stream; resolves with the TLS stream once it is established. */
  accept(raw: Duplex, info: { host?: string; port?: number; startTimer?: (onTimeout: () => void) => () => void } = {}): Promise<tls.TLSSocket> {
    const o = this.options;
    const requestCert = !!o.requestCert;
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.context,
      requestCert,
      rejectUnauthorized: requestCert && o.rejectUnauthorized !== false,
      ALPNProtocols: o.ALPNProtocols,
      SNICallback: this.byName.size > 0
        ? (name, cb) => cb(null, this.byName.get(name.toLowerCase()) ?? this.context)
        : undefined,
    });
    keepRawHalfOpen(raw);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        cleanup();
        socket.on('error', () => {}); // late errors of a socket we gave up on
        socket.destroy();
        raw.destroy();
        reject(toTransportError(err, { host: info.host, port: info.port, tls: true, side: 'server' }));
      };
      const onSecure = () => {
        if (settled) return;
        const s = socket as tls.TLSSocket & { ssl?: { verifyError(): Error | null }; _releaseControl?: () => boolean };
        if (requestCert) {
          // Node's OpenSSL callback accepts every chain and leaves the verdict to JS (as tls.Server does here).
          const verifyError = s.ssl?.verifyError() ?? null;
          if (verifyError && o.rejectUnauthorized !== false) {
            fail(verifyError);
            return;
          }
          s.authorized = verifyError === null;
          // Node's client sockets carry the code string here (the typings say Error); do the same.
          if (verifyError) (s as unknown as { authorizationError: string }).authorizationError = (verifyError as Error & { code?: string }).code ?? verifyError.message;
        }
        settled = true;
        cleanup();
        // What tls.Server does once a handshake is done: later errors reach the user's 'error' listeners.
        s._releaseControl?.();
        resolve(socket);
      };
      const onClose = () => fail(Object.assign(new Error('socket closed during the TLS handshake'), { code: 'ECONNRESET' }));
      const stopTimer = info.startTimer
        ? info.startTimer(() => fail(Object.assign(new Error('TLS handshake timed out'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' })))
        : () => {};
      function cleanup() {
        stopTimer();
        socket.removeListener('secure', onSecure);
        socket.removeListener('error', fail);
        socket.removeListener('_tlsError', fail);
        socket.removeListener('close', onClose);
      }
      socket.once('secure', onSecure);
      socket.on('error', fail);
      // Until the handshake is done, errors of the underlying stream arrive only as '_tlsError' (as in tls.Server).
      socket.on('_tlsError', fail);
      socket.once('close', onClose);
    });
  }
}

export { TransportError };
