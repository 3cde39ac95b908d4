import test from 'ava';
import * as net from 'node:net';
import { boot, System, TCPHandle } from '../src';
import { freePort, Peer, startTcpEcho } from './helpers/fixtures';
import { nodeBackends } from './helpers/node-backends';

let echo: Peer;
let sys: System;

test.before(async () => {
  echo = await startTcpEcho();
  sys = await boot({ backends: nodeBackends() });
});
test.after.always(async () => {
  await sys?.shutdown();
  await echo?.close();
});

/** Waits for a handle event of this handle (by its id) from the system queue. */
const pull = (name: string, id: number, status?: string) =>
  sys.network.pullEvent(name, (p) => p.id === id && (status === undefined || p.status === status));

test('connect tcp: connecting, then open; write bytes; read what is buffered after handle_data_ready', async (t) => {
  const h = sys.network.connect(`tcp://127.0.0.1:${echo.port}`) as TCPHandle;
  t.true(h instanceof TCPHandle);
  t.deepEqual(h.status(), ['connecting']);
  t.throws(() => h.write('x'), { message: 'attempt to write to a connecting handle' });
  await pull('handle_status_change', h.id, 'open');
  t.deepEqual(h.status(), ['open']);
  t.is(h.read(), null, 'nothing buffered yet');
  h.write('hello\n', 'world\n');
  let got = '';
  while (got.length < 12) {
    await pull('handle_data_ready', h.id);
    const v = h.read('*a');
    if (v !== null) got += String(v);
  }
  t.is(got, 'hello\nworld\n');
  t.is(h.localIP(), '127.0.0.1');
  t.is(h.remoteIP(), '127.0.0.1');
  h.close();
  t.deepEqual(h.status(), ['closed']);
  t.throws(() => h.read(), { message: 'attempt to read from a closed handle' });
  t.throws(() => h.write('x'), { message: 'attempt to write to a closed handle' });
  t.throws(() => h.close(), { message: 'attempt to close a closed handle' });
  t.throws(() => h.localIP(), { message: 'attempt to read from a closed handle' });
});

test('psp is an alias of tcp; text encoding gives strings; modes and tuples as in Lua', async (t) => {
  const h = sys.network.connect({ url: `psp://127.0.0.1:${echo.port}`, encoding: 'text' }) as TCPHandle;
  await h.whenStatus('open');
  h.write('line one\nline two\r\n12 -3.5e1 rest');
  // The echo may come back in pieces: wait until all of it is buffered.
  while (h.available() < 32) await new Promise((r) => h.once('handle_data_ready', r));
  t.is(h.read(), 'line one');
  t.deepEqual(h.read('*L', '*n', 'n'), ['line two\r\n', 12, -35]);
  t.is(h.read(2), ' r');
  t.is(h.read(), 'est', 'a last line without newline is what is buffered (Phoenix)');
  t.is(h.read(), null);
  t.throws(() => h.read('q'), { message: "bad argument (invalid mode 'q')" });
  t.throws(() => h.read({} as never), { message: 'bad argument (expected string or number, got table)' });
  h.close();
});

test('connect refused: status error with Phoenix\'s text', async (t) => {
  const port = await freePort();
  const h = sys.network.connect(`tcp://127.0.0.1:${port}`) as TCPHandle;
  const [, ev] = await pull('handle_status_change', h.id, 'error');
  t.is(ev.status, 'error');
  t.deepEqual(h.status(), ['error', 'Connection refused']);
  h.close();
});

test('connect: bad URIs and protocols', (t) => {
  const n = sys.network;
  t.throws(() => n.connect('gopher://example.test/'), { message: 'Invalid protocol gopher' });
  t.throws(() => n.connect('tcp://127.0.0.1'), { message: 'Missing port' });
  t.throws(() => n.connect('udp://127.0.0.1'), { message: 'Missing port' });
  t.throws(() => n.connect('tcp:7'), { message: 'Missing host' });
  t.throws(() => n.connect('http://exa mple/'), { message: 'Invalid URI' });
  t.throws(() => n.connect('not a uri'), { message: 'Invalid URI' });
  t.throws(() => n.connect(5 as never), { message: "bad argument #1 to 'connect' (expected string or table, got number)" });
  t.throws(() => n.connect({ url: false } as never), { message: 'bad field "url" (expected string, got boolean)' });
});

test('listen tcp: each connection arrives as network_request; the listener stays until unlisten', async (t) => {
  const port = await sys.network.listen('tcp://127.0.0.1:0');
  t.true(port > 0);
  const uri = `tcp://127.0.0.1:${port}`;
  await t.throwsAsync(sys.network.listen(`tcp://127.0.0.1:${port}`), { message: 'Port already open' });
  await t.throwsAsync(sys.network.listen(`http://127.0.0.1:${port}`), { message: 'Port already open' }, 'HTTP shares the TCP ports');
  for (let i = 0; i < 2; i++) {
    const client = net.connect(port, '127.0.0.1');
    const [name, req] = await sys.network.pullEvent('network_request', (p) => p.uri === 'tcp://127.0.0.1:0');
    t.is(name, 'network_request');
    t.is(req.ip, '127.0.0.1');
    const h = req.handle as TCPHandle;
    t.true(h instanceof TCPHandle);
    t.deepEqual(h.status(), ['open']);
    t.is(h.remoteIP(), '127.0.0.1');
    t.is(h.localIP(), '127.0.0.1');
    client.write(`ping ${i}\n`);
    await pull('handle_data_ready', h.id);
    t.is(String(h.read()), `ping ${i}`);
    h.write(`pong ${i}\n`);
    const reply = await new Promise<string>((r) => client.once('data', (d) => r(String(d))));
    t.is(reply, `pong ${i}\n`);
    // The peer closes: status closed, but what it sent before can still be read.
    client.end('bye');
    await pull('handle_status_change', h.id, 'closed');
    t.is(String(h.read('*a')), 'bye');
    t.is(h.read(), null);
    t.throws(() => h.write('x'), { message: 'attempt to write to a closed handle' });
    h.close();
  }
  t.true(await sys.network.unlisten(uri));
  t.false(await sys.network.unlisten(uri));
  await t.throwsAsync(
    new Promise((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => resolve(c.destroy()));
      c.on('error', reject);
    }),
    { code: 'ECONNREFUSED' },
  );
});

test('listen: argument errors', async (t) => {
  const n = sys.network;
  await t.throwsAsync(n.listen('tcp://127.0.0.1'), { message: 'Missing port' });
  await t.throwsAsync(n.listen('udp://127.0.0.1'), { message: 'Missing port' });
  await t.throwsAsync(n.listen('gopher://127.0.0.1:70'), { message: 'Invalid protocol gopher' });
  await t.throwsAsync(n.listen(80 as never), { message: "bad argument #1 to 'listen' (expected string, got number)" });
  await t.throwsAsync(n.unlisten(undefined as never), { message: "bad argument #1 to 'unlisten' (expected string, got nil)" });
  await t.throwsAsync(n.listen('tcp://300.1.1.1:80'), { message: 'Invalid IP address' });
});

test('listen on a port the kernel already uses: Port already open', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  await t.throwsAsync(sys.network.listen(`tcp://127.0.0.1:${port}`), { message: 'Port already open' });
  // And the failed attempt left nothing registered.
  blocker.close();
  await new Promise((r) => blocker.once('close', r));
  await sys.network.listen(`tcp://127.0.0.1:${port}`);
  t.true(await sys.network.unlisten(`tcp://127.0.0.1:${port}`));
});

test('a connection reset by the peer is status error "Connection reset by peer"', async (t) => {
  const server = net.createServer((s) => {
    s.once('data', () => s.resetAndDestroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const h = sys.network.connect(`tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  await h.whenStatus('open');
  h.write('trigger');
  await h.whenStatus('error', 'closed');
  t.deepEqual(h.status(), ['error', 'Connection reset by peer']);
  t.throws(() => h.write('x'), { message: 'attempt to write to a error handle' });
  t.is(h.read(), null, 'reading what was buffered still works');
  h.close();
});
