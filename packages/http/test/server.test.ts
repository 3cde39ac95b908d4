import test from 'ava';
import * as http from 'node:http';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { HttpClient, HttpServer, collect, type RequestHandler } from '../src';
import { loopbackTransport, memoryTransport, duplexPair, ManualClock, settle, testCertificate } from './helpers/loopback';

async function serve(handler: RequestHandler, options = {}) {
  const server = new HttpServer(handler, options);
  const l = await server.listen(loopbackTransport(), { port: 0, host: '127.0.0.1' });
  return { server, port: l.port, close: () => server.close() };
}

/** Sends raw bytes and returns everything the server sends until it closes (or `until` matches). */
function rawExchange(port: number, bytes: string | Buffer[], until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (until && until.test(out)) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    if (typeof bytes === 'string') s.write(bytes);
    else for (const b of bytes) s.write(b);
  });
}

const echo: RequestHandler = async (req, res) => {
  const body = await collect(req.body);
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ method: req.method, target: req.target, headers: req.headers.raw, body: body.toString(), trailers: req.trailers.raw }));
};

test('Node http client against our server: bodies, chunked requests, keep-alive reuse', async (t) => {
  const s = await serve(echo);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const send = (method: string, body?: string, chunked = false) => new Promise<{ json: any; reused: boolean }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: s.port, method, path: '/x?y=1', agent, headers: chunked ? { 'Transfer-Encoding': 'chunked' } : {} }, async (res) => {
        resolve({ json: JSON.parse((await collect(res)).toString()), reused: req.reusedSocket });
      });
      req.on('error', reject);
      if (chunked && body) for (const c of body) req.write(c);
      req.end(chunked ? undefined : body);
    });
    const a = await send('GET');
    t.is(a.json.method, 'GET');
    t.is(a.json.target, '/x?y=1');
    const b = await send('POST', 'hello');
    t.is(b.json.body, 'hello');
    t.true(b.reused);
    const c = await send('PUT', 'chunk by chunk', true);
    t.is(c.json.body, 'chunk by chunk');
    t.true(c.reused);
  } finally {
    agent.destroy();
    await s.close();
  }
});

test('response framing: fixed, chunked with trailers, HEAD without body', async (t) => {
  const s = await serve(async (req, res) => {
    if (req.url.pathname === '/fixed') return void res.end('fixed body');
    if (req.url.pathname === '/chunked') {
      res.addTrailers({ 'X-Checksum': 'abc' });
      res.write('part one, ');
      await settle(1);
      res.end('part two');
      return;
    }
    if (req.url.pathname === '/piped') {
      Readable.from(['a', 'b', 'c']).pipe(res);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const fixed = await client.request(`http://127.0.0.1:${s.port}/fixed`);
    t.is(fixed.headers.get('content-length'), '10');
    t.is(await fixed.text(), 'fixed body');
    const chunked = await client.request(`http://127.0.0.1:${s.port}/chunked`);
    t.is(chunked.headers.get('transfer-encoding'), 'chunked');
    t.is(await chunked.text(), 'part one, part two');
    t.is(chunked.trailers.get('x-checksum'), 'abc');
    t.is(await (await client.request(`http://127.0.0.1:${s.port}/piped`)).text(), 'abc');
    const head = await client.request(`http://127.0.0.1:${s.port}/fixed`, { method: 'HEAD' });
    t.is(head.headers.get('content-length'), '10');
    t.is((await head.buffer()).length, 0);
    // and all of that on one connection
    t.is(s.server.connectionCount, 1);
  } finally {
    client.close();
    await s.close();
  }
});

test('pipelined requests are answered in order', async (t) => {
  const s = await serve(async (req, res) => {
    if (req.target === '/slow') await settle(5);
    res.end(req.target);
  });
  try {
    const out = await rawExchange(s.port, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const bodies = out.split('\r\n\r\n').slice(1).map((x) => x.split('HTTP/1.1')[0]);
    t.deepEqual(bodies, ['/slow', '/fast', '/last']);
    t.regex(out, /Connection: close/);
  } finally {
    await s.close();
  }
});

test('bad requests get 400 / 431 / 501 and a closed connection', async (t) => {
  const s = await serve(echo, { limits: { maxHeaderSize: 1024 } });
  try {
    t.regex(await rawExchange(s.port, 'NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400 /);
    t.regex(await rawExchange(s.port, `GET / HTTP/1.1\r\nX: ${'a'.repeat(2000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    t.regex(await rawExchange(s.port, 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'), /^HTTP\/1\.1 501 /);
    t.regex(await rawExchange(s.port, 'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'), /^HTTP\/1\.1 400 /);
    t.regex(await rawExchange(s.port, 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n'), /^HTTP\/1\.1 400 [^]*invalid chunk-size line/);
    t.is(s.server.stats.badRequests, 5);
    t.is(s.server.stats.requests, 1);
  } finally {
    await s.close();
  }
});

test('Expect: 100-continue gets 100 before the final response', async (t) => {
  const s = await serve(echo);
  try {
    const out = await rawExchange(s.port, [Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n'), Buffer.from('hi')]);
    t.regex(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    t.regex(out, /"body":"hi"/);
  } finally {
    await s.close();
  }
});

test('HTTP/1.0 clients: close-delimited streaming responses, Connection: close', async (t) => {
  const s = await serve((_req, res) => {
    res.write('streamed ');
    res.end('body');
  });
  try {
    const out = await rawExchange(s.port, 'GET / HTTP/1.0\r\n\r\n');
    t.regex(out, /^HTTP\/1\.1 200 OK\r\n/);
    t.notRegex(out, /chunked/i);
    t.regex(out, /Connection: close/);
    t.true(out.endsWith('\r\n\r\nstreamed body'));
  } finally {
    await s.close();
  }
});

test('a handler that throws gets a 500; the server keeps serving', async (t) => {
  const errors: unknown[] = [];
  const s = await serve((req, res) => {
    if (req.target === '/boom') throw new Error('boom');
    if (req.target === '/reject') return Promise.reject(new Error('async boom'));
    res.end('fine');
  }, { onError: (e: unknown) => errors.push(e) });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    t.is((await client.request(`http://127.0.0.1:${s.port}/boom`)).status, 500);
    t.is((await client.request(`http://127.0.0.1:${s.port}/reject`)).status, 500);
    t.is(await (await client.request(`http://127.0.0.1:${s.port}/ok`)).text(), 'fine');
    t.is(errors.length, 2);
    t.is(s.server.stats.handlerErrors, 2);
  } finally {
    client.close();
    await s.close();
  }
});

test('request bodies stream with backpressure to the handler', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let buffered = -1;
  const s = await serve(async (req, res) => {
    await gate;
    buffered = req.body.readableLength;
    let n = 0;
    for await (const c of req.body) n += (c as Buffer).length;
    res.end(String(n));
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const total = 32 * 1024 * 1024;
    const piece = Buffer.alloc(1024 * 1024, 1);
    let produced = 0;
    const body = new Readable({ read() { produced += piece.length; this.push(produced > total ? null : piece); } });
    const p = client.request(`http://127.0.0.1:${s.port}/`, { method: 'POST', body });
    for (let i = 0; i < 50; i++) await settle(5);
    t.true(produced < total, `the client produced ${produced} bytes before the handler read any`);
    release();
    t.is(await (await p).text(), String(total));
    t.true(buffered <= 256 * 1024);
  } finally {
    client.close();
    await s.close();
  }
});

test('keep-alive timeout closes idle connections (injected clock); server.close stops listening', async (t) => {
  const clock = new ManualClock();
  const s = await serve((_req, res) => void res.end('x'), { clock, keepAliveTimeout: 1000 });
  const transport = loopbackTransport();
  const client = new HttpClient({ transport });
  try {
    await (await client.request(`http://127.0.0.1:${s.port}/`)).text();
    await settle();
    t.is(s.server.connectionCount, 1);
    clock.advance(1000);
    await settle(10);
    t.is(s.server.connectionCount, 0);
    await (await client.request(`http://127.0.0.1:${s.port}/`)).text();
    t.is(transport.connects, 2);
  } finally {
    client.close();
    await s.close();
  }
  await t.throwsAsync(new HttpClient({ transport: loopbackTransport() }).request(`http://127.0.0.1:${s.port}/`));
});

test('over an in-memory Duplex pair: client and server without sockets', async (t) => {
  const server = new HttpServer(echo);
  const transport = memoryTransport((d) => server.handle(d));
  const client = new HttpClient({ transport });
  const res = await client.request('http://example.test/mem', { method: 'POST', body: Readable.from(['in ', 'memory']) });
  const j = await res.json<{ body: string; headers: string[][] }>();
  t.is(j.body, 'in memory');
  t.deepEqual(j.headers[0], ['Host', 'example.test']);
  await (await client.request('http://example.test/again')).text();
  t.is(transport.connects, 1);
  client.close();
});

test('TLS: our server behind a TLS listener, our client over https', async (t) => {
  const { key, cert, ca } = testCertificate();
  const server = new HttpServer(echo);
  const l = await server.listen(loopbackTransport(), { port: 0, secure: { key, cert } });
  const client = new HttpClient({ transport: loopbackTransport(), tls: { ca } });
  try {
    const res = await client.request(`https://example.test:${l.port}/secure`);
    t.is((await res.json<{ target: string }>()).target, '/secure');
    const untrusted = new HttpClient({ transport: loopbackTransport() });
    await t.throwsAsync(untrusted.request(`https://example.test:${l.port}/`), { message: /cannot connect/ });
  } finally {
    client.close();
    await server.close();
  }
});

test('a client that half-closes after its request still gets the response (any Duplex)', async (t) => {
  const server = new HttpServer(async (req, res) => {
    await settle(2);
    res.end(`answer to ${req.target}`);
  });
  const [client, serverEnd] = duplexPair();
  server.handle(serverEnd);
  client.end('GET /half HTTP/1.1\r\nHost: x\r\n\r\n');
  const out = (await collect(client)).toString('latin1');
  t.regex(out, /^HTTP\/1\.1 200 OK\r\n/);
  t.regex(out, /Connection: close/);
  t.true(out.endsWith('answer to /half'));
});

test('a request sent with Connection: close does not return its connection to the pool', async (t) => {
  const s = await serve((_req, res) => void res.end('x'));
  const transport = loopbackTransport();
  const client = new HttpClient({ transport });
  try {
    await (await client.request(`http://127.0.0.1:${s.port}/`, { headers: { Connection: 'close' } })).text();
    await (await client.request(`http://127.0.0.1:${s.port}/`)).text();
    await (await client.request(`http://127.0.0.1:${s.port}/`)).text();
    t.is(transport.connects, 2);
  } finally {
    client.close();
    await s.close();
  }
});

test('a stalled request body times out on the injected clock; the connection closes', async (t) => {
  const clock = new ManualClock();
  let started!: () => void;
  const inHandler = new Promise<void>((r) => (started = r));
  let bodyError = '';
  const server = new HttpServer(async (req, res) => {
    started();
    try {
      await collect(req.body);
    } catch (err) {
      bodyError = (err as { code?: string }).code ?? '';
    }
    res.end();
  }, { clock, bodyIdleTimeout: 1000 });
  const [client, serverEnd] = duplexPair();
  server.handle(serverEnd);
  const closed = new Promise<void>((r) => client.on('end', () => r()));
  client.resume();
  client.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
  await inHandler;
  await settle();
  clock.advance(999);
  await settle();
  t.is(bodyError, '');
  clock.advance(1);
  await closed;
  t.is(bodyError, 'HTTP_IDLE_TIMEOUT');
});

test('a pipelined request served after the keep-alive pause is not cut by the keep-alive timer', async (t) => {
  const clock = new ManualClock();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started = 0;
  const server = new HttpServer(async (req, res) => {
    started++;
    if (req.target === '/slow') await gate;
    res.end(req.target);
  }, { clock, keepAliveTimeout: 1000 });
  const [client, serverEnd] = duplexPair();
  server.handle(serverEnd);
  const reply = collect(client);
  client.write('GET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  for (let i = 0; i < 50 && started < 2; i++) await settle(2);
  t.is(started, 2);
  clock.advance(5000); // far past the keep-alive timeout while /slow is being served
  release();
  const out = (await reply).toString('latin1');
  t.regex(out, /\/fast[^]*\/slow$/);
});
