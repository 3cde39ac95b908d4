import test from 'ava';
import * as dgram from 'node:dgram';
import { boot, System, UDPHandle, WebSocketHandle } from '../src';
import { Peer, startUdpEcho, startWsEcho } from './helpers/fixtures';
import { nodeBackends } from './helpers/node-backends';

let udpEcho: Peer;
let wsEcho: Peer & { url: string };
let sys: System;

test.before(async () => {
  udpEcho = await startUdpEcho();
  wsEcho = await startWsEcho();
  sys = await boot({ backends: nodeBackends() });
});
test.after.always(async () => {
  await sys?.shutdown();
  await udpEcho?.close();
  await wsEcho?.close();
});

const pull = (name: string, id: number, status?: string) =>
  sys.network.pullEvent(name, (p) => p.id === id && (status === undefined || p.status === status));

async function readDatagrams(h: UDPHandle | WebSocketHandle, count: number): Promise<Array<unknown>> {
  const out: unknown[] = [];
  while (out.length < count) {
    const v = h.read('*a');
    if (v === null) await pull('handle_data_ready', h.id);
    else out.push(v);
  }
  return out;
}

test('udp: one datagram per write argument; reads keep datagram edges', async (t) => {
  const h = sys.network.connect(`udp://127.0.0.1:${udpEcho.port}`) as UDPHandle;
  t.true(h instanceof UDPHandle);
  await h.whenStatus('open');
  t.is(h.read(), null);
  h.write('one', 'two\nlines', new Uint8Array([1, 2, 3]));
  const got = await readDatagrams(h, 3);
  t.deepEqual(got, [Buffer.from('one'), Buffer.from('two\nlines'), Buffer.from([1, 2, 3])]);
  const data = new Promise((r) => h.once('handle_data_ready', r));
  h.write('a\nb');
  await data;
  t.deepEqual(h.read('l', 'l', 'l'), [Buffer.from('a'), Buffer.from('b'), null]);
  t.is(h.localIP(), '127.0.0.1');
  t.is(h.remoteIP(), '127.0.0.1');
  h.close();
  t.throws(() => h.read(), { message: 'attempt to read from a closed handle' });
  t.throws(() => h.write('x'), { message: 'attempt to write to a closed handle' });
});

test('pdp is an alias of udp; text encoding', async (t) => {
  const h = sys.network.connect({ url: `pdp://127.0.0.1:${udpEcho.port}`, encoding: 'text' }) as UDPHandle;
  await h.whenStatus('open');
  h.write('héllo');
  t.deepEqual(await readDatagrams(h, 1), ['héllo']);
  h.close();
});

test('listen udp: each datagram source arrives once as network_request with its own handle', async (t) => {
  const port = await sys.network.listen('udp://127.0.0.1:0');
  const uri = 'udp://127.0.0.1:0';
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => client.close());
  client.send('first', port, '127.0.0.1');
  const [, req] = await sys.network.pullEvent('network_request', (p) => p.uri === uri);
  t.is(req.ip, '127.0.0.1');
  const h = req.handle as UDPHandle;
  t.true(h instanceof UDPHandle);
  t.deepEqual(h.status(), ['open']);
  t.deepEqual(await readDatagrams(h, 1), [Buffer.from('first')]);
  t.is(h.remoteIP(), '127.0.0.1');
  const reply = new Promise<string>((r) => client.once('message', (m) => r(String(m))));
  h.write('answer');
  t.is(await reply, 'answer');
  client.send('second', port, '127.0.0.1');
  t.deepEqual(await readDatagrams(h, 1), [Buffer.from('second')]);
  // Closing the per-source handle: the next datagram from that source is a new request.
  h.close();
  client.send('third', port, '127.0.0.1');
  const [, req2] = await sys.network.pullEvent('network_request', (p) => p.uri === uri);
  const h2 = req2.handle as UDPHandle;
  t.not(h2.id, h.id);
  t.deepEqual(await readDatagrams(h2, 1), [Buffer.from('third')]);
  t.true(await sys.network.unlisten(`udp://127.0.0.1:${port}`));
  t.deepEqual(h2.status(), ['closed'], 'per-source handles end with their listener');
});

test('ws: connecting then open; one message per write argument; binary and text', async (t) => {
  const h = sys.network.connect(wsEcho.url) as WebSocketHandle;
  t.true(h instanceof WebSocketHandle);
  t.deepEqual(h.status(), ['connecting']);
  t.throws(() => h.write('early'), { message: 'attempt to write to a connecting handle' });
  await pull('handle_status_change', h.id, 'open');
  h.write('hello', 'world');
  t.deepEqual(await readDatagrams(h, 2), ['hello', 'world'], 'text is the WebSocket default');
  const data = new Promise((r) => h.once('handle_data_ready', r));
  h.write('x\ny');
  await data;
  t.deepEqual(h.read('*l', '*l'), ['x', 'y']);
  h.close();
  t.throws(() => h.read(), { message: 'attempt to read from a closed handle' });

  const b = sys.network.connect({ url: wsEcho.url, encoding: 'binary' }) as WebSocketHandle;
  await b.whenStatus('open');
  b.write(new Uint8Array([0, 255]));
  t.deepEqual(await readDatagrams(b, 1), [Buffer.from([0, 255])]);
  b.write('close-me');
  await pull('handle_status_change', b.id, 'closed');
  t.deepEqual(b.status(), ['closed']);
  b.close();
});

test('ws: a failed handshake is status error', async (t) => {
  const h = sys.network.connect(`ws://127.0.0.1:${udpEcho.port}/`) as WebSocketHandle;
  await h.whenStatus('error');
  t.is(h.status()[0], 'error');
  t.is(typeof h.status()[1], 'string');
  h.close();
});
