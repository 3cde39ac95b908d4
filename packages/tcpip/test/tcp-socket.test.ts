/**
 * TcpSocket / TcpServer: Node Duplex semantics (backpressure, half-close, destroy/RST, errors with
 * Node's codes, timeouts) over two TcpLayers in virtual time, and TLS over them both ways.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { FakeNet, pattern } from './tcp-harness';
import type { TcpSocket } from '../src/tcp/socket';
import { TimeWaitRecord } from '../src/tcp/time-wait';

function world(seed = 1, impair = {}) {
  const net = new FakeNet(seed, { delay: 2, ...impair });
  const a = net.addHost('192.0.2.1');
  const b = net.addHost('192.0.2.2');
  return { net, a, b, clock: net.clock };
}

function collect(sock: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  sock.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    sock.on('end', () => resolve(Buffer.concat(parts)));
    sock.on('error', reject);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('echo: connect, write, end; addresses and ports as strings/numbers like Node', async (t) => {
  const { a, b, clock } = world();
  const server = b.tcp.listen({ port: 7 });
  server.on('connection', (s: TcpSocket) => s.pipe(s));
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 7 });
  t.true(sock.connecting);
  t.is(sock.readyState, 'opening');
  await clock.drive(once(sock, 'connect'));
  t.false(sock.connecting);
  t.is(sock.remoteAddress, '192.0.2.2');
  t.is(sock.remotePort, 7);
  t.is(sock.localAddress, '192.0.2.1');
  t.true(sock.localPort! >= 49152 && sock.localPort! <= 65535, 'ephemeral port');
  t.is(sock.remoteFamily, 'IPv4');
  t.deepEqual(sock.address(), { address: '192.0.2.1', family: 'IPv4', port: sock.localPort });
  const got = collect(sock);
  const closed = once(sock, 'close');
  sock.write('hello ');
  sock.end('world');
  t.is((await clock.drive(got)).toString(), 'hello world');
  await clock.drive(closed);
  t.is(sock.bytesWritten, 11);
  t.is(sock.bytesRead, 11);
  t.is(server.address().port, 7);
});

test('a finished exchange leaves no ring storage behind, on the passive closer and in TIME-WAIT', async (t) => {
  const { a, b, clock } = world();
  const server = b.tcp.listen({ port: 7 });
  let accepted: TcpSocket | null = null;
  server.on('connection', (s: TcpSocket) => {
    accepted = s;
    // The server closes first, as in the bench; its FIN comes after the client has read the answer.
    s.once('data', () => { s.write('pong'); clock.schedule(clock.now() + 20, () => s.end()); });
  });
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 7 });
  const got = collect(sock);
  const clientClosed = once(sock, 'close');
  sock.write('ping');
  t.is((await clock.drive(got)).toString(), 'pong');
  await clock.drive(clientClosed);
  clock.advance(50); // the last ACK reaches the server
  const clientConn = sock.connection!;
  t.is(clientConn.state, 'CLOSED');
  t.is(clientConn.sendBuffer.allocated + clientConn.receiveBuffer.allocated, 0, 'the passive closer');
  const serverConn = accepted!.connection!;
  t.is(serverConn.state, 'TIME-WAIT');
  t.is(serverConn.sendBuffer.allocated + serverConn.receiveBuffer.allocated, 0, 'the active closer in TIME-WAIT');
  // Once its socket has closed, the layer keeps TIME-WAIT as a small record, and the socket's state follows it.
  if (!accepted!.closed) await clock.drive(once(accepted!, 'close'));
  const held = (b.tcp as unknown as { lookup(a: number, b: number, c: number, d: number): object | null })
    .lookup(serverConn.localAddress, serverConn.localPort, serverConn.remoteAddress, serverConn.remotePort);
  t.true(held instanceof TimeWaitRecord);
  t.is(accepted!.tcpState, 'TIME-WAIT');
  t.is(b.tcp.stats.connections, 1);
  clock.advance(b.tcp.config.timeWait);
  t.is(accepted!.tcpState, 'CLOSED');
  t.is(b.tcp.stats.connections, 0);
});

test('receive storage reused by later connections never changes bytes the application still holds', async (t) => {
  const { a, b, clock } = world();
  const server = b.tcp.listen({ port: 7 });
  const held: { buf: Buffer; value: number }[] = [];
  // Each connection sends its own byte value; small messages are read as copies, large ones as views.
  server.on('connection', (s: TcpSocket) => {
    s.on('data', (d: Buffer) => held.push({ buf: d, value: d[0] }));
    s.on('end', () => s.end());
  });
  for (let i = 0; i < 12; i++) {
    const value = 0x10 + i;
    const size = i % 3 === 0 ? 3000 : 32;
    const sock = a.tcp.connect({ host: '192.0.2.2', port: 7 });
    sock.on('data', () => {});
    const closed = once(sock, 'close');
    sock.end(Buffer.alloc(size, value));
    await clock.drive(closed);
  }
  t.is(held.reduce((n, h) => n + h.buf.length, 0), 4 * 3000 + 8 * 32);
  for (const h of held) t.true(h.buf.every((x) => x === h.value), `the bytes of connection ${h.value - 0x10} are intact`);
});

test('backpressure both ways: write() returns false, drain follows; a paused reader closes the window', async (t) => {
  const { a, b, clock } = world(2);
  const size = 3_000_000;
  const data = pattern(7, size);
  const server = b.tcp.listen({ port: 9 });
  let received: Promise<Buffer> | null = null;
  let serverSock: TcpSocket | null = null;
  server.on('connection', (s: TcpSocket) => {
    serverSock = s;
    s.pause(); // nobody reads for a while
    received = collect(s);
    s.pause();
  });
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 9 });
  let falses = 0;
  let drains = 0;
  const writeAll = async () => {
    for (let off = 0; off < size; off += 65536) {
      if (!sock.write(data.subarray(off, Math.min(size, off + 65536)))) {
        falses++;
        await once(sock, 'drain');
        drains++;
      }
    }
    sock.end();
  };
  const done = writeAll();
  // Let the sender fill everything while the reader is paused.
  await clock.drive(new Promise<void>((r) => setImmediate(r)));
  clock.runUntil(clock.now() + 2000);
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
  clock.runUntil(clock.now() + 2000);
  const conn = serverSock!.connection!;
  // Full to the window-scale unit: less than one unit cannot be advertised.
  t.true(conn.receiveBuffer.free < 1 << conn.rcvWscale, 'the receiver buffer is full');
  t.true(b.tcp.stats.segmentsOut > 0);
  t.true(falses >= 1, 'write() said stop');
  serverSock!.resume();
  await clock.drive(done);
  const got = await clock.drive(received!);
  t.is(got.length, size);
  t.is(sha(got), sha(data));
  t.is(drains, falses);
  t.true(a.tcp.stats.zeroWindowProbes >= 1, 'the sender probed the zero window');
});

test('half-close: the server answers after the client ends (allowHalfOpen)', async (t) => {
  const { a, b, clock } = world(3);
  const server = b.tcp.listen({ port: 80 }, { allowHalfOpen: true });
  server.on('connection', async (s: TcpSocket) => {
    const req = await collect(s);
    t.is(s.connection!.state, 'CLOSE-WAIT');
    s.end(`got ${req.length} bytes`);
  });
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 80 }, { allowHalfOpen: true });
  const reply = collect(sock);
  const closed = once(sock, 'close');
  sock.end(Buffer.alloc(5000, 1));
  t.is((await clock.drive(reply)).toString(), 'got 5000 bytes');
  t.is(sock.connection!.state, 'TIME-WAIT', 'the active closer keeps TIME-WAIT');
  await clock.drive(closed);
});

test('destroy() aborts with RST: the peer gets ECONNRESET', async (t) => {
  const { a, b, clock } = world(4);
  const server = b.tcp.listen({ port: 80 });
  const peerError = new Promise<NodeJS.ErrnoException>((resolve) => {
    server.on('connection', (s: TcpSocket) => {
      s.on('error', resolve);
      s.resume();
    });
  });
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 80 });
  await clock.drive(once(sock, 'connect'));
  sock.write('x');
  clock.runUntil(clock.now() + 50);
  const rstBefore = a.tcp.stats.rstOut;
  sock.destroy();
  t.is(a.tcp.stats.rstOut, rstBefore + 1);
  const err = await clock.drive(peerError);
  t.is(err.code, 'ECONNRESET');
  t.is(err.syscall, 'read');
});

test('ECONNREFUSED from a closed port, with Node-style error fields', async (t) => {
  const { a, clock } = world(5);
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 81 });
  const [err] = await clock.drive(once(sock, 'error')) as [NodeJS.ErrnoException & { address: string; port: number }];
  t.is(err.code, 'ECONNREFUSED');
  t.is(err.syscall, 'connect');
  t.is(err.address, '192.0.2.2');
  t.is(err.port, 81);
  t.is(err.errno, -111);
  t.is(err.message, 'connect ECONNREFUSED 192.0.2.2:81');
  t.true(sock.destroyed);
});

test('ETIMEDOUT when nobody answers; EHOSTUNREACH without a route', async (t) => {
  const { a, clock } = world(6, { loss: 1 });
  a.tcp.config.synRetries = 2;
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 80 });
  const [err] = await clock.drive(once(sock, 'error')) as [NodeJS.ErrnoException];
  t.is(err.code, 'ETIMEDOUT');
  t.is(clock.now(), 7000, 'SYN at 0, 1 s, 3 s; gave up at 7 s');
  const s2 = a.tcp.connect({ host: '203.0.113.9', port: 80 });
  const [e2] = await clock.drive(once(s2, 'error')) as [NodeJS.ErrnoException];
  t.is(e2.code, 'EHOSTUNREACH');
});

test('setTimeout emits timeout on idleness; setNoDelay/setKeepAlive chain like Node', async (t) => {
  const { a, b, clock } = world(7);
  b.tcp.listen({ port: 80 }).on('connection', (s: TcpSocket) => s.resume());
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 80 });
  t.is(sock.setNoDelay(true).setKeepAlive(true, 1000), sock);
  await clock.drive(once(sock, 'connect'));
  t.true(sock.connection!.noDelay);
  t.true(sock.connection!.keepAlive);
  const start = clock.now();
  sock.setTimeout(5000);
  await clock.drive(once(sock, 'timeout'));
  t.is(clock.now() - start, 5000);
  t.false(sock.destroyed, 'timeout does not close (like Node)');
  sock.destroy();
});

test('server: EADDRINUSE on a second listen, close() waits for its connections', async (t) => {
  const { a, b, clock } = world(8);
  const server = b.tcp.listen({ port: 80 });
  t.throws(() => b.tcp.listen({ port: 80 }), { code: 'EADDRINUSE' } as never);
  t.throws(() => b.tcp.listen({ port: 70000 }), { instanceOf: RangeError });
  t.throws(() => a.tcp.connect({ host: 'not an address', port: 80 }), { instanceOf: TypeError });
  const accepted: TcpSocket[] = [];
  server.on('connection', (s: TcpSocket) => { accepted.push(s); s.resume(); });
  const sock = a.tcp.connect({ host: '192.0.2.2', port: 80 });
  await clock.drive(once(server, 'connection'));
  let closed = false;
  server.close(() => { closed = true; });
  t.false(server.listening);
  await clock.drive(new Promise((r) => setImmediate(r)));
  t.false(closed, 'a connection is still open');
  sock.end();
  await clock.drive(once(server, 'close'));
  t.true(closed);
  t.is(accepted.length, 1);
  const s2 = a.tcp.connect({ host: '192.0.2.2', port: 80 });
  const [err] = await clock.drive(once(s2, 'error')) as [NodeJS.ErrnoException];
  t.is(err.code, 'ECONNREFUSED');
});

// ---------------------------------------------------------------- TLS over TcpSocket

function makeCert(): { key: string; cert: string } | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pnet-tcp-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=pnet.test',
      '-addext', 'subjectAltName=DNS:pnet.test'], { stdio: 'ignore' });
    return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } catch {
    return null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('TLS: tls.connect({ socket }) on the client and new tls.TLSSocket(socket, { isServer }) on the server', async (t) => {
  const creds = makeCert();
  if (!creds) {
    if (process.env.CI === 'true') t.fail('openssl CLI missing');
    else t.log('SKIP: openssl CLI not available');
    t.pass();
    return;
  }
  const { a, b, clock } = world(9, { loss: 0.02 });
  // TLS drives the shutdown itself (close_notify, then end()), so the raw socket must not end its
  // writable side on its own when the client half-closes: allowHalfOpen, as with any JS stream under TLS.
  const server = b.tcp.listen({ port: 443 }, { allowHalfOpen: true });
  const payload = pattern(3, 200_000);
  server.on('connection', (raw: TcpSocket) => {
    const secure = new tls.TLSSocket(raw, { isServer: true, key: creds.key, cert: creds.cert });
    secure.on('data', (d: Buffer) => secure.write(d)); // echo over TLS
    secure.on('end', () => secure.end());
  });
  const raw = a.tcp.connect({ host: '192.0.2.2', port: 443 });
  const secure = tls.connect({ socket: raw, servername: 'pnet.test', ca: creds.cert });
  await clock.drive(once(secure, 'secureConnect'));
  t.true(secure.authorized, String(secure.authorizationError));
  t.is(secure.getPeerCertificate().subject.CN, 'pnet.test');
  const echoed = collect(secure);
  secure.end(payload);
  const got = await clock.drive(echoed);
  t.is(got.length, payload.length);
  t.is(sha(got), sha(payload));
  t.true(a.tcp.stats.retransmits + b.tcp.stats.retransmits > 0, 'with 2% loss underneath');
});

test('server: getConnections counts open accepted sockets, maxConnections resets the excess, close waits for the last socket', async (t) => {
  const { a, b, clock } = world();
  const server = b.tcp.listen({ port: 9 });
  server.maxConnections = 1;
  const accepted: TcpSocket[] = [];
  server.on('connection', (s: TcpSocket) => { accepted.push(s); s.on('error', () => {}); });
  const count = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
  const acceptedFirst = once(server, 'connection');
  const first = a.tcp.connect({ host: '192.0.2.2', port: 9 });
  first.on('error', () => {});
  await clock.drive(acceptedFirst);
  t.is(accepted.length, 1);
  t.is(await clock.drive(count()), 1);
  const second = a.tcp.connect({ host: '192.0.2.2', port: 9 });
  const [err] = await clock.drive(once(second, 'error')) as [NodeJS.ErrnoException];
  t.is(err.code, 'ECONNRESET', 'beyond maxConnections: reset');
  t.is(accepted.length, 1);
  let closed = false;
  server.close(() => { closed = true; });
  await clock.drive(new Promise((r) => setImmediate(r)));
  t.false(closed, 'one socket still open');
  const gone = once(accepted[0], 'close');
  accepted[0].destroy();
  await clock.drive(gone);
  await clock.drive(new Promise((r) => setImmediate(r)));
  t.is(await clock.drive(count()), 0);
  t.true(closed, "'close' once the last accepted socket closed");
});
