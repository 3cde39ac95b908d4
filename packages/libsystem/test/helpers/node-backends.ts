/**
 * In-test backends built from real Node objects (node:net, node:http,
 * node:dgram, ws), on loopback. They stand in for pnet's TCP, HTTP, UDP and
 * WebSocket until those are wired, and they let the facade's own logic be
 * tested against real peers.
 */
import { EventEmitter } from 'node:events';
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { ConnectOptions, ListenOptions, StreamServer, StreamTransport } from '@pnet/tls';
import type {
  DatagramBackend,
  DatagramInfo,
  DatagramSocket,
  HttpClientBackend,
  HttpServerBackend,
  MessageSocket,
  NetworkBackends,
  WebSocketBackend,
} from '../../src';

/** A StreamTransport over the kernel's TCP (plain only). */
export function netTransport(): StreamTransport {
  return {
    connect(options: ConnectOptions): Promise<Duplex> {
      return new Promise((resolve, reject) => {
        const s = net.connect({ host: options.host, port: options.port });
        s.once('connect', () => {
          s.removeListener('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    },
    listen(options: ListenOptions, onConnection: (socket: Duplex) => void): Promise<StreamServer> {
      return new Promise((resolve, reject) => {
        const sockets = new Set<net.Socket>();
        const server = net.createServer((s) => {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          onConnection(s);
        });
        server.once('error', reject);
        server.listen(options.port, options.host ?? '127.0.0.1', () => {
          server.removeListener('error', reject);
          resolve({
            port: (server.address() as net.AddressInfo).port,
            close: () => new Promise<void>((done) => server.close(() => done())),
          });
        });
      });
    },
  };
}

/** An HTTP client exchange over any StreamTransport (node:http does the HTTP/1.1). */
export function nodeHttpClient(transport: StreamTransport): HttpClientBackend {
  return {
    request(spec) {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { ...spec.headers };
        if (spec.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
          headers['content-length'] = String(spec.body.length);
        }
        const req = http.request({
          host: spec.host,
          port: spec.port,
          method: spec.method,
          path: spec.target,
          headers,
          signal: spec.signal,
          createConnection: ((_opts: unknown, cb: (err: Error | null, s?: Duplex) => void) => {
            transport.connect({ host: spec.host, port: spec.port, secure: spec.secure }).then((s) => cb(null, s), (e) => cb(e));
            return undefined;
          }) as unknown as http.RequestOptions['createConnection'],
        });
        req.once('response', (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
        req.once('error', reject);
        req.end(spec.body);
      });
    },
  };
}

/** An HTTP server over any StreamTransport. */
export function nodeHttpServer(transport: StreamTransport): HttpServerBackend {
  return {
    async listen(options, onRequest) {
      const server = http.createServer((req, res) => {
        onRequest({
          method: req.method ?? 'GET',
          target: req.url ?? '/',
          headers: req.headers,
          remoteAddress: req.socket.remoteAddress ?? '',
          body: req,
          respond(status, hdrs) {
            res.writeHead(status, hdrs);
            return res;
          },
        });
      });
      const sockets = new Set<Duplex>();
      const stream = await transport.listen({ port: options.port, host: options.host }, (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        server.emit('connection', s);
      });
      return {
        port: stream.port,
        close: async () => {
          for (const s of sockets) s.destroy();
          await stream.close();
        },
      };
    },
  };
}

class DgramSocket extends EventEmitter implements DatagramSocket {
  remote?: DatagramInfo;
  constructor(private readonly s: dgram.Socket) {
    super();
    s.on('message', (msg, rinfo) => this.emit('message', msg, { address: rinfo.address, port: rinfo.port }));
    s.on('error', (e) => this.emit('error', e));
  }
  get localAddress(): string {
    return this.s.address().address;
  }
  get localPort(): number {
    return this.s.address().port;
  }
  send(data: Uint8Array, to?: DatagramInfo): void {
    if (to) this.s.send(data, to.port, to.address);
    else this.s.send(data);
  }
  close(): void {
    this.s.close();
  }
}

/** UDP sockets over node:dgram. */
export function dgramBackend(): DatagramBackend {
  return {
    open(options) {
      return new Promise((resolve, reject) => {
        const s = dgram.createSocket('udp4');
        s.once('error', reject);
        s.bind(options.port ?? 0, options.address ?? '127.0.0.1', () => {
          const wrapped = new DgramSocket(s);
          if (!options.remote) {
            s.removeListener('error', reject);
            return resolve(wrapped);
          }
          const remote = options.remote;
          s.connect(remote.port, remote.host, () => {
            s.removeListener('error', reject);
            const r = s.remoteAddress();
            wrapped.remote = { address: r.address, port: r.port };
            resolve(wrapped);
          });
        });
      });
    },
  };
}

class WsMessageSocket extends EventEmitter implements MessageSocket {
  constructor(private readonly ws: WebSocket) {
    super();
    ws.on('open', () => this.emit('open'));
    ws.on('message', (data, isBinary) => this.emit('message', Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary));
    ws.on('close', () => this.emit('close'));
    ws.on('error', (e) => this.emit('error', e));
  }
  send(data: Buffer | string, binary: boolean): void {
    this.ws.send(data, { binary });
  }
  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close();
  }
}

/** WebSocket client over the ws package. */
export function wsBackend(): WebSocketBackend {
  return { connect: (url, options) => new WsMessageSocket(new WebSocket(url, { headers: options.headers })) };
}

/** Every in-test backend, on the kernel's loopback. */
export function nodeBackends(extra: Partial<NetworkBackends> = {}): NetworkBackends {
  const transport = netTransport();
  return {
    streams: transport,
    http: nodeHttpClient(transport),
    httpServer: nodeHttpServer(transport),
    datagrams: dgramBackend(),
    websockets: wsBackend(),
    ...extra,
  };
}
