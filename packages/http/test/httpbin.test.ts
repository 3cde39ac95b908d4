import test from 'ava';
import { HttpClient, HttpServer, httpbin, pseudoRandomBytes } from '../src';
import { memoryTransport } from './helpers/loopback';

function world() {
  const server = new HttpServer(httpbin());
  const transport = memoryTransport((d) => server.handle(d));
  return new HttpClient({ transport });
}

type Echo = { method?: string; args: Record<string, string | string[]>; headers: Record<string, string>; url: string; data: string; json: unknown; form: Record<string, string> };

test('/get echoes args, headers and url', async (t) => {
  const c = world();
  const res = await c.request('http://example.test/get?a=1&a=2&b=x', { headers: { 'X-Test': 'yes' } });
  t.is(res.status, 200);
  const j = await res.json<Echo>();
  t.deepEqual(j.args, { a: ['1', '2'], b: 'x' });
  t.is(j.headers['X-Test'], 'yes');
  t.is(j.headers.Host, 'example.test');
  t.is(j.url, 'http://example.test/get?a=1&a=2&b=x');
  t.is((await c.request('http://example.test/get', { method: 'POST', body: 'x' })).status, 405);
});

test('/headers', async (t) => {
  const c = world();
  const j = await (await c.request('http://example.test/headers', { headers: [['A', '1'], ['b', '2']] })).json<{ headers: Record<string, string> }>();
  t.deepEqual(Object.keys(j.headers), ['Host', 'A', 'b']);
});

test('/status/{code}', async (t) => {
  const c = world();
  for (const code of [200, 201, 204, 400, 404, 418, 500, 503]) {
    const res = await c.request(`http://example.test/status/${code}`);
    t.is(res.status, code);
    await res.buffer();
  }
  const r = await c.request('http://example.test/status/302', { redirect: false });
  t.is(r.headers.get('location'), '/redirect/1');
  t.is((await c.request('http://example.test/status/302')).status, 200);
  t.is((await c.request('http://example.test/status/700')).status, 400);
});

test('/redirect/{n} ends at /get after n hops', async (t) => {
  const c = world();
  const res = await c.request('http://example.test/redirect/5');
  t.is(res.status, 200);
  t.is(res.redirects.length, 5);
  t.is(res.url, 'http://example.test/get');
});

test('/bytes/{n} gives n deterministic bytes', async (t) => {
  const c = world();
  const res = await c.request('http://example.test/bytes/1000?seed=7');
  t.is(res.headers.get('content-type'), 'application/octet-stream');
  const b = await res.buffer();
  t.is(b.length, 1000);
  t.deepEqual(b, pseudoRandomBytes(1000, 7));
  t.notDeepEqual(b, pseudoRandomBytes(1000, 8));
  t.is((await (await c.request('http://example.test/bytes/999999999')).buffer()).length, 100 * 1024);
});

test('/stream/{n} is chunked, n JSON lines', async (t) => {
  const c = world();
  const res = await c.request('http://example.test/stream/5');
  t.is(res.headers.get('transfer-encoding'), 'chunked');
  const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: number });
  t.deepEqual(lines.map((l) => l.id), [0, 1, 2, 3, 4]);
});

test('/post, /put, /delete, /patch echo the body; wrong methods get 405', async (t) => {
  const c = world();
  for (const m of ['post', 'put', 'delete', 'patch']) {
    const res = await c.request(`http://example.test/${m}`, { method: m.toUpperCase(), body: '{"k":1}', headers: { 'Content-Type': 'application/json' } });
    const j = await res.json<Echo>();
    t.is(j.data, '{"k":1}');
    t.deepEqual(j.json, { k: 1 });
    t.is((await c.request(`http://example.test/${m}`, { method: m === 'post' ? 'PUT' : 'POST', body: '' })).status, 405);
  }
  const form = await (await c.request('http://example.test/post', { method: 'POST', body: 'a=1&b=two', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).json<Echo>();
  t.deepEqual(form.form, { a: '1', b: 'two' });
  const bin = await (await c.request('http://example.test/post', { method: 'POST', body: Buffer.from([0xff, 0xfe, 0x00]) })).json<Echo>();
  t.is(bin.data, 'data:application/octet-stream;base64,//4A');
});

test('/anything echoes any method, headers and body', async (t) => {
  const c = world();
  const j = await (await c.request('http://example.test/anything/deep/path?x=1', { method: 'BREW', body: 'coffee', headers: { 'X-Pot': 'tea' } })).json<Echo>();
  t.is(j.method, 'BREW');
  t.is(j.data, 'coffee');
  t.is(j.headers['X-Pot'], 'tea');
  t.deepEqual(j.args, { x: '1' });
  t.is((await c.request('http://example.test/nope')).status, 404);
});

test('bodies over the limit get 413', async (t) => {
  const server = new HttpServer(httpbin({ maxBodySize: 10 }));
  const c = new HttpClient({ transport: memoryTransport((d) => server.handle(d)) });
  const res = await c.request('http://example.test/anything', { method: 'POST', body: 'x'.repeat(11) });
  t.is(res.status, 413);
});
