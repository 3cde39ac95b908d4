/**
 * The HTTP half of the contract, run against a real HTTP server on
 * 127.0.0.1 by each HTTP client backend (see http-*.test.ts).
 */
import test from 'ava';
import { boot, HTTPHandle, NetworkBackends, System } from '../../src';
import { freePort, Httpbin, startHttpbin } from './fixtures';

export function httpSuite(makeBackends: () => NetworkBackends): void {
  let bin: Httpbin;
  let sys: System;

  test.before(async () => {
    bin = await startHttpbin();
    sys = await boot({ backends: makeBackends() });
  });
  test.after.always(async () => {
    await sys?.shutdown();
    await bin?.close();
  });

  const json = (b: unknown) => JSON.parse((b as Buffer).toString('utf8'));

  test('get: waits for the response head and returns an open handle', async (t) => {
    const [h, err] = await sys.network.get(bin.url('/get?x=1'));
    t.is(err, undefined);
    t.truthy(h);
    t.deepEqual(h!.status(), ['open']);
    t.is(h!.responseCode(), 200);
    t.is(h!.responseHeaders()['x-test'], 'yes');
    const body = (await h!.read('*a')) as Buffer;
    t.true(Buffer.isBuffer(body), 'binary is the HTTP default');
    t.is(json(body).method, 'GET');
    t.is(json(body).url, '/get?x=1');
    t.is(await h!.read('*a'), null, 'null at the end');
    h!.close();
    t.deepEqual(h!.status(), ['closed']);
  });

  test('get: a table of options, text encoding, headers', async (t) => {
    const [h] = await sys.network.get({ url: bin.url('/get'), headers: { 'X-Hello': 'there' }, encoding: 'text' });
    const body = (await h!.read('a')) as string;
    t.is(typeof body, 'string');
    t.is(JSON.parse(body).headers['x-hello'], 'there');
    h!.close();
  });

  test('get: 4xx and 5xx are open handles with that code, not errors', async (t) => {
    for (const code of [404, 418, 500, 503]) {
      const [h, err] = await sys.network.get(bin.url(`/status/${code}`));
      t.is(err, undefined);
      t.is(h!.responseCode(), code);
      t.is(String(await h!.read('*a')), `status ${code}`);
      h!.close();
    }
  });

  test('get: redirects are followed unless redirect is false', async (t) => {
    const [h] = await sys.network.get(bin.url('/redirect/3'));
    t.is(h!.responseCode(), 200);
    t.is(json(await h!.read('*a')).url, '/get');
    h!.close();
    const [h2] = await sys.network.get({ url: bin.url('/redirect/1'), redirect: false });
    t.is(h2!.responseCode(), 302);
    t.is(h2!.responseHeaders().location, '/get');
    h2!.close();
  });

  test('post answered by 303 is followed with a GET without body', async (t) => {
    const [h] = await sys.network.post({ url: bin.url('/redirect-303'), headers: { 'x-case': '303' } }, 'payload');
    t.is(h!.responseCode(), 200);
    const seen = bin.seen.filter((s) => s.headers['x-case'] === '303');
    t.deepEqual(seen.map((s) => s.method), ['POST', 'GET']);
    t.is(seen[1].body, '');
    h!.close();
  });

  test('get: connection refused is [null, err], and the error is in status()', async (t) => {
    const port = await freePort();
    const [h, err] = await sys.network.get(`http://127.0.0.1:${port}/`);
    t.is(h, null);
    t.is(err, 'Connection refused');
  });

  test('get and friends check arguments with Phoenix texts', async (t) => {
    const n = sys.network;
    await t.throwsAsync(n.get(5 as never), { message: "bad argument #1 to 'get' (expected string or table, got number)" });
    await t.throwsAsync(n.get({} as never), { message: 'bad field "url" (expected string, got nil)' });
    await t.throwsAsync(n.get({ url: 1 } as never), { message: 'bad field "url" (expected string, got number)' });
    await t.throwsAsync(n.get('ftp://example.test/'), { message: 'Invalid scheme' });
    await t.throwsAsync(n.get({ url: 'ws://example.test/' }), { message: 'Invalid scheme' });
    await t.throwsAsync(n.head(true as never), { message: "bad argument #1 to 'head' (expected string or table, got boolean)" });
    await t.throwsAsync(n.options([] as never), { message: 'bad field "url" (expected string, got nil)' });
    await t.throwsAsync(n.post(bin.url('/post'), undefined as never), { message: "bad argument #2 to 'post' (expected string, got nil)" });
    await t.throwsAsync(n.put(bin.url('/put'), 3 as never), { message: "bad argument #2 to 'put' (expected string, got number)" });
    await t.throwsAsync(n.delete(bin.url('/delete'), {} as never), { message: "bad argument #2 to 'delete' (expected string or nil, got table)" });
    await t.throwsAsync(n.getData(7 as never), { message: "bad argument #1 to 'getData' (expected string, got number)" });
    await t.throwsAsync(n.getData(bin.url('/get'), 'x' as never), { message: "bad argument #2 to 'getData' (expected table or nil, got string)" });
    await t.throwsAsync(n.getData('gopher://x/'), { message: 'Invalid scheme' });
    await t.throwsAsync(n.get({ url: bin.url('/get'), method: 5 } as never), { message: 'bad field "method" (expected string or nil, got number)' });
    await t.throwsAsync(n.get({ url: bin.url('/get'), redirect: 'no' } as never), { message: 'bad field "redirect" (expected boolean or nil, got string)' });
    await t.throwsAsync(n.get({ url: bin.url('/get'), headers: 'x' } as never), { message: 'bad field "headers" (expected table or nil, got string)' });
    await t.throwsAsync(n.get({ url: bin.url('/get'), encoding: 'utf16' } as never), { message: "bad field 'encoding' (invalid option 'utf16')" });
    await t.throwsAsync(n.get('http://exa mple/'), { message: 'Invalid URI' });
  });

  test('head, options, post, put, delete send their methods and bodies', async (t) => {
    const n = sys.network;
    const [hh] = await n.head(bin.url('/get'));
    t.is(hh!.responseCode(), 200);
    t.is(await hh!.read('*a'), null, 'HEAD has no body');
    hh!.close();

    const [ho] = await n.options(bin.url('/anything'));
    t.is(json(await ho!.read('*a')).method, 'OPTIONS');
    ho!.close();

    const [hp] = await n.post(bin.url('/post'), 'a=1');
    const p = json(await hp!.read('*a'));
    t.is(p.method, 'POST');
    t.is(p.data, 'a=1');
    hp!.close();

    const [hu] = await n.put({ url: bin.url('/put'), headers: { 'content-type': 'text/plain' } }, new Uint8Array([0x68, 0x69]));
    const u = json(await hu!.read('*a'));
    t.is(u.method, 'PUT');
    t.is(u.data, 'hi');
    t.is(u.headers['content-type'], 'text/plain');
    hu!.close();

    const [hd] = await n.delete({ url: bin.url('/delete'), headers: { 'x-case': 'delete' } });
    t.is(json(await hd!.read('*a')).method, 'DELETE');
    const seen = bin.seen.find((s) => s.headers['x-case'] === 'delete')!;
    t.is(seen.headers['content-length'], undefined, 'no body when none is given');
    t.is(seen.headers['transfer-encoding'], undefined);
    hd!.close();
    const [hd2] = await n.delete(bin.url('/delete'), 'gone');
    t.is(json(await hd2!.read('*a')).data, 'gone');
    hd2!.close();
  });

  test('head does not mutate the caller\'s table (Phoenix wrote method into it)', async (t) => {
    const opts = { url: bin.url('/get') };
    const [h] = await sys.network.head(opts);
    h!.close();
    t.deepEqual(opts, { url: bin.url('/get') });
    t.false('method' in opts);
  });

  test('getData: binary body and code; 4xx is data plus code; the handle is closed', async (t) => {
    const [data, code] = await sys.network.getData(bin.url('/bytes/1000'));
    t.is(code, 200);
    t.true(Buffer.isBuffer(data));
    t.is(data!.length, 1000);
    for (let i = 0; i < 1000; i++) if (data![i] !== ((i * 7 + 3) & 0xff)) return t.fail(`byte ${i}`);
    const [nf, nfCode] = await sys.network.getData(bin.url('/status/404'));
    t.is(nfCode, 404);
    t.is(nf!.toString(), 'status 404');
    const [, h] = await sys.network.getData(bin.url('/get'), { 'X-From': 'getData' });
    t.is(h, 200);
    t.true(bin.seen.some((s) => s.headers['x-from'] === 'getData'));
    const port = await freePort();
    t.deepEqual(await sys.network.getData(`http://127.0.0.1:${port}/`), [null, 'Connection refused']);
  });

  test('read modes on a body: lines, numbers, counts, several modes give a tuple', async (t) => {
    const [h] = await sys.network.get({ url: bin.url('/lines'), encoding: 'text' });
    t.is(await h!.read(), 'first line');
    t.is(await h!.read('*L'), 'second line\r\n');
    t.deepEqual(await h!.read('*n', 'n'), [42, 17]);
    t.deepEqual(await h!.read(3, '*l', 'l', '*a'), [' ta', 'il', 'last', null]);
    t.is(await h!.read(), null);
    await t.throwsAsync(h!.read('*x'), { message: "bad argument (invalid mode 'x')" });
    await t.throwsAsync(h!.read(true as never), { message: 'bad argument (expected string or number, got boolean)' });
    h!.close();
  });

  test('read on an HTTP handle waits for body data', async (t) => {
    const [h] = await sys.network.get({ url: bin.url('/held'), encoding: 'text' });
    t.is(await h!.read(), 'early');
    let done = false;
    const pending = h!.read().then((v) => {
      done = true;
      return v;
    });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    t.false(done, 'the line is not complete yet');
    bin.release();
    t.is(await pending, 'half');
    t.is(await h!.read('*a'), 'late\n');
    h!.close();
  });

  test('a body cut short: read fails with the error, status becomes error', async (t) => {
    const [h] = await sys.network.get({ url: bin.url('/truncated'), encoding: 'text' });
    t.is(h!.responseCode(), 200);
    const err = await t.throwsAsync(h!.read('*a'));
    t.true(err!.message.length > 0);
    t.is(h!.status()[0], 'error');
    t.is(h!.status()[1], err!.message);
    const [, code] = await sys.network.getData(bin.url('/status/200'));
    t.is(code, 200, 'the system goes on');
    h!.close();
    t.deepEqual(h!.status(), ['closed']);
  });

  test('getData of a body cut short is [null, err]', async (t) => {
    const [data, err] = await sys.network.getData(bin.url('/truncated'));
    t.is(data, null);
    t.is(typeof err, 'string');
  });

  test('text encoding decodes UTF-8; binary gives the bytes', async (t) => {
    const [h] = await sys.network.get({ url: bin.url('/utf8'), encoding: 'text' });
    t.is(await h!.read(), 'héllo wörld');
    h!.close();
    const [b] = await sys.network.get(bin.url('/utf8'));
    t.deepEqual(await b!.read(), Buffer.from('héllo wörld', 'utf8'));
    b!.close();
  });

  test('connect: an HTTP handle starts ready; write sends the request; events on the handle and in the queue', async (t) => {
    const h = sys.network.connect({ url: bin.url('/anything'), method: 'PATCH' }) as HTTPHandle;
    t.true(h instanceof HTTPHandle);
    t.deepEqual(h.status(), ['ready']);
    t.true(typeof h.id === 'number');
    const seen: string[] = [];
    h.on('handle_status_change', (e: { id: number; status: string }) => {
      t.is(e.id, h.id);
      seen.push(e.status);
    });
    await t.throwsAsync(h.read(), { message: 'attempt to read from a ready handle' });
    t.throws(() => h.responseCode(), { message: 'attempt to read from a ready handle' });
    h.write('a', 'b', 'c');
    t.deepEqual(h.status(), ['connecting']);
    t.throws(() => h.write('again'), { message: 'attempt to write to a connecting handle' });
    const [name, ev] = await sys.network.pullEvent('handle_status_change', (p) => p.id === h.id && p.status === 'open');
    t.is(name, 'handle_status_change');
    t.deepEqual(ev, { id: h.id, status: 'open' });
    t.deepEqual(seen, ['connecting', 'open']);
    const body = json(await h.read('*a'));
    t.is(body.method, 'PATCH');
    t.is(body.data, 'abc');
    h.close();
    t.deepEqual(seen, ['connecting', 'open', 'closed']);
  });

  test('every method of a closed HTTP handle throws "attempt to X a closed handle"', async (t) => {
    const [h] = await sys.network.get(bin.url('/get'));
    h!.close();
    await t.throwsAsync(h!.read(), { message: 'attempt to read from a closed handle' });
    t.throws(() => h!.write('x'), { message: 'attempt to write to a closed handle' });
    t.throws(() => h!.close(), { message: 'attempt to close a closed handle' });
    t.throws(() => h!.responseCode(), { message: 'attempt to read from a closed handle' });
    t.throws(() => h!.responseHeaders(), { message: 'attempt to read from a closed handle' });
    t.deepEqual(h!.status(), ['closed']);
  });

  test('closing while a read waits makes the read fail with the closed-handle text', async (t) => {
    const [h] = await sys.network.get({ url: bin.url('/held'), encoding: 'text' });
    t.is(await h!.read(), 'early');
    const pending = h!.read('*a');
    h!.close();
    await t.throwsAsync(pending, { message: 'attempt to read from a closed handle' });
  });

  test('a request that fails before it is sent reports an error instead of hanging (Phoenix\'s get waited forever)', async (t) => {
    const bare = await boot({ backends: {} });
    t.teardown(() => bare.shutdown());
    const [h, err] = await bare.network.get('http://127.0.0.1:1/');
    t.is(h, null);
    t.is(err, 'HTTP is not available on this system');
  });

  test('handle ids come from one counter per system', async (t) => {
    const other = await boot({ backends: makeBackends() });
    t.teardown(() => other.shutdown());
    const a = other.network.connect(bin.url('/get'));
    const b = other.network.connect(bin.url('/get'));
    t.is(b.id, a.id + 1);
    a.close();
    b.close();
  });
}
