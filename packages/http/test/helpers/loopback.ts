import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { nodeTransport, type ConnectOptions, type ListenOptions, type StreamServer, type StreamTransport } from '@pnet/tls';
import { testCertificates } from '../../../tls/src/testing/certs';
import type { HttpClock } from '../../src';

/**
 * The TLS layer's `nodeTransport` (kernel TCP, Node TLS) pinned to loopback:
 * names (example.test, echo.test, localhost) go to 127.0.0.1, listeners bind
 * 127.0.0.1 only. Counts connects so tests can check pooling.
 */
export interface LoopbackTransport extends StreamTransport {
  connects: number;
}

export function loopbackTransport(): LoopbackTransport {
  const inner = nodeTransport({ sessionCache: false });
  const t: LoopbackTransport = {
    connects: 0,
    connect(o: ConnectOptions): Promise<Duplex> {
      t.connects++;
      if (o.host !== '127.0.0.1' && o.host !== 'localhost' && !o.host.endsWith('.test')) {
        return Promise.reject(Object.assign(new Error(`loopback transport: refusing ${o.host}`), { code: 'EACCES' }));
      }
      const servername = o.secure && o.host !== '127.0.0.1' ? { servername: o.servername ?? o.host } : {};
      return inner.connect({ ...o, ...servername, host: '127.0.0.1' });
    },
    listen(o: ListenOptions, onConnection: (socket: Duplex) => void): Promise<StreamServer> {
      return inner.listen({ ...o, host: '127.0.0.1' }, onConnection);
    },
  };
  return t;
}

/** A raw node:net server on 127.0.0.1 that hands each socket to `onSocket` (for crafted responses). */
export async function rawServer(onSocket: (socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void>; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** Collects what a raw socket receives until the first blank line (a request head), then calls back. */
export function onRequestHead(socket: net.Socket, cb: (head: string, rest: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  const onData = (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    const i = buf.indexOf('\r\n\r\n');
    if (i >= 0) {
      socket.off('data', onData);
      cb(buf.subarray(0, i).toString('latin1'), buf.subarray(i + 4));
    }
  };
  socket.on('data', onData);
}

/** Two Duplex ends joined in memory: what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  let a!: Duplex;
  let b!: Duplex;
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
      destroy(err, cb) {
        const p = peer();
        if (!p.destroyed) p.destroy();
        cb(err);
      },
    });
  a = make(() => b);
  b = make(() => a);
  return [a, b];
}

/** A StreamTransport whose connect() hands one end of an in-memory pair to `serve`. */
export function memoryTransport(serve: (socket: Duplex) => void): StreamTransport & { connects: number } {
  const t = {
    connects: 0,
    async connect(): Promise<Duplex> {
      t.connects++;
      const [client, server] = duplexPair();
      serve(server);
      return client;
    },
    async listen(): Promise<StreamServer> {
      throw new Error('memoryTransport cannot listen');
    },
  };
  return t;
}

/** A clock the test moves by hand: timers run only inside `advance`. */
export class ManualClock implements HttpClock {
  private time = 0;
  private next = 1;
  private timers = new Map<number, { at: number; fn: (arg: number) => void; arg: number }>();
  now(): number {
    return this.time;
  }
  schedule(at: number, fn: (arg: number) => void, arg = 0): number {
    const h = this.next++;
    this.timers.set(h, { at, fn, arg });
    return h;
  }
  cancel(h: number): void {
    this.timers.delete(h);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let best: [number, { at: number; fn: (arg: number) => void; arg: number }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (!best || e[1].at < best[1].at)) best = e;
      if (!best) break;
      this.timers.delete(best[0]);
      this.time = Math.max(this.time, best[1].at);
      best[1].fn(best[1].arg);
    }
    this.time = end;
  }
}

/** A server certificate for localhost, 127.0.0.1, example.test and echo.test, and the CA that signed it (the TLS layer's test set). */
export function testCertificate(): { key: string; cert: string; ca: string } {
  const set = testCertificates();
  return { key: set.server.key, cert: set.server.cert, ca: set.ca.cert };
}

/** Resolves on the next macrotask turns, letting sockets deliver what is in flight. */
export function settle(turns = 3): Promise<void> {
  return new Promise((r) => {
    const step = (n: number) => (n === 0 ? r() : setImmediate(() => step(n - 1)));
    step(turns);
  });
}
