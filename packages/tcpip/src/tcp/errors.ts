/** Errors surfaced to users, with Node's codes. */
export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'ECONNABORTED'
  | 'EPIPE' | 'EADDRINUSE' | 'EADDRNOTAVAIL';

const ERRNO: Record<TcpErrorCode, number> = {
  ECONNREFUSED: -111, ECONNRESET: -104, ETIMEDOUT: -110, EHOSTUNREACH: -113, ENETUNREACH: -101,
  ECONNABORTED: -103, EPIPE: -32, EADDRINUSE: -98, EADDRNOTAVAIL: -99,
};

const MESSAGE: Record<TcpErrorCode, string> = {
  ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset by peer', ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'no route to host', ENETUNREACH: 'network is unreachable', ECONNABORTED: 'connection aborted',
  EPIPE: 'broken pipe', EADDRINUSE: 'address already in use', EADDRNOTAVAIL: 'address not available',
};

export class TcpError extends Error {
  readonly errno: number;
  syscall?: string;
  address?: string;
  port?: number;

  constructor(readonly code: TcpErrorCode, detail?: string) {
    super(`${code}: ${MESSAGE[code]}${detail ? ` (${detail})` : ''}`);
    this.name = 'Error';
    this.errno = ERRNO[code];
  }
}
