import test from 'ava';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { HttpClient, HttpError, HttpServer, httpbin, collect } from '../src';
import { loopbackTransport, rawServer, onRequestHead, ManualClock, settle } from './helpers/loopback';

/** The code of the error a promise rejects with ('' if it resolves). */
async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (err) {
    return String((err as HttpError).code);
  }
}

async function nodeServer(handler: http.RequestListener): Promise<{ url: string; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function ourServer(handler = httpbin()): Promise<{ url: string; port: number; server: HttpServer; close(): Promise<void> }> {
  const server = new HttpServer(handler);
  const l = await server.listen(loopbackTransport(), { port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${l.port}`, port: l.port, server, close: () => server.close() };
}

test('GET against our server: status, headers, body; user headers kept in order and case', async (t) => {
  const s = await ourServer();
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const res = await client.request(`${s.url}/headers`, { headers: [['X-Zeta', '1'], ['x-alpha', 'two'], ['X-Zeta', '3']] });
    t.is(res.status, 200);
    t.is(res.headers.get('content-type'), 'application/json');
    const body = await res.json<{ headers: Record<string, string | undefined> }>();
    t.deepEqual(Object.keys(body.headers), ['Host', 'X-Zeta', 'x-alpha']);
    t.is(body.headers['X-Zeta'], '1,3');
    t.is(body.headers.Host, `127.0.0.1:${s.port}`);
  } finally {
    client.close();
    await s.close();
  }
});

test('the request goes on the wire exactly: Host first, user headers as given, Content-Length added', async (t) => {
  let seen = '';
  const raw = await rawServer((sock) => onRequestHead(sock, (head, rest) => {
    seen = head + '\r\n\r\n' + rest.toString('latin1');
    sock.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  }));
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const res = await client.request(`http://127.0.0.1:${raw.port}/p?q=1`, { method: 'POST', headers: { 'x-CASE': 'Kept', Accept: '*/*' }, body: 'abc' });
    await res.buffer();
    t.is(seen, `POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:${raw.port}\r\nx-CASE: Kept\r\nAccept: */*\r\nContent-Length: 3\r\n\r\nabc`);
  } finally {
    client.close();
    await raw.close();
  }
});

test('all methods, bodies whole and streamed (chunked), against Node http', async (t) => {
  const s = await nodeServer(async (req, res) => {
    const body = await collect(req);
    res.setHeader('x-te', String(req.headers['transfer-encoding'] ?? ''));
    res.end(JSON.stringify({ method: req.method, body: body.toString(), len: req.headers['content-length'] ?? null }));
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND']) {
      const res = await client.request(`${s.url}/m`, { method, ...(method === 'GET' ? {} : { body: `hi ${method}` }) });
      const j = await res.json<{ method: string; body: string }>();
      t.is(j.method, method);
      t.is(j.body, method === 'GET' ? '' : `hi ${method}`);
    }
    const stream = Readable.from([Buffer.from('one,'), Buffer.from('two,'), 'three']);
    const res = await client.request(`${s.url}/s`, { method: 'POST', body: stream });
    t.is(res.headers.get('x-te'), 'chunked');
    t.is((await res.json<{ body: string }>()).body, 'one,two,three');
    const fixed = await client.request(`${s.url}/s`, { method: 'PUT', headers: { 'Content-Length': '6' }, body: Readable.from(['abc', 'def']) });
    const fj = await fixed.json<{ body: string; len: string }>();
    t.deepEqual([fj.body, fj.len], ['abcdef', '6']);
  } finally {
    client.close();
    await s.close();
  }
});

test('a streamed body longer than its Content-Length is refused', async (t) => {
  const s = await nodeServer((req, res) => { req.resume(); req.on('end', () => res.end()); });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const err = await t.throwsAsync(client.request(`${s.url}/`, { method: 'PUT', headers: { 'Content-Length': '2' }, body: Readable.from(['abc']) }));
    t.is((err as HttpError).code, 'HTTP_BODY_LENGTH_MISMATCH');
  } finally {
    client.close();
    await s.close();
  }
});

test('no body for HEAD, 204 and 304; 1xx skipped', async (t) => {
  const s = await nodeServer((req, res) => {
    if (req.url === '/204') { res.statusCode = 204; res.end(); return; }
    if (req.url === '/304') { res.statusCode = 304; res.end(); return; }
    if (req.url === '/early') {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.writeProcessing();
    }
    res.setHeader('Content-Length', '5');
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const head = await client.request(`${s.url}/x`, { method: 'HEAD' });
    t.is(head.headers.get('content-length'), '5');
    t.is((await head.buffer()).length, 0);
    t.is((await (await client.request(`${s.url}/204`)).buffer()).length, 0);
    t.is((await (await client.request(`${s.url}/304`)).buffer()).length, 0);
    const early = await client.request(`${s.url}/early`);
    t.is(early.status, 200);
    t.is(await early.text(), 'hello');
    // All on one kept-alive connection.
    t.deepEqual(Object.values(client.pool.stats()).map((x) => x.total), [1]);
  } finally {
    client.close();
    await s.close();
  }
});

test('Expect: 100-continue holds the body until the server says 100', async (t) => {
  let continued = 0;
  const s = await nodeServer(async (req, res) => {
    res.end((await collect(req)).toString());
  });
  s.server.on('checkContinue', (req, res) => {
    continued++;
    res.writeContinue();
    s.server.emit('request', req, res);
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const res = await client.request(`${s.url}/`, { method: 'POST', body: 'payload', expectContinue: true, timeouts: { continue: 600_000 } });
    t.is(await res.text(), 'payload');
    t.is(continued, 1);
  } finally {
    client.close();
    await s.close();
  }
});

test('Expect: 100-continue answered with a final status: the body is never sent', async (t) => {
  let received: Buffer = Buffer.alloc(0);
  const raw = await rawServer((sock) => onRequestHead(sock, (_head, rest) => {
    received = rest;
    sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    sock.write('HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n');
  }));
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const res = await client.request(`http://127.0.0.1:${raw.port}/`, { method: 'PUT', body: 'secret', expectContinue: true, timeouts: { continue: 600_000 } });
    t.is(res.status, 417);
    await res.buffer();
    await settle(10);
    t.is(received.length, 0);
  } finally {
    client.close();
    await raw.close();
  }
});

test('keep-alive: sequential requests share a connection; the pool respects its limit', async (t) => {
  const s = await ourServer();
  const transport = loopbackTransport();
  const client = new HttpClient({ transport, maxSocketsPerOrigin: 2 });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await client.request(`${s.url}/get`);
      t.is(res.status, 200);
      await res.buffer();
    }
    t.is(transport.connects, 1);
    const many = await Promise.all(Array.from({ length: 6 }, (_, i) => client.request(`${s.url}/anything/${i}`).then((r) => r.json<{ url: string }>())));
    t.deepEqual(many.map((m) => m.url.split('/').pop()), ['0', '1', '2', '3', '4', '5']);
    t.true(transport.connects <= 2);
    const stats = Object.values(client.pool.stats())[0];
    t.true(stats.total <= 2);
  } finally {
    client.close();
    await s.close();
  }
});

test('idle pooled connections close after the idle timeout (injected clock)', async (t) => {
  const s = await ourServer();
  const clock = new ManualClock();
  const transport = loopbackTransport();
  const client = new HttpClient({ transport, clock, idleTimeout: 1000 });
  try {
    await (await client.request(`${s.url}/get`)).buffer();
    await settle();
    t.is(Object.values(client.pool.stats())[0].idle, 1);
    clock.advance(999);
    t.is(Object.values(client.pool.stats())[0].idle, 1);
    clock.advance(1);
    t.is(Object.values(client.pool.stats())[0].idle, 0);
    await (await client.request(`${s.url}/get`)).buffer();
    t.is(transport.connects, 2);
  } finally {
    client.close();
    await s.close();
  }
});

/** A server that answers the first request on each connection, then drops the connection at the next one without answering. */
async function oneShotServer() {
  let conns = 0;
  const raw = await rawServer((sock) => {
    conns++;
    let served = 0;
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        const end = buf.indexOf('\r\n\r\n') + 4;
        const head = buf.slice(0, end);
        const m = /content-length: (\d+)/i.exec(head);
        const need = end + (m ? Number(m[1]) : 0);
        if (buf.length < need) return;
        buf = buf.slice(need);
        if (served++ === 0) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else sock.destroy();
      }
    });
  });
  return { raw, conns: () => conns };
}

test('a stale pooled connection is retried once for idempotent requests', async (t) => {
  const { raw, conns } = await oneShotServer();
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const url = `http://127.0.0.1:${raw.port}/`;
    t.is(await (await client.request(url)).text(), 'ok');
    await settle();
    t.is(await (await client.request(url, { method: 'PUT', body: 'x' })).text(), 'ok');
    t.is(conns(), 2);
    t.is(client.stats.retries, 1);
    t.is(client.stats.requests, 3);
  } finally {
    client.close();
    await raw.close();
  }
});

test('a stale pooled connection is not retried for POST', async (t) => {
  const { raw } = await oneShotServer();
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const url = `http://127.0.0.1:${raw.port}/`;
    await (await client.request(url)).text();
    await settle();
    const err = await t.throwsAsync(client.request(url, { method: 'POST', body: 'x' }));
    t.true(['HTTP_PREMATURE_CLOSE', 'HTTP_CONNECTION_FAILED'].includes((err as HttpError).code));
  } finally {
    client.close();
    await raw.close();
  }
});

test('redirects: followed to the end, 303 becomes GET, 307/308 keep method and body, at most 16 hops', async (t) => {
  const s = await ourServer(async (req, res) => {
    const p = req.url.pathname;
    if (p.startsWith('/to/')) {
      const [, , status, ...rest] = p.split('/');
      res.writeHead(Number(status), { Location: '/' + rest.join('/') });
      res.end();
      return;
    }
    if (p.startsWith('/loop/')) {
      res.writeHead(302, { Location: `/loop/${Number(p.split('/')[2]) + 1}` });
      res.end();
      return;
    }
    return httpbin()(req, res);
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const r1 = await client.request(`${s.url}/redirect/3`);
    t.is(r1.status, 200);
    t.is(r1.url, `${s.url}/get`);
    t.deepEqual(r1.redirects, [`${s.url}/redirect/2`, `${s.url}/redirect/1`, `${s.url}/get`]);
    await r1.buffer();
    for (const status of [301, 302, 303]) {
      const r = await client.request(`${s.url}/to/${status}/anything`, { method: 'POST', body: 'data', headers: { 'Content-Type': 'text/plain' } });
      const j = await r.json<{ method: string; data: string; headers: Record<string, string | undefined> }>();
      t.is(j.method, 'GET', `status ${status}`);
      t.is(j.data, '');
      t.is(j.headers['Content-Type'], undefined);
    }
    for (const status of [307, 308]) {
      const r = await client.request(`${s.url}/to/${status}/anything`, { method: 'PUT', body: 'data' });
      const j = await r.json<{ method: string; data: string }>();
      t.deepEqual([j.method, j.data], ['PUT', 'data'], `status ${status}`);
    }
    const noFollow = await client.request(`${s.url}/redirect/1`, { redirect: false });
    t.is(noFollow.status, 302);
    t.is(noFollow.headers.get('location'), '/get');
    await noFollow.buffer();
    const before = client.stats.redirects;
    const sixteen = await client.request(`${s.url}/redirect/16`);
    t.is(client.stats.redirects - before, 16);
    t.is(sixteen.redirects.length, 16);
    await sixteen.buffer();
    const err = await t.throwsAsync(client.request(`${s.url}/loop/0`));
    t.is((err as HttpError).code, 'HTTP_TOO_MANY_REDIRECTS');
  } finally {
    client.close();
    await s.close();
  }
});

test('redirects across origins drop Authorization and Cookie', async (t) => {
  const b = await ourServer();
  const a = await ourServer(async (req, res) => {
    if (req.url.pathname === '/same') res.writeHead(302, { Location: '/headers' });
    else if (req.url.pathname === '/other') res.writeHead(302, { Location: `${b.url}/headers` });
    else return httpbin()(req, res);
    res.end();
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  const secrets = { Authorization: 'Bearer s3cret', Cookie: 'session=1', 'X-Other': 'kept' };
  try {
    const same = await (await client.request(`${a.url}/same`, { headers: secrets })).json<{ headers: Record<string, string | undefined> }>();
    t.is(same.headers.Authorization, 'Bearer s3cret');
    t.is(same.headers.Cookie, 'session=1');
    const other = await (await client.request(`${a.url}/other`, { headers: secrets })).json<{ headers: Record<string, string | undefined> }>();
    t.is(other.headers.Authorization, undefined);
    t.is(other.headers.Cookie, undefined);
    t.is(other.headers['X-Other'], 'kept');
    t.is(other.headers.Host, `127.0.0.1:${b.port}`);
  } finally {
    client.close();
    await a.close();
    await b.close();
  }
});

test('decompression of gzip, deflate and br when asked', async (t) => {
  const text = 'compressible '.repeat(500);
  const s = await nodeServer((req, res) => {
    const enc = req.url!.slice(1);
    res.setHeader('x-accept-encoding', String(req.headers['accept-encoding'] ?? ''));
    const data = enc === 'gzip' ? zlib.gzipSync(text) : enc === 'deflate' ? zlib.deflateSync(text) : enc === 'br' ? zlib.brotliCompressSync(text) : Buffer.from('not gzip at all');
    res.setHeader('Content-Encoding', enc === 'bad' ? 'gzip' : enc);
    res.end(data);
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    for (const enc of ['gzip', 'deflate', 'br']) {
      const res = await client.request(`${s.url}/${enc}`, { decompress: true });
      t.is(res.headers.get('x-accept-encoding'), 'gzip, deflate, br');
      t.true(res.decoded);
      t.is(await res.text(), text, enc);
      const raw = await client.request(`${s.url}/${enc}`);
      t.false(raw.decoded);
      t.not((await raw.buffer()).toString(), text);
    }
    const bad = await client.request(`${s.url}/bad`, { decompress: true });
    await t.throwsAsync(bad.buffer());
  } finally {
    client.close();
    await s.close();
  }
});

test('the body is a stream with backpressure: an unread body does not fill memory', async (t) => {
  let serverBlocked = false;
  let written = 0;
  const total = 48 * 1024 * 1024;
  const piece = Buffer.alloc(256 * 1024, 7);
  const s = await nodeServer((_req, res) => {
    res.setHeader('Content-Length', String(total));
    const pump = () => {
      while (written < total) {
        written += piece.length;
        if (!res.write(piece)) {
          serverBlocked = true;
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const res = await client.request(`${s.url}/big`);
    for (let i = 0; i < 200 && !serverBlocked; i++) await settle(5);
    await settle(20);
    t.true(serverBlocked);
    t.true(res.body.readableLength <= 512 * 1024, `client buffered ${res.body.readableLength}`);
    t.true(written < total);
    let got = 0;
    for await (const c of res.body) got += (c as Buffer).length;
    t.is(got, total);
  } finally {
    client.close();
    await s.close();
  }
});

test('timeouts on the injected clock: connect, first byte, idle', async (t) => {
  const clock = new ManualClock();
  // connect: a transport that never connects
  const never = { connect: () => new Promise<never>(() => {}), listen: () => Promise.reject(new Error('no')) };
  const c1 = new HttpClient({ transport: never, clock, timeouts: { connect: 500 } });
  const p1 = c1.request('http://127.0.0.1:1/');
  await settle();
  clock.advance(500);
  t.is(await rejectionCode(p1), 'HTTP_CONNECT_TIMEOUT');

  // first byte: a server that reads the request and says nothing
  let gotHead!: () => void;
  const headSeen = new Promise<void>((r) => (gotHead = r));
  const silent = await rawServer((sock) => onRequestHead(sock, () => gotHead()));
  const c2 = new HttpClient({ transport: loopbackTransport(), clock, timeouts: { firstByte: 2000, idle: 0 } });
  const p2 = c2.request(`http://127.0.0.1:${silent.port}/`);
  p2.catch(() => {});
  await headSeen;
  await settle();
  clock.advance(1999);
  await settle();
  clock.advance(1);
  t.is(await rejectionCode(p2), 'HTTP_FIRST_BYTE_TIMEOUT');
  await silent.close();

  // idle: a server that sends part of the body and stops
  let partSent!: () => void;
  const sent = new Promise<void>((r) => (partSent = r));
  const stalls = await rawServer((sock) => onRequestHead(sock, () => {
    sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc', () => partSent());
  }));
  const c3 = new HttpClient({ transport: loopbackTransport(), clock, timeouts: { idle: 3000 } });
  const res = await c3.request(`http://127.0.0.1:${stalls.port}/`);
  const body = res.buffer();
  body.catch(() => {});
  await sent;
  await settle(10);
  clock.advance(3000);
  t.is(await rejectionCode(body), 'HTTP_IDLE_TIMEOUT');
  await stalls.close();
  c1.close();
  c2.close();
  c3.close();
});

test('bad arguments throw at once with a clear message', (t) => {
  const client = new HttpClient({ transport: loopbackTransport() });
  t.throws(() => client.request('not a url'), { message: /invalid URL/ });
  t.throws(() => client.request('ftp://x/'), { message: /unsupported scheme/ });
  t.throws(() => client.request('http://x/', { method: 'GE T' }), { message: /invalid method/ });
  t.throws(() => client.request('http://x/', { headers: { 'Bad Name': 'x' } }), { message: /invalid header name/ });
  t.throws(() => client.request('http://x/', { headers: { A: 'x\r\nInjected: 1' } }), { message: /invalid value/ });
  t.throws(() => new HttpClient({} as never), { message: /transport/ });
});

test('an AbortSignal aborts a request waiting for its response, and a body being read', async (t) => {
  let heads = 0;
  const raw = await rawServer((sock) => onRequestHead(sock, (head) => {
    heads++;
    if (head.startsWith('GET /partial')) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc');
  }));
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const a = new AbortController();
    const p = client.request(`http://127.0.0.1:${raw.port}/silent`, { signal: a.signal });
    for (let i = 0; i < 50 && heads === 0; i++) await settle(2);
    a.abort();
    t.is(await rejectionCode(p), 'HTTP_ABORTED');
    const b = new AbortController();
    const res = await client.request(`http://127.0.0.1:${raw.port}/partial`, { signal: b.signal });
    const body = res.buffer();
    b.abort();
    t.is(await rejectionCode(body), 'HTTP_ABORTED');
    const c = new AbortController();
    c.abort();
    t.is(await rejectionCode(client.request(`http://127.0.0.1:${raw.port}/never`, { signal: c.signal })), 'HTTP_ABORTED');
  } finally {
    client.close();
    await raw.close();
  }
});

test('a response that ends while the request body is still going out frees the connection', async (t) => {
  const raw = await rawServer((sock) => onRequestHead(sock, () => {
    sock.write('HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nnope');
  }));
  const client = new HttpClient({ transport: loopbackTransport(), maxSocketsPerOrigin: 1 });
  try {
    // A body that never ends: only the early response can finish this exchange.
    const endless = new Readable({ read() { setImmediate(() => this.push(Buffer.alloc(1024, 1))); } });
    const res = await client.request(`http://127.0.0.1:${raw.port}/`, { method: 'POST', body: endless });
    t.is(res.status, 413);
    t.is(await res.text(), 'nope');
    await settle(5);
    t.true(endless.destroyed);
    t.deepEqual(Object.values(client.pool.stats()).map((x) => x.total), [0]);
    // The single slot is free again.
    const next = await client.request(`http://127.0.0.1:${raw.port}/`);
    t.is(next.status, 413);
    await next.buffer();
  } finally {
    client.close();
    await raw.close();
  }
});

test('a refused connection rejects with HTTP_CONNECTION_FAILED and frees its pool slot', async (t) => {
  const raw = await rawServer(() => {});
  const port = raw.port;
  await raw.close(); // nothing listens there now
  const client = new HttpClient({ transport: loopbackTransport(), maxSocketsPerOrigin: 1 });
  t.is(await rejectionCode(client.request(`http://127.0.0.1:${port}/`)), 'HTTP_CONNECTION_FAILED');
  t.is(await rejectionCode(client.request(`http://127.0.0.1:${port}/`)), 'HTTP_CONNECTION_FAILED');
  t.deepEqual(Object.values(client.pool.stats()).map((x) => x.total), [0]);
  client.close();
});
