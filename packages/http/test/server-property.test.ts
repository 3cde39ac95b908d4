import test from 'ava';
import fc from 'fast-check';
import { HttpServer, collect } from '../src';
import { duplexPair, settle } from './helpers/loopback';

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,9}$/).filter((n) => !/^(content-length|transfer-encoding|connection|expect|upgrade)$/i.test(n));
const value = fc.stringMatching(/^[!-~]([ !-~]{0,20}[!-~])?$/);

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
  path: fc.stringMatching(/^\/[a-z0-9/]{0,12}$/),
  headers: fc.array(fc.tuple(token, value), { maxLength: 5 }),
  body: fc.uint8Array({ maxLength: 300 }),
  chunked: fc.boolean(),
  chunk: fc.integer({ min: 1, max: 64 }),
});

type Req = { method: string; path: string; headers: Array<[string, string]>; body: Uint8Array; chunked: boolean; chunk: number };

function serialize(r: Req, last: boolean): Buffer {
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: example.test\r\n`;
  for (const [n, v] of r.headers) head += `${n}: ${v}\r\n`;
  if (last) head += 'Connection: close\r\n';
  const body = Buffer.from(r.body);
  if (!r.chunked) return Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
  const parts = [Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n`, 'latin1')];
  for (let i = 0; i < body.length; i += r.chunk) {
    const c = body.subarray(i, i + r.chunk);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Feeds `bytes` to a server in the given pieces; returns what the handler saw and what came back. */
async function run(pieces: Buffer[]) {
  const seen: string[] = [];
  const server = new HttpServer(async (req, res) => {
    const body = await collect(req.body);
    const line = `${req.method} ${req.target} ${JSON.stringify(req.headers.raw)} ${body.toString('base64')}`;
    seen.push(line);
    res.end(`${seen.length}`);
  }, { onError: () => {} });
  const [client, serverEnd] = duplexPair();
  server.handle(serverEnd);
  const reply = collect(client);
  for (const p of pieces) {
    client.write(p);
    await settle(1);
  }
  const out = await reply;
  return { seen, out: out.toString('latin1') };
}

test('property: pipelined requests split anywhere are served the same as whole', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), async (reqs, cuts) => {
      const bytes = Buffer.concat(reqs.map((r, i) => serialize(r as Req, i === reqs.length - 1)));
      const whole = await run([bytes]);
      t.is(whole.seen.length, reqs.length);
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const pieces: Buffer[] = [];
      let prev = 0;
      for (const p of points) {
        pieces.push(bytes.subarray(prev, p));
        prev = p;
      }
      pieces.push(bytes.subarray(prev));
      const split = await run(pieces.filter((p) => p.length));
      t.deepEqual(split, whole);
    }),
    { numRuns: 60 },
  );
});

test('property: mutated requests never throw out of the server; it answers or closes', async (t) => {
  await fc.assert(
    fc.asyncProperty(request, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), async (r, flips) => {
      const bytes = Buffer.from(serialize(r as Req, true));
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      const server = new HttpServer(async (req, res) => {
        await collect(req.body).catch(() => null);
        res.end('ok');
      }, { onError: () => {} });
      const [client, serverEnd] = duplexPair();
      server.handle(serverEnd);
      const reply = collect(client).catch(() => Buffer.alloc(0));
      client.end(bytes);
      const out = (await reply).toString('latin1');
      // Either nothing (the stream was dropped) or well-formed responses.
      t.true(out === '' || /^HTTP\/1\.1 \d{3} /.test(out), JSON.stringify(out.slice(0, 40)));
    }),
    { numRuns: 150 },
  );
});
