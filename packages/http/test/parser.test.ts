import test from 'ava';
import fc from 'fast-check';
import { HttpParser, type BodyFraming, type MessageHead } from '../src';

interface Record {
  heads: Array<{ head: MessageHead; framing: BodyFraming }>;
  informational: number[];
  body: Buffer[];
  ends: Array<Array<[string, string]>>;
  errors: string[];
}

function recorder(kind: 'request' | 'response', limits = {}, method = 'GET') {
  const rec: Record = { heads: [], informational: [], body: [], ends: [], errors: [] };
  const p = new HttpParser(kind, {
    onHead: (head, framing) => rec.heads.push({ head, framing }),
    onInformational: (h) => rec.informational.push(h.status),
    onBody: (c) => rec.body.push(Buffer.from(c)),
    onEnd: (t) => rec.ends.push(t.raw.map(([n, v]) => [n, v])),
    onError: (e) => rec.errors.push(e.code),
  }, limits);
  if (kind === 'response') p.expectResponseTo(method);
  return { p, rec };
}

function summary(rec: Record) {
  return {
    heads: rec.heads.map(({ head, framing }) => ({
      ...(head.kind === 'response' ? { status: head.status, text: head.statusText } : { method: head.method, target: head.target }),
      headers: head.headers.raw,
      framing,
    })),
    informational: rec.informational,
    body: Buffer.concat(rec.body).toString('base64'),
    ends: rec.ends,
    errors: rec.errors,
  };
}

test('a Content-Length response parses head, body and end', (t) => {
  const { p, rec } = recorder('response');
  p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b \r\n\r\nhello'));
  t.is(rec.heads.length, 1);
  const h = rec.heads[0].head;
  t.is(h.kind === 'response' && h.status, 200);
  t.deepEqual(h.headers.raw, [['Content-Length', '5'], ['X-A', 'b']]);
  t.is(Buffer.concat(rec.body).toString(), 'hello');
  t.is(rec.ends.length, 1);
  t.deepEqual(rec.errors, []);
});

test('chunked body with extensions and trailers', (t) => {
  const { p, rec } = recorder('response');
  p.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n'));
  t.is(Buffer.concat(rec.body).toString(), 'hello world');
  t.deepEqual(rec.ends, [[['X-Sum', '42']]]);
  t.deepEqual(rec.errors, []);
});

test('1xx responses are reported and skipped; 101 is final', (t) => {
  const { p, rec } = recorder('response');
  p.push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'));
  t.deepEqual(rec.informational, [100, 103]);
  t.is(rec.heads.length, 1);
  t.is(rec.ends.length, 1);
  const u = recorder('response');
  u.p.push(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00', 'latin1'));
  t.is(u.rec.heads.length, 1);
  t.deepEqual([...u.p.takePending()], [0x81, 0x00]);
});

test('no body for HEAD, 204 and 304 even with a Content-Length', (t) => {
  const head = recorder('response', {}, 'HEAD');
  head.p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'));
  t.is(head.rec.ends.length, 1);
  for (const s of [204, 304]) {
    const r = recorder('response');
    r.p.push(Buffer.from(`HTTP/1.1 ${s} X\r\nContent-Length: 100\r\n\r\n`));
    t.is(r.rec.ends.length, 1, `status ${s}`);
    t.is(r.rec.body.length, 0);
  }
});

test('read-until-close body ends at finish()', (t) => {
  const { p, rec } = recorder('response');
  p.push(Buffer.from('HTTP/1.0 200 OK\r\n\r\nabc'));
  p.push(Buffer.from('def'));
  t.is(rec.ends.length, 0);
  p.finish();
  t.is(Buffer.concat(rec.body).toString(), 'abcdef');
  t.is(rec.ends.length, 1);
});

test('premature close inside a Content-Length or chunked body is an error', (t) => {
  const a = recorder('response');
  a.p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  a.p.finish();
  t.deepEqual(a.rec.errors, ['HTTP_PREMATURE_CLOSE']);
  const b = recorder('response');
  b.p.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'));
  b.p.finish();
  t.deepEqual(b.rec.errors, ['HTTP_PREMATURE_CLOSE']);
  const c = recorder('response');
  c.p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'));
  c.p.finish();
  t.deepEqual(c.rec.errors, ['HTTP_PREMATURE_CLOSE']);
});

test('bad input gives one clear error code', (t) => {
  const cases: Array<[string, string]> = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n', 'HTTP_INVALID_CONTENT_LENGTH'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'HTTP_INVALID_CONTENT_LENGTH'],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'HTTP_INVALID_CONTENT_LENGTH'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HTTP_INVALID_CHUNK'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n', 'HTTP_INVALID_CHUNK'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', 'HTTP_INVALID_CHUNK'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n', 'HTTP_INVALID_CHUNK'],
    ['HTTP/1.1 2000 OK\r\n\r\n', 'HTTP_INVALID_START_LINE'],
    ['HTTP/2.0 200 OK\r\n\r\n', 'HTTP_INVALID_START_LINE'],
    ['FOO\r\n\r\n', 'HTTP_INVALID_START_LINE'],
    ['HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', 'HTTP_INVALID_HEADER'],
    ['HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n', 'HTTP_INVALID_HEADER'],
    ['HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n', 'HTTP_INVALID_HEADER'],
    [`HTTP/1.1 200 OK\r\nA: ${'x'.repeat(20000)}\r\n\r\n`, 'HTTP_HEADER_OVERFLOW'],
    [`HTTP/1.1 200 OK\r\n${'A: b\r\n'.repeat(101)}\r\n`, 'HTTP_HEADER_OVERFLOW'],
    [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(2000)}\r\n`, 'HTTP_INVALID_CHUNK'],
    ['\r\n'.repeat(9000), 'HTTP_HEADER_OVERFLOW'],
  ];
  for (const [text, code] of cases) {
    const { p, rec } = recorder('response');
    p.push(Buffer.from(text, 'latin1'));
    p.push(Buffer.from('more bytes after the error'));
    p.finish();
    t.deepEqual(rec.errors, [code], JSON.stringify(text.slice(0, 60)));
  }
});

test('a header section that never ends stops at the limit (bounded memory)', (t) => {
  const { p, rec } = recorder('response', { maxHeaderSize: 4096 });
  p.push(Buffer.from('HTTP/1.1 200 OK\r\n'));
  for (let i = 0; i < 1000 && rec.errors.length === 0; i++) p.push(Buffer.from('X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'));
  t.deepEqual(rec.errors, ['HTTP_HEADER_OVERFLOW']);
});

test('requests: pipelined messages wait for reset(), bodies framed by length and chunked', (t) => {
  const { p, rec } = recorder('request');
  p.push(Buffer.from('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.is(rec.heads.length, 1);
  t.true(p.done);
  t.true(p.pendingBytes > 0);
  p.reset();
  t.is(rec.heads.length, 2);
  const h = rec.heads[1].head;
  t.is(h.kind === 'request' && h.target, '/b');
  t.deepEqual(rec.heads[1].framing, { type: 'none' });
  const c = recorder('request');
  c.p.push(Buffer.from('PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'));
  t.deepEqual(c.rec.errors, ['HTTP_INVALID_TRANSFER_ENCODING']);
  const bad = recorder('request');
  bad.p.push(Buffer.from('GET /a\x01b HTTP/1.1\r\n\r\n', 'latin1'));
  t.deepEqual(bad.rec.errors, ['HTTP_INVALID_START_LINE']);
  const d = recorder('request');
  d.p.push(Buffer.from('PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n'));
  t.deepEqual(d.rec.errors, ['HTTP_INVALID_TRANSFER_ENCODING']);
});

// ---- property tests ----

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,11}$/);
const fieldValue = fc.stringMatching(/^[!-~]([ !-~]{0,30}[!-~])?$/);
const headerList = fc.array(fc.tuple(token, fieldValue), { maxLength: 8 })
  .map((hs) => hs.filter(([n]) => !/^(content-length|transfer-encoding)$/i.test(n)));

const validResponse = fc.record({
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  headers: headerList,
  body: fc.uint8Array({ maxLength: 600 }),
  framing: fc.constantFrom('length', 'chunked', 'close'),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }),
  trailers: headerList,
  interim: fc.boolean(),
}).map((r) => {
  const body = Buffer.from(r.body);
  let head = r.interim ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  head += `HTTP/1.1 ${r.status} Some Reason\r\n`;
  for (const [n, v] of r.headers) head += `${n}: ${v}\r\n`;
  let tail: Buffer;
  if (r.framing === 'length') {
    head += `Content-Length: ${body.length}\r\n\r\n`;
    tail = body;
  } else if (r.framing === 'chunked') {
    head += 'Transfer-Encoding: chunked\r\n\r\n';
    const parts: Buffer[] = [];
    let off = 0;
    let i = 0;
    while (off < body.length) {
      const n = Math.min(r.chunkSizes[i++ % r.chunkSizes.length], body.length - off);
      parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(off, off + n), Buffer.from('\r\n'));
      off += n;
    }
    let t = '0\r\n';
    for (const [n, v] of r.trailers) t += `${n}: ${v}\r\n`;
    parts.push(Buffer.from(`${t}\r\n`));
    tail = Buffer.concat(parts);
  } else {
    head += '\r\n';
    tail = body;
  }
  return { bytes: Buffer.concat([Buffer.from(head, 'latin1'), tail]), body };
});

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function parseChunks(chunks: Buffer[]) {
  const { p, rec } = recorder('response');
  for (const c of chunks) p.push(Buffer.from(c));
  p.finish();
  return summary(rec);
}

test('property: every split of a valid response parses the same as the whole', (t) => {
  fc.assert(
    fc.property(validResponse, fc.array(fc.nat(), { maxLength: 30 }), ({ bytes, body }, cuts) => {
      const whole = parseChunks([bytes]);
      if (whole.errors.length || whole.ends.length !== 1 || whole.body !== body.toString('base64')) return false;
      const split = parseChunks(splitAt(bytes, cuts));
      t.deepEqual(split, whole);
      return true;
    }),
    { numRuns: 300 },
  );
  // One byte at a time, the hardest split.
  fc.assert(
    fc.property(validResponse, ({ bytes }) => {
      const whole = parseChunks([bytes]);
      const single = parseChunks([...bytes].map((b) => Buffer.from([b])));
      t.deepEqual(single, whole);
    }),
    { numRuns: 50 },
  );
});

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 20 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(), text: fc.constantFrom('\r\n', '\n', ':', ' ', 'chunked', 'Content-Length: 99\r\n', 'ffffffffffffffffff', '\r\n\r\n', '0\r\n\r\n', '-1') }),
);

export function mutate(bytes: Buffer, ms: Array<{ kind: string; at: number; value?: number; bytes?: Uint8Array; n?: number; text?: string }>): Buffer {
  let b = Buffer.from(bytes);
  for (const m of ms) {
    const at = b.length ? m.at % b.length : 0;
    if (m.kind === 'flip' && b.length) b[at] = m.value!;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes!), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n!)]);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'text') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.text!, 'latin1'), b.subarray(at)]);
  }
  return b;
}

test('property: mutated responses never throw, and end at most once, with an error or an end', (t) => {
  fc.assert(
    fc.property(validResponse, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 10 }), ({ bytes }, ms, cuts) => {
      const { p, rec } = recorder('response', { maxHeaderSize: 2048 });
      const mutated = mutate(bytes, ms);
      t.notThrows(() => {
        for (const c of splitAt(mutated, cuts)) p.push(Buffer.from(c));
        p.finish();
      });
      t.true(rec.errors.length <= 1);
      t.true(rec.ends.length <= 1);
      // After finish() a message is either complete, failed, or never started.
      t.true(rec.errors.length + rec.ends.length === 1 || (rec.heads.length === 0 && (p.idle || p.failed)));
    }),
    { numRuns: 400 },
  );
});
