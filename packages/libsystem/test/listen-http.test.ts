import test from 'ava';
import { boot, HTTPServerHandle, NetworkBackends, streamBackends, System, WebSocketHandle } from '../src';
import { Peer, startWsEcho } from './helpers/fixtures';
import { dgramBackend, netTransport, nodeBackends } from './helpers/node-backends';

const variants: Array<[string, () => NetworkBackends]> = [
  ['node:http', () => nodeBackends()],
  ['@pnet/http', () => ({ ...streamBackends(netTransport()), datagrams: dgramBackend() })],
];

let wsEcho: Peer & { url: string };
test.before(async () => {
  wsEcho = await startWsEcho();
});
test.after.always(async () => {
  await wsEcho?.close();
});

for (const [label, make] of variants) {
  test(`${label}: listen http delivers each request as network_request; the handle reads the body and writes the response`, async (t) => {
    const sys: System = await boot({ backends: make() });
    t.teardown(() => sys.shutdown());
    const n = sys.network;
    const port = await n.listen('http://127.0.0.1:0', { encoding: 'text' });
    const uri = 'http://127.0.0.1:0';
    for (let i = 0; i < 2; i++) {
      const response = n.post({ url: `http://127.0.0.1:${port}/echo?i=${i}`, headers: { 'x-n': String(i) } }, `body ${i}\nmore`);
      const [, req] = await n.pullEvent('network_request', (p) => p.uri === uri);
      t.is(req.ip, '127.0.0.1');
      const h = req.handle as HTTPServerHandle;
      t.true(h instanceof HTTPServerHandle);
      t.deepEqual(h.status(), ['open']);
      t.is(h.method(), 'POST');
      t.is(h.path(), `/echo?i=${i}`);
      t.is(h.requestHeaders()['x-n'], String(i));
      t.is(await h.read(), `body ${i}`);
      t.is(await h.read('*a'), 'more');
      h.setResponseCode(201);
      h.setResponseHeader('x-answer', 'yes');
      h.write('got ', `${i}`);
      h.close();
      t.throws(() => h.write('x'), { message: 'attempt to write to a closed handle' });
      const [res, err] = await response;
      t.is(err, undefined);
      t.is(res!.responseCode(), 201);
      t.is(res!.responseHeaders()['x-answer'], 'yes');
      t.is(String(await res!.read('*a')), `got ${i}`);
      res!.close();
    }
    t.true(await n.unlisten(`http://127.0.0.1:${port}`));
    const [gone, err] = await n.get(`http://127.0.0.1:${port}/`);
    t.is(gone, null);
    t.is(err, 'Connection refused');
  });

  test(`${label}: a request handle closed without writing sends an empty 200`, async (t) => {
    const sys: System = await boot({ backends: make() });
    t.teardown(() => sys.shutdown());
    const port = await sys.network.listen('http://127.0.0.1:0');
    const response = sys.network.get(`http://127.0.0.1:${port}/`);
    const [, req] = await sys.network.pullEvent('network_request');
    (req.handle as HTTPServerHandle).close();
    const [res] = await response;
    t.is(res!.responseCode(), 200);
    t.is(await res!.read('*a'), null);
    res!.close();
  });

  test(`${label}: WebSocket echo through the facade`, async (t) => {
    const sys: System = await boot({ backends: make() });
    t.teardown(() => sys.shutdown());
    const h = sys.network.connect(wsEcho.url) as WebSocketHandle;
    await h.whenStatus('open');
    const data = new Promise((r) => h.once('handle_data_ready', r));
    h.write('hello over ws');
    await data;
    t.is(h.read('*a'), 'hello over ws');
    h.close();
  });
}

test('@pnet/http: listen ws delivers each WebSocket as network_request with an open handle', async (t) => {
  const sys: System = await boot({ backends: { ...streamBackends(netTransport()) } });
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  const port = await n.listen('ws://127.0.0.1:0');
  const client = n.connect(`ws://127.0.0.1:${port}/chat`) as WebSocketHandle;
  const [, req] = await n.pullEvent('network_request', (p) => p.uri === 'ws://127.0.0.1:0');
  t.is(req.ip, '127.0.0.1');
  const server = req.handle as WebSocketHandle;
  t.true(server instanceof WebSocketHandle);
  t.deepEqual(server.status(), ['open']);
  await client.whenStatus('open');
  const atServer = new Promise((r) => server.once('handle_data_ready', r));
  client.write('hi server', 'second');
  await atServer;
  let first = server.read('*a');
  while (first === null) {
    await new Promise((r) => server.once('handle_data_ready', r));
    first = server.read('*a');
  }
  t.is(first, 'hi server', 'text is the default encoding of ws listeners');
  const atClient = new Promise((r) => client.once('handle_data_ready', r));
  server.write('hi client');
  await atClient;
  t.is(client.read('*a'), 'hi client');
  server.close();
  await client.whenStatus('closed');
  t.true(await n.unlisten(`ws://127.0.0.1:${port}`));
  // A plain HTTP request to a WebSocket listener is refused with 426.
  const again = await n.listen('ws://127.0.0.1:0');
  const [plain] = await n.get(`http://127.0.0.1:${again}/`);
  t.is(plain!.responseCode(), 426);
  plain!.close();
});

test('listen ws without a WebSocket server backend says so', async (t) => {
  const sys: System = await boot({ backends: nodeBackends() });
  t.teardown(() => sys.shutdown());
  await t.throwsAsync(sys.network.listen('ws://127.0.0.1:0'), { message: 'WebSocket serving is not available on this system' });
});
