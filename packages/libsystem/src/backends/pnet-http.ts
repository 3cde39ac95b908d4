/**
 * Backends from @pnet/http: its HttpClient for `http(s)://` exchanges, its
 * HttpServer for `listen('http://...')`, its WebSocket client for `ws(s)://`,
 * all over one StreamTransport (pnet's TCP/TLS, or the kernel's).
 */
import { EventEmitter } from 'node:events';
import type { StreamTransport } from '@pnet/tls';
import { acceptWebSocket, connectWebSocket, HttpClient, HttpServer, type HttpClock, type RandomSource, type WebSocket } from '@pnet/http';
import type { HttpClientBackend, HttpServerBackend, MessageSocket, NetworkBackends, WebSocketBackend, WebSocketServerBackend } from './backends';

export function pnetHttpClient(client: HttpClient): HttpClientBackend {
  return {
    async request(spec) {
      // Redirects are the facade's (it follows them unless `redirect: false`).
      const res = await client.request(spec.url, { method: spec.method, headers: spec.headers, body: spec.body, redirect: false });
      if (spec.signal.aborted) res.body.destroy();
      return { status: res.status, headers: res.headers.toObject(), body: res.body };
    },
  };
}

export function pnetHttpServer(transport: StreamTransport, clock?: HttpClock): HttpServerBackend {
  return {
    async listen(options, onRequest) {
      const server = new HttpServer((req, res) => {
        onRequest({
          method: req.method,
          target: req.target,
          headers: req.headers.toObject(),
          remoteAddress: req.remoteAddress ?? '',
          body: req.body,
          respond(status, headers) {
            res.writeHead(status, headers);
            return res;
          },
        });
      }, clock ? { clock } : {});
      const listening = await server.listen(transport, { port: options.port, host: options.host });
      return { port: listening.port, close: () => server.close() };
    },
  };
}

/** A pnet WebSocket as a MessageSocket: `open` once the handshake is done. */
class PnetMessageSocket extends EventEmitter implements MessageSocket {
  private ws: WebSocket | null = null;
  private closing = false;

  /** From a connect in progress, or from a socket a server accepted (open already: no `open` event). */
  constructor(source: Promise<WebSocket> | WebSocket) {
    super();
    if (!(source instanceof Promise)) {
      this.attach(source);
      return;
    }
    source.then(
      (ws) => {
        this.attach(ws);
        if (this.closing) ws.close();
        else this.emit('open');
      },
      (err) => {
        if (!this.closing) this.emit('error', err);
      },
    );
  }

  private attach(ws: WebSocket): void {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.emit('message', data, isBinary));
    ws.on('error', (e: Error) => this.emit('error', e));
    ws.on('close', () => this.emit('close'));
  }

  send(data: Buffer | string, binary: boolean): void {
    if (!this.ws) throw new Error('WebSocket is not open');
    this.ws.send(data, { binary });
  }

  close(): void {
    this.closing = true;
    this.ws?.close();
  }
}

export function pnetWebSockets(transport: StreamTransport, clock?: HttpClock, random?: RandomSource): WebSocketBackend {
  return {
    connect(url, options) {
      return new PnetMessageSocket(connectWebSocket(url, { transport, headers: options.headers, ...(clock ? { clock } : {}), ...(random ? { random } : {}) }));
    },
  };
}

/** WebSocket serving: upgrades are accepted, plain requests get 426 Upgrade Required. */
export function pnetWebSocketServer(transport: StreamTransport, clock?: HttpClock): WebSocketServerBackend {
  return {
    async listen(options, onSocket) {
      const server = new HttpServer(
        (_req, res) => {
          res.writeHead(426, { 'content-type': 'text/plain' });
          res.end('WebSocket only\n');
        },
        {
          ...(clock ? { clock } : {}),
          onUpgrade: (req, socket, head) => {
            const ws = acceptWebSocket(req, socket, head, clock ? { clock } : {});
            if (ws) onSocket(new PnetMessageSocket(ws), { remoteAddress: req.remoteAddress ?? '', target: req.target });
          },
        },
      );
      const listening = await server.listen(transport, { port: options.port, host: options.host });
      return { port: listening.port, close: () => server.close() };
    },
  };
}

/**
 * HTTP, HTTP serving, WebSocket and TCP backends over one StreamTransport,
 * with @pnet/http on top. `clock` times their timeouts (a Stack's clock keeps
 * a virtual-time simulation deterministic); default Node timers.
 */
export function streamBackends(transport: StreamTransport, options: { clock?: HttpClock; random?: RandomSource } = {}): NetworkBackends & { close(): void } {
  const clock = options.clock;
  const client = new HttpClient({ transport, ...(clock ? { clock } : {}) });
  return {
    streams: transport,
    http: pnetHttpClient(client),
    httpServer: pnetHttpServer(transport, clock),
    websockets: pnetWebSockets(transport, clock, options.random),
    websocketServer: pnetWebSocketServer(transport, clock),
    close: () => client.close(),
  };
}
