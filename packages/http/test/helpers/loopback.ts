import * as net from 'node:net';
import * as tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import type { ConnectOptions, ListenOptions, StreamServer, StreamTransport } from '@pnet/tls';
import type { HttpClock } from '../../src';

/**
 * A test-only StreamTransport over the kernel's loopback (node:net, node:tls),
 * 127.0.0.1 only. Counts connections so tests can check pooling.
 */
export interface LoopbackTransport extends StreamTransport {
  connects: number;
}

export function loopbackTransport(): LoopbackTransport {
  const t: LoopbackTransport = {
    connects: 0,
    connect(o: ConnectOptions): Promise<Duplex> {
      t.connects++;
      return new Promise((resolve, reject) => {
        const host = o.host === 'localhost' || o.host.endsWith('.test') ? '127.0.0.1' : o.host;
        if (host !== '127.0.0.1') return reject(Object.assign(new Error(`loopback transport: refusing ${o.host}`), { code: 'EACCES' }));
        if (o.secure) {
          const s = tls.connect({
            host, port: o.port, servername: o.servername ?? (net.isIP(o.host) ? undefined : o.host),
            ...(o.ca ? { ca: o.ca } : {}), rejectUnauthorized: o.rejectUnauthorized ?? true, ALPNProtocols: o.ALPNProtocols,
          });
          s.once('secureConnect', () => { s.off('error', reject); resolve(s); });
          s.once('error', reject);
        } else {
          const s = net.connect({ host, port: o.port });
          s.once('connect', () => { s.off('error', reject); resolve(s); });
          s.once('error', reject);
        }
      });
    },
    listen(o: ListenOptions, onConnection: (socket: Duplex) => void): Promise<StreamServer> {
      return new Promise((resolve, reject) => {
        const sockets = new Set<net.Socket>();
        const track = (s: net.Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); onConnection(s); };
        const server = o.secure
          ? tls.createServer({ key: o.secure.key, cert: o.secure.cert, ALPNProtocols: o.secure.ALPNProtocols }, track)
          : net.createServer(track);
        server.on('tlsClientError', () => {});
        server.once('error', reject);
        server.listen(o.port, '127.0.0.1', () => {
          const port = (server.address() as net.AddressInfo).port;
          resolve({
            port,
            close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
          });
        });
      });
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

let certCache: { key: string; cert: string } | null = null;
/** A self-signed certificate for example.test and echo.test (made with openssl once per process). */
export function testCertificate(): { key: string; cert: string } {
  if (certCache) return certCache;
  const dir = mkdtempSync(join(tmpdir(), 'pnet-http-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=example.test', '-addext', 'subjectAltName=DNS:example.test,DNS:echo.test,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    certCache = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    return certCache;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves on the next macrotask turns, letting sockets deliver what is in flight. */
export function settle(turns = 3): Promise<void> {
  return new Promise((r) => {
    const step = (n: number) => (n === 0 ? r() : setImmediate(() => step(n - 1)));
    step(turns);
  });
}
