import type { Duplex } from 'node:stream';

/**
 * How the layers above open and accept byte streams, plain or TLS, without
 * knowing whether the bytes cross pnet's TCP or the kernel's. The HTTP layer
 * uses only this.
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
}

export interface ListenOptions {
  port: number;
  host?: string;
  /** Serve TLS with this key and certificate. */
  secure?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; ALPNProtocols?: string[]; requestCert?: boolean };
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
