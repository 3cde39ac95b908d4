/** Real peers on 127.0.0.1 for the tests: a small httpbin, TCP/UDP echo, a WebSocket echo. */
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocketServer } from 'ws';

export interface Peer {
  port: number;
  close(): Promise<void>;
}

export interface Httpbin extends Peer {
  url(path: string): string;
  /** Requests seen, in order. */
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  /** Releases the second half of `/held` responses. */
  release(): void;
}

/** httpbin-like routes: /get, /anything, /status/{code}, /redirect/{n}, /bytes/{n}, /lines, /held, /redirect-to?url= */
export function startHttpbin(): Promise<Httpbin> {
  const seen: Httpbin['seen'] = [];
  let releaseHeld: () => void = () => undefined;
  const heldGate = new Promise<void>((r) => (releaseHeld = r));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const u = new URL(req.url ?? '/', 'http://x');
      const parts = u.pathname.split('/').filter(Boolean);
      const json = (code: number, obj: unknown) => {
        const text = JSON.stringify(obj);
        res.writeHead(code, { 'content-type': 'application/json', 'x-test': 'yes' });
        res.end(req.method === 'HEAD' ? undefined : text);
      };
      switch (parts[0]) {
        case 'get':
        case 'anything':
        case 'post':
        case 'put':
        case 'delete':
          return json(200, { method: req.method, url: req.url, headers: req.headers, data: body });
        case 'status': {
          const code = Number(parts[1]);
          res.writeHead(code, { 'content-type': 'text/plain' });
          return res.end(`status ${code}`);
        }
        case 'redirect': {
          const n = Number(parts[1]);
          res.writeHead(302, { location: n > 1 ? `/redirect/${n - 1}` : '/get' });
          return res.end();
        }
        case 'redirect-303':
          res.writeHead(303, { location: '/anything' });
          return res.end();
        case 'bytes': {
          const n = Number(parts[1]);
          const data = Buffer.alloc(n);
          for (let i = 0; i < n; i++) data[i] = (i * 7 + 3) & 0xff;
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          return res.end(data);
        }
        case 'lines':
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end('first line\nsecond line\r\n42 17 tail\nlast');
        case 'held':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('early\nhal');
          heldGate.then(() => res.end('f\nlate\n'));
          return;
        case 'truncated':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
          res.write('only ten b');
          setImmediate(() => res.socket?.destroy());
          return;
        case 'utf8':
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          return res.end('héllo wörld\n');
        default:
          res.writeHead(404);
          return res.end('not found');
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        seen,
        url: (p) => `http://127.0.0.1:${port}${p}`,
        release: () => releaseHeld(),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export function startTcpEcho(): Promise<Peer & { connections: number }> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        get connections() {
          return state.connections;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export function startUdpEcho(): Promise<Peer> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
  return new Promise((resolve) => {
    s.bind(0, '127.0.0.1', () => resolve({ port: s.address().port, close: () => new Promise<void>((d) => s.close(() => d())) }));
  });
}

export function startWsEcho(): Promise<Peer & { url: string }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    // A client that goes away abruptly makes the server side emit ECONNRESET: not the test's concern.
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      if (String(data) === 'close-me') return ws.close();
      ws.send(data, { binary: isBinary });
    });
  });
  return new Promise((resolve) => {
    wss.on('listening', () => {
      const port = (wss.address() as net.AddressInfo).port;
      resolve({
        port,
        url: `ws://127.0.0.1:${port}/`,
        close: () =>
          new Promise<void>((done) => {
            for (const c of wss.clients) c.terminate();
            wss.close(() => done());
          }),
      });
    });
  });
}

/** A port nothing listens on (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
