import type { Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';

/**
 * How the layers above open and accept byte streams, plain or TLS, without
 * knowing whether the bytes cross pnet's TCP or the kernel's. The HTTP layer
 * uses only this.
 *
 * A secure stream is a `tls.TLSSocket` (test with `isSecureStream`): read
 * `alpnProtocol`, `getPeerCertificate()`, `isSessionReused()`, `getProtocol()`
 * on it. A plain one is the TCP socket itself.
 */
export interface ConnectOptions {
  host: string;
  port: number;
  /** Wrap the stream in TLS. */
  secure?: boolean;
  /** SNI and the name the certificate must match; defaults to `host` when it is a name. */
  servername?: string;
  /** Trusted CA certificates (PEM); defaults to the transport's own bundle. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate and key (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** ALPN protocols to offer, e.g. ['http/1.1']. */
  ALPNProtocols?: string[];
  /** A session from an earlier connection's 'session' event, for resumption. */
  session?: Buffer;
  /** Certificate verification; turning it off must be explicit. Default true. */
  rejectUnauthorized?: boolean;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Connect timeout in ms (name lookup, TCP handshake and TLS handshake together). */
  timeout?: number;
  /** Aborts the connect attempt (rejects with code `ABORT_ERR`). */
  signal?: AbortSignal;
}

/** TLS settings of a listening server. */
export interface ServerSecureOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** CAs trusted for client certificates (with `requestCert`). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** ALPN protocols the server accepts, in its order of preference. */
  ALPNProtocols?: string[];
  /** Ask the client for a certificate. */
  requestCert?: boolean;
  /** With `requestCert`: refuse clients without a valid certificate. Default true. */
  rejectUnauthorized?: boolean;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Per-name certificates selected by SNI (e.g. example.test and echo.test on one port); others get key/cert. */
  sni?: Record<string, { key: string | Buffer; cert: string | Buffer }>;
}

export interface ListenOptions {
  port: number;
  host?: string;
  /** Serve TLS with this key and certificate. */
  secure?: ServerSecureOptions;
  /**
   * Called for a connection that failed before it reached `onConnection`
   * (TLS handshake refused, peer reset). The server keeps serving either way.
   */
  onError?: (error: TransportErrorLike) => void;
}

export interface StreamServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops accepting; resolves when the listening socket is closed. */
  close(): Promise<void>;
}

export interface StreamTransport {
  /** Resolves with a connected (and, when secure, handshaken) stream, or rejects with an Error that has a Node-style `code`. */
  connect(options: ConnectOptions): Promise<Duplex>;
  listen(options: ListenOptions, onConnection: (socket: Duplex) => void): Promise<StreamServer>;
}

/**
 * What kind of failure a connect or accept hit. Certificate problems each have
 * their own kind; `code` keeps Node's/OpenSSL's exact code.
 */
export type TransportErrorKind =
  | 'invalid-argument'
  | 'name-not-found'
  | 'refused'
  | 'timeout'
  | 'aborted'
  | 'reset'
  | 'unreachable'
  | 'certificate-expired'
  | 'certificate-not-yet-valid'
  | 'hostname-mismatch'
  | 'self-signed'
  | 'unknown-ca'
  | 'certificate-invalid'
  | 'certificate-required'
  | 'certificate-rejected-by-peer'
  | 'protocol-version'
  | 'no-application-protocol'
  | 'handshake-failed'
  | 'network';

/** The shape of every error the transports reject with (same for plain and secure, pnet TCP and kernel). */
export interface TransportErrorLike extends Error {
  code: string;
  kind: TransportErrorKind;
  host?: string;
  port?: number;
  /** True when the failure happened in the TLS layer. */
  tls: boolean;
  /** The server's certificate, when a certificate check failed. */
  peerCertificate?: PeerCertificate;
  cause?: unknown;
}
