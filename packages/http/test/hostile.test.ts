import test from 'ava';
import fc from 'fast-check';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { HttpClient, HttpError } from '../src';
import { loopbackTransport, rawServer, onRequestHead, memoryTransport, settle } from './helpers/loopback';

/** Settles a request and reads its body: 'ok:<body>' or the error code, from wherever it surfaced. */
async function outcome(client: HttpClient, url: string): Promise<string> {
  try {
    const res = await client.request(url);
    const body = await res.buffer();
    return `ok:${res.status}:${body.toString('latin1')}`;
  } catch (err) {
    return String((err as HttpError).code ?? (err as Error).message);
  }
}

/** A raw server that answers every request head with `reply` (written in pieces if an array), then maybe closes. */
async function crafted(reply: string | string[], then: 'close' | 'keep' = 'close') {
  return rawServer((sock: Socket) => onRequestHead(sock, () => {
    const parts = Array.isArray(reply) ? reply : [reply];
    for (const p of parts) sock.write(Buffer.from(p, 'latin1'));
    if (then === 'close') sock.end();
  }));
}

const cases: Array<[string, string | string[], string]> = [
  ['oversized headers', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 'HTTP_HEADER_OVERFLOW'],
  ['too many header fields', `HTTP/1.1 200 OK\r\n${'X: y\r\n'.repeat(500)}\r\n`, 'HTTP_HEADER_OVERFLOW'],
  ['invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n', 'HTTP_INVALID_CHUNK'],
  ['huge chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n', 'HTTP_INVALID_CHUNK'],
  ['chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', 'HTTP_INVALID_CHUNK'],
  ['Content-Length larger than the body, then close', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello', 'HTTP_PREMATURE_CLOSE'],
  ['conflicting Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello', 'HTTP_INVALID_CONTENT_LENGTH'],
  ['closed mid chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly a part', 'HTTP_PREMATURE_CLOSE'],
  ['closed mid head', 'HTTP/1.1 200 OK\r\nContent-Le', 'HTTP_PREMATURE_CLOSE'],
  ['closed before any response', '', 'HTTP_PREMATURE_CLOSE'],
  ['garbage status line', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', 'HTTP_INVALID_START_LINE'],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'HTTP_INVALID_START_LINE'],
  ['header without colon', 'HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n', 'HTTP_INVALID_HEADER'],
  ['endless interim responses', 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(50), 'HTTP_INVALID_START_LINE'],
];

for (const [name, reply, code] of cases) {
  test(`hostile server: ${name} -> ${code}`, async (t) => {
    const raw = await crafted(reply);
    const client = new HttpClient({ transport: loopbackTransport() });
    try {
      t.is(await outcome(client, `http://127.0.0.1:${raw.port}/`), code);
    } finally {
      client.close();
      await raw.close();
    }
  });
}

test('hostile server: a header stream that never ends stops at the limit', async (t) => {
  let stop = false;
  const raw = await rawServer((sock) => onRequestHead(sock, () => {
    sock.write('HTTP/1.1 200 OK\r\n');
    const more = () => {
      while (!stop && !sock.destroyed) if (!sock.write('X-More: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n')) return void sock.once('drain', more);
    };
    more();
  }));
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    t.is(await outcome(client, `http://127.0.0.1:${raw.port}/`), 'HTTP_HEADER_OVERFLOW');
  } finally {
    stop = true;
    client.close();
    await raw.close();
  }
});

test('hostile server: a body longer than its Content-Length is cut there and the connection is not reused', async (t) => {
  let conns = 0;
  let n = 0;
  const raw = await rawServer((sock) => {
    conns++;
    sock.on('data', (d: Buffer) => {
      if (!d.includes('\r\n\r\n')) return;
      if (n++ === 0) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled');
      else sock.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond');
    });
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const url = `http://127.0.0.1:${raw.port}/`;
    t.is(await outcome(client, url), 'ok:200:hello');
    await settle();
    t.is(await outcome(client, url), 'ok:200:second');
    t.is(conns, 2);
  } finally {
    client.close();
    await raw.close();
  }
});

test('hostile server: Transfer-Encoding with Content-Length trusts chunking and drops the connection', async (t) => {
  let conns = 0;
  const raw = await rawServer((sock) => {
    conns++;
    sock.on('data', (d: Buffer) => {
      if (d.includes('\r\n\r\n')) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    });
  });
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    const url = `http://127.0.0.1:${raw.port}/`;
    t.is(await outcome(client, url), 'ok:200:hello');
    await settle();
    t.is(await outcome(client, url), 'ok:200:hello');
    t.is(conns, 2);
  } finally {
    client.close();
    await raw.close();
  }
});

test('hostile server: connection reset mid-body is an error, not a short success', async (t) => {
  const raw = await rawServer((sock) => onRequestHead(sock, () => {
    sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', () => sock.resetAndDestroy());
  }));
  const client = new HttpClient({ transport: loopbackTransport() });
  try {
    t.regex(await outcome(client, `http://127.0.0.1:${raw.port}/`), /^HTTP_(PREMATURE_CLOSE|CONNECTION_FAILED)$/);
  } finally {
    client.close();
    await raw.close();
  }
});

// ---- property: mutated responses never escape the client ----

const validResponses = [
  'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop',
  'HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil close',
  'HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n',
];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), text: fc.constantFrom('\r\n', ':', ' ', 'Content-Length: 99\r\n', 'fffffffff', '\r\n\r\n', '0\r\n\r\n', 'HTTP/1.1 200 OK\r\n', '\x00', 'Location: //x\r\n') }),
  fc.record({ kind: fc.constant('delete'), at: fc.nat(), n: fc.integer({ min: 1, max: 10 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
);

function mutate(text: string, ms: Array<{ kind: string; at: number; value?: number; text?: string; n?: number }>): Buffer {
  let b = Buffer.from(text, 'latin1');
  for (const m of ms) {
    const at = b.length ? m.at % b.length : 0;
    if (m.kind === 'flip' && b.length) b[at] = m.value!;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.text!, 'latin1'), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n!)]);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
  }
  return b;
}

test('property: mutated responses settle as a response or an error, never an uncaught throw', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...validResponses), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat({ max: 5 }), async (valid, ms, split) => {
      const bytes = mutate(valid, ms);
      const transport = memoryTransport((server: Duplex) => {
        server.once('data', () => {
          const step = Math.max(1, Math.ceil(bytes.length / (split + 1)));
          for (let i = 0; i < bytes.length; i += step) server.write(bytes.subarray(i, i + step));
          server.end();
        });
        server.on('error', () => {});
      });
      const client = new HttpClient({ transport, timeouts: { idle: 0, firstByte: 0 } });
      const result = await outcome(client, 'http://example.test/');
      client.close();
      t.true(typeof result === 'string' && result.length > 0);
      // A failure is always one of ours, with a code.
      if (!result.startsWith('ok:')) t.regex(result, /^HTTP_[A-Z_]+$/);
    }),
    { numRuns: 300 },
  );
});

test('property: the client reads every split of a valid response the same as the whole', async (t) => {
  const serveIn = (bytes: Buffer, cuts: number[]) => memoryTransport((server: Duplex) => {
    server.once('data', async () => {
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      let prev = 0;
      for (const p of [...points, bytes.length]) {
        if (p > prev) server.write(bytes.subarray(prev, p));
        prev = p;
        await settle(1);
      }
      server.end();
    });
    server.on('error', () => {});
  });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...validResponses.filter((r) => !r.includes('Location'))), fc.array(fc.nat(), { maxLength: 12 }), async (valid, cuts) => {
      const bytes = Buffer.from(valid, 'latin1');
      const whole = new HttpClient({ transport: serveIn(bytes, []), timeouts: { idle: 0, firstByte: 0 } });
      const split = new HttpClient({ transport: serveIn(bytes, cuts), timeouts: { idle: 0, firstByte: 0 } });
      const a = await outcome(whole, 'http://example.test/');
      const b = await outcome(split, 'http://example.test/');
      whole.close();
      split.close();
      t.true(a.startsWith('ok:'), a);
      t.is(b, a);
    }),
    { numRuns: 60 },
  );
});
