import type { ConnectOptions, StreamTransport } from '@pnet/tls';
import { Timer, type HttpClock } from '../common/clock';
import { HttpError } from '../common/errors';
import type { ParserLimits } from '../common/parser';
import { ClientConnection } from './connection';

export interface Origin {
  secure: boolean;
  /** Host name or address, without IPv6 brackets. */
  host: string;
  port: number;
}

export function originKey(o: Origin): string {
  return `${o.secure ? 'https' : 'http'}://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
}

export interface PoolOptions {
  /** Connections per origin, busy and idle together. Default 6. */
  maxSocketsPerOrigin?: number;
  /** Idle connections kept per origin. Default 6. */
  maxIdlePerOrigin?: number;
  /** An idle connection is closed after this many ms. Default 5000. */
  idleTimeout?: number;
  /** TLS settings for https origins (CA, client certificate, verification). */
  tls?: Omit<ConnectOptions, 'host' | 'port' | 'secure' | 'timeout'>;
}

interface Waiter {
  resolve: (c: Acquired) => void;
  reject: (e: Error) => void;
  connectTimeout: number | undefined;
}

export interface Acquired {
  conn: ClientConnection;
  /** True when the connection served an earlier exchange (so it may have gone stale). */
  reused: boolean;
}

class OriginPool {
  idle: ClientConnection[] = [];
  total = 0;
  waiters: Waiter[] = [];
  idleTimers = new Map<ClientConnection, Timer>();
  constructor(readonly origin: Origin) {}
}

/** Keep-alive connections per origin, with limits and an idle timeout. */
export class ConnectionPool {
  private readonly pools = new Map<string, OriginPool>();
  private readonly maxSockets: number;
  private readonly maxIdle: number;
  private readonly idleTimeout: number;
  private closed = false;

  constructor(
    private readonly transport: StreamTransport,
    private readonly clock: HttpClock,
    private readonly options: PoolOptions = {},
    private readonly limits: Partial<ParserLimits> = {},
  ) {
    this.maxSockets = options.maxSocketsPerOrigin ?? 6;
    this.maxIdle = options.maxIdlePerOrigin ?? 6;
    this.idleTimeout = options.idleTimeout ?? 5000;
    if (!(this.maxSockets >= 1)) throw new RangeError('maxSocketsPerOrigin must be at least 1');
    if (!(this.maxIdle >= 0)) throw new RangeError('maxIdlePerOrigin must be 0 or more');
  }

  /** A connection for `origin`: an idle one (unless `fresh`), a new one, or the next one freed. */
  acquire(origin: Origin, fresh: boolean, connectTimeout: number | undefined): Promise<Acquired> {
    if (this.closed) return Promise.reject(new Error('HttpClient is closed'));
    const key = originKey(origin);
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = new OriginPool(origin)));
    if (!fresh) {
      while (pool.idle.length) {
        const conn = pool.idle.pop()!;
        pool.idleTimers.get(conn)?.stop();
        pool.idleTimers.delete(conn);
        if (!conn.closed) return Promise.resolve({ conn, reused: true });
      }
    } else if (pool.total >= this.maxSockets && pool.idle.length) {
      // Make room for a fresh one by dropping an idle one.
      pool.idle.shift()!.destroy();
    }
    if (pool.total < this.maxSockets) return this.open(pool, connectTimeout);
    return new Promise((resolve, reject) => pool!.waiters.push({ resolve, reject, connectTimeout }));
  }

  /** Number of connections per origin key, busy and idle (for tests and diagnostics). */
  stats(): Record<string, { total: number; idle: number; waiting: number }> {
    const out: Record<string, { total: number; idle: number; waiting: number }> = {};
    for (const [k, p] of this.pools) out[k] = { total: p.total, idle: p.idle.length, waiting: p.waiters.length };
    return out;
  }

  /** Closes every idle connection and refuses new requests; busy ones finish. */
  close(): void {
    this.closed = true;
    for (const pool of this.pools.values()) {
      for (const w of pool.waiters.splice(0)) w.reject(new Error('HttpClient is closed'));
      for (const c of pool.idle.splice(0)) c.destroy();
      for (const t of pool.idleTimers.values()) t.stop();
      pool.idleTimers.clear();
    }
  }

  private open(pool: OriginPool, connectTimeout: number | undefined): Promise<Acquired> {
    pool.total++;
    const { origin } = pool;
    return new Promise<Acquired>((resolve, reject) => {
      let settled = false;
      const timer = new Timer(this.clock, () => {
        if (settled) return;
        settled = true;
        abort.abort();
        this.lost(pool);
        reject(new HttpError('HTTP_CONNECT_TIMEOUT', `connecting to ${originKey(origin)} took more than ${connectTimeout} ms`));
      });
      timer.start(connectTimeout);
      // Our own timer (on the injected clock) decides; the abort tells the transport to stop trying.
      const abort = new AbortController();
      let attempt: Promise<import('node:stream').Duplex>;
      try {
        attempt = this.transport.connect({
          // TLS settings only for https: transports refuse them on plain connections.
          ...(origin.secure ? { ALPNProtocols: ['http/1.1'], ...this.options.tls } : {}),
          host: origin.host,
          port: origin.port,
          secure: origin.secure,
          signal: abort.signal,
        });
      } catch (err) {
        attempt = Promise.reject(err);
      }
      attempt.then(
        (socket) => {
          timer.stop();
          if (settled) {
            socket.destroy();
            return;
          }
          settled = true;
          const conn = new ClientConnection(socket, originKey(origin), this.clock, this.limits);
          conn.onReusable = (c) => this.release(pool, c);
          conn.onClosed = (c) => this.forget(pool, c);
          resolve({ conn, reused: false });
        },
        (err: unknown) => {
          timer.stop();
          if (settled) return;
          settled = true;
          this.lost(pool);
          const e = err as { code?: string; message?: string };
          reject(new HttpError('HTTP_CONNECTION_FAILED', `cannot connect to ${originKey(origin)}: ${e?.code ? `${e.code} ` : ''}${e?.message ?? String(err)}`, err));
        },
      );
    });
  }

  private release(pool: OriginPool, conn: ClientConnection): void {
    const w = pool.waiters.shift();
    if (w) {
      w.resolve({ conn, reused: true });
      return;
    }
    if (this.closed || pool.idle.length >= this.maxIdle) {
      conn.destroy();
      return;
    }
    pool.idle.push(conn);
    const t = new Timer(this.clock, () => {
      pool.idleTimers.delete(conn);
      conn.destroy();
    });
    pool.idleTimers.set(conn, t);
    t.start(this.idleTimeout);
  }

  /** A connection closed (idle or busy): free its slot. */
  private forget(pool: OriginPool, conn: ClientConnection): void {
    const i = pool.idle.indexOf(conn);
    if (i >= 0) pool.idle.splice(i, 1);
    pool.idleTimers.get(conn)?.stop();
    pool.idleTimers.delete(conn);
    this.lost(pool);
  }

  private lost(pool: OriginPool): void {
    pool.total--;
    const w = pool.waiters.shift();
    if (w) this.open(pool, w.connectTimeout).then(w.resolve, w.reject);
  }
}
