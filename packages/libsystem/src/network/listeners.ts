import type { Duplex } from 'node:stream';
import type { DatagramInfo, DatagramSocket, HttpServerExchange } from '../backends/backends';
import { canonicalIP } from '../config/stack-config';
import { Handle } from '../handles/handle';
import { HTTPServerHandle } from '../handles/http-server-handle';
import type { Encoding } from '../handles/read-modes';
import { addressText, TCPHandle } from '../handles/stream-handle';
import { UDPHandle } from '../handles/datagram-handle';
import { WebSocketHandle } from '../handles/websocket-handle';
import { expectArg } from '../lua/lua-errors';
import { parseURI } from '../uri/uri';
import type { SystemContext } from './system-context';

type Family = 'tcp' | 'udp';

interface Listener {
  family: Family;
  port: number;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Encoding of the handles delivered in `network_request` (default `binary`; `text` for `ws`). */
  encoding?: Encoding;
}

interface ListenTarget {
  scheme: 'tcp' | 'udp' | 'http' | 'ws';
  family: Family;
  host: string;
  port: number;
}

function listenTarget(uri: string): ListenTarget {
  const u = parseURI(uri);
  let scheme: ListenTarget['scheme'];
  if (u.scheme === 'tcp' || u.scheme === 'psp') scheme = 'tcp';
  else if (u.scheme === 'udp' || u.scheme === 'pdp') scheme = 'udp';
  else if (u.scheme === 'http') scheme = 'http';
  else if (u.scheme === 'ws') scheme = 'ws';
  else throw new Error(`Invalid protocol ${u.scheme}`);
  let port = u.port;
  if (port === undefined) {
    if (scheme === 'tcp' || scheme === 'udp') throw new Error('Missing port');
    port = 80;
  }
  const host = u.host ? canonicalIP(u.host) : '0.0.0.0';
  return { scheme, family: scheme === 'udp' ? 'udp' : 'tcp', host, port };
}

/**
 * `listen` / `unlisten`: TCP, UDP and HTTP listeners. Every incoming
 * connection, new datagram source or HTTP request arrives as
 * `network_request {uri, ip, handle}`. A listener serves until `unlisten`
 * (Phoenix's served one connection), and TCP and HTTP share the TCP port
 * space: a second listener on a port in use is `Port already open`.
 */
export class Listeners {
  private readonly active = new Map<string, Listener | 'binding'>();
  private pendingCount = 0;

  constructor(private readonly ctx: SystemContext) {}

  /** Starts listening; resolves with the port bound (the one asked for, or the one chosen for port 0). */
  async listen(uri: string, options: ListenOptions = {}): Promise<number> {
    expectArg('listen', 1, uri, 'string');
    expectArg('listen', 2, options, 'table', 'nil');
    this.ctx.ensureRunning();
    const target = listenTarget(uri);
    const encoding = options?.encoding ?? (target.scheme === 'ws' ? 'text' : 'binary');
    const key = `${target.family}:${target.port}`;
    if (target.port !== 0 && this.active.has(key)) throw new Error('Port already open');
    const placeholder = `${target.family}:pending:${++this.pendingCount}`;
    this.active.set(target.port === 0 ? placeholder : key, 'binding');
    try {
      const listener = await this.bind(uri, target, encoding);
      this.active.delete(placeholder);
      const realKey = `${target.family}:${listener.port}`;
      if (target.port === 0 && this.active.has(realKey)) {
        await listener.close();
        throw new Error('Port already open');
      }
      this.active.set(realKey, listener);
      return listener.port;
    } catch (err) {
      this.active.delete(placeholder);
      if (target.port !== 0 && this.active.get(key) === 'binding') this.active.delete(key);
      if ((err as { code?: string }).code === 'EADDRINUSE') throw new Error('Port already open');
      throw err;
    }
  }

  /** Stops a listener; resolves false when nothing listened there. Connections already accepted stay open. */
  async unlisten(uri: string): Promise<boolean> {
    expectArg('unlisten', 1, uri, 'string');
    const target = listenTarget(uri);
    const key = `${target.family}:${target.port}`;
    const l = this.active.get(key);
    if (!l || l === 'binding') return false;
    this.active.delete(key);
    await l.close();
    return true;
  }

  async closeAll(): Promise<void> {
    const all = [...this.active.values()].filter((l): l is Listener => l !== 'binding');
    this.active.clear();
    await Promise.all(all.map((l) => l.close().catch(() => undefined)));
  }

  private request(uri: string, ip: string | null, handle: Handle): void {
    this.ctx.queueEvent('network_request', { uri, ip: ip ?? '0.0.0.0', handle });
  }

  private async bind(uri: string, target: ListenTarget, encoding: Encoding): Promise<Listener> {
    const b = this.ctx.backends;
    if (target.scheme === 'tcp') {
      if (!b.streams) throw new Error('TCP is not available on this system');
      const server = await b.streams.listen({ port: target.port, host: target.host }, (socket: Duplex) => {
        if (this.ctx.shutDown) return void socket.destroy();
        const handle = new TCPHandle(this.ctx, encoding, socket);
        this.request(uri, addressText((socket as { remoteAddress?: unknown }).remoteAddress), handle);
      });
      return { family: 'tcp', port: server.port, close: () => server.close() };
    }
    if (target.scheme === 'http') {
      if (!b.httpServer) throw new Error('HTTP is not available on this system');
      const server = await b.httpServer.listen({ port: target.port, host: target.host }, (ex: HttpServerExchange) => {
        const handle = new HTTPServerHandle(this.ctx, ex, encoding);
        this.request(uri, addressText(ex.remoteAddress), handle);
      });
      return { family: 'tcp', port: server.port, close: () => server.close() };
    }
    if (target.scheme === 'ws') {
      if (!b.websocketServer) throw new Error('WebSocket serving is not available on this system');
      const server = await b.websocketServer.listen({ port: target.port, host: target.host }, (socket, info) => {
        if (this.ctx.shutDown) return void socket.close();
        const handle = new WebSocketHandle(this.ctx, encoding, socket, true);
        this.request(uri, addressText(info.remoteAddress), handle);
      });
      return { family: 'tcp', port: server.port, close: () => server.close() };
    }
    if (!b.datagrams) throw new Error('UDP is not available on this system');
    const socket = await b.datagrams.open({ port: target.port, address: target.host });
    return this.serveDatagrams(uri, socket, encoding);
  }

  private serveDatagrams(uri: string, socket: DatagramSocket, encoding: Encoding): Listener {
    const peers = new Map<string, UDPHandle>();
    socket.on('error', () => undefined);
    socket.on('message', (data: Buffer, rinfo: DatagramInfo) => {
      const key = `${rinfo.address}:${rinfo.port}`;
      let handle = peers.get(key);
      if (!handle) {
        const peer = { address: rinfo.address, port: rinfo.port };
        handle = new UDPHandle(this.ctx, encoding, { socket, peer, release: () => peers.delete(key) });
        peers.set(key, handle);
        this.request(uri, addressText(rinfo.address), handle);
      }
      handle.deliver(data);
    });
    return {
      family: 'udp',
      port: socket.localPort,
      close: async () => {
        for (const h of [...peers.values()]) h.forceClose();
        peers.clear();
        socket.close();
      },
    };
  }
}
