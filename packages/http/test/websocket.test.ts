import test from 'ava';
import fc from 'fast-check';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket as WsPeer } from 'ws';
import { connectWebSocket, acceptKey, HttpServer, websocketEchoUpgrade, acceptWebSocket, WebSocket, HttpError } from '../src';
import { loopbackTransport, memoryTransport, rawServer, onRequestHead, ManualClock, settle, testCertificate } from './helpers/loopback';

async function wsPeerServer(onConnection: (ws: WsPeer) => void, options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', onConnection);
  return { port: (wss.address() as AddressInfo).port, close: () => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }) };
}

const queues = new WeakMap<WebSocket, { items: Array<{ data: Buffer; isBinary: boolean }>; waiters: Array<(m: { data: Buffer; isBinary: boolean }) => void> }>();
/** The next message of `ws`, in order; messages that came before anyone asked are kept. */
function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  let q = queues.get(ws);
  if (!q) {
    const made = { items: [] as Array<{ data: Buffer; isBinary: boolean }>, waiters: [] as Array<(m: { data: Buffer; isBinary: boolean }) => void> };
    queues.set(ws, made);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const w = made.waiters.shift();
      if (w) w({ data, isBinary });
      else made.items.push({ data, isBinary });
    });
    q = made;
  }
  const item = q.items.shift();
  if (item) return Promise.resolve(item);
  return new Promise((r) => q!.waiters.push(r));
}

function echoPeer(ws: WsPeer) {
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
}

test('our client against the ws package server: text, binary, large, fragmented', async (t) => {
  const peer = await wsPeerServer(echoPeer);
  const ws = await connectWebSocket(`ws://127.0.0.1:${peer.port}/chat`, { transport: loopbackTransport() });
  try {
    ws.send('héllo');
    let m = await nextMessage(ws);
    t.is(m.data.toString(), 'héllo');
    t.false(m.isBinary);
    ws.send(Buffer.from([0, 1, 2, 255]));
    m = await nextMessage(ws);
    t.deepEqual([...m.data], [0, 1, 2, 255]);
    t.true(m.isBinary);
    const big = Buffer.alloc(1024 * 1024 + 3, 0x5a);
    ws.send(big);
    t.true((await nextMessage(ws)).data.equals(big)); // (deepEqual on megabytes is slow)
    ws.send('x'.repeat(10_000), { fragmentSize: 999 });
    t.is((await nextMessage(ws)).data.toString(), 'x'.repeat(10_000));
    ws.send(Buffer.alloc(70_000, 1), { fragmentSize: 65_536 });
    t.is((await nextMessage(ws)).data.length, 70_000);
  } finally {
    ws.terminate();
    await peer.close();
  }
});

test('the ws server sends fragments and pings; we reassemble and pong', async (t) => {
  let pongs = 0;
  const peer = await wsPeerServer((p) => {
    p.on('pong', () => pongs++);
    p.on('message', () => {
      p.send('frag', { fin: false });
      p.send('ment', { fin: false });
      p.send('ed', { fin: true });
      p.ping('are you there');
      p.send('after ping');
    });
  });
  const ws = await connectWebSocket(`ws://127.0.0.1:${peer.port}/`, { transport: loopbackTransport() });
  try {
    const pinged = new Promise<Buffer>((r) => ws.once('ping', r));
    const first = nextMessage(ws);
    ws.send('go');
    t.is((await first).data.toString(), 'fragmented');
    t.is((await pinged).toString(), 'are you there');
    t.is((await nextMessage(ws)).data.toString(), 'after ping');
    const pong = new Promise<Buffer>((r) => ws.once('pong', r));
    ws.ping('ours');
    t.is((await pong).toString(), 'ours');
    for (let i = 0; i < 20 && pongs === 0; i++) await settle(2);
    t.is(pongs, 1);
  } finally {
    ws.terminate();
    await peer.close();
  }
});

test('close handshake with codes, both directions, against ws', async (t) => {
  let serverSaw: [number, string] | null = null;
  const peer = await wsPeerServer((p) => {
    p.on('close', (code, reason) => (serverSaw = [code, reason.toString()]));
    p.on('message', (d) => { if (d.toString() === 'close please') p.close(4002, 'server says bye'); });
  });
  const a = await connectWebSocket(`ws://127.0.0.1:${peer.port}/`, { transport: loopbackTransport() });
  a.close(4001, 'client says bye');
  t.is(a.readyState, 'closing');
  t.false(a.send('too late'));
  t.deepEqual(await a.closed, { code: 4001, reason: 'client says bye' });
  t.is(a.readyState, 'closed');
  for (let i = 0; i < 20 && !serverSaw; i++) await settle(2);
  t.deepEqual(serverSaw, [4001, 'client says bye']);

  const b = await connectWebSocket(`ws://127.0.0.1:${peer.port}/`, { transport: loopbackTransport() });
  b.send('close please');
  t.deepEqual(await b.closed, { code: 4002, reason: 'server says bye' });
  await peer.close();
  t.throws(() => b.close(1005), { message: /code must be 1000 or 3000-4999/ });
});

test('subprotocol negotiation; an unoffered one is refused', async (t) => {
  const peer = await wsPeerServer(() => {}, { handleProtocols: (protocols) => (protocols.has('v2') ? 'v2' : false) });
  const ws = await connectWebSocket(`ws://127.0.0.1:${peer.port}/`, { transport: loopbackTransport(), protocols: ['v1', 'v2'] });
  t.is(ws.protocol, 'v2');
  ws.terminate();
  await peer.close();
  const liar = await rawServer((sock) => onRequestHead(sock, (head) => {
    const key = /Sec-WebSocket-Key: (.*)/i.exec(head)![1].trim();
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\nSec-WebSocket-Protocol: evil\r\n\r\n`);
  }));
  const err = await t.throwsAsync(connectWebSocket(`ws://127.0.0.1:${liar.port}/`, { transport: loopbackTransport(), protocols: ['v1'] }));
  t.is((err as HttpError).code, 'WS_HANDSHAKE_FAILED');
  await liar.close();
});

test('the ws package client against our server (echo): messages, fragments, ping, close', async (t) => {
  const server = new HttpServer((_req, res) => void res.end('not a websocket'), { onUpgrade: websocketEchoUpgrade() });
  const l = await server.listen(loopbackTransport(), { port: 0 });
  const peer = new WsPeer(`ws://127.0.0.1:${l.port}/`);
  await new Promise((r, j) => { peer.once('open', r); peer.once('error', j); });
  const messages: Array<[string, boolean]> = [];
  const got = (n: number) => new Promise<void>((r) => {
    const check = () => (messages.length >= n ? r() : peer.once('message', (d, b) => { messages.push([d.toString(), b]); check(); }));
    check();
  });
  peer.send('text one');
  peer.send(Buffer.from('binary two'));
  peer.send('thr', { fin: false });
  peer.send('ee', { fin: true });
  await got(3);
  t.deepEqual(messages, [['text one', false], ['binary two', true], ['three', false]]);
  const pong = new Promise<Buffer>((r) => peer.once('pong', r));
  peer.ping('p');
  t.is((await pong).toString(), 'p');
  const closed = new Promise<[number, string]>((r) => peer.once('close', (c, reason) => r([c, reason.toString()])));
  peer.close(4100, 'done');
  const [code] = await closed;
  t.is(code, 4100);
  // Plain requests still work on the same server.
  const res = await new Promise<string>((r) => {
    const s = net.connect(l.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => r(out));
  });
  t.regex(res, /not a websocket$/);
  await server.close();
});

test('wss: our client and our server over TLS', async (t) => {
  const { key, cert, ca } = testCertificate();
  const server = new HttpServer((_q, s) => void s.end(), { onUpgrade: websocketEchoUpgrade() });
  const l = await server.listen(loopbackTransport(), { port: 0, secure: { key, cert } });
  const ws = await connectWebSocket(`wss://echo.test:${l.port}/`, { transport: loopbackTransport(), tls: { ca } });
  ws.send('over tls');
  t.is((await nextMessage(ws)).data.toString(), 'over tls');
  ws.close();
  t.is((await ws.closed).code, 1000);
  await server.close();
});

test('handshake failures: not 101, wrong accept key, server refuses bad upgrades', async (t) => {
  const notWs = await rawServer((sock) => onRequestHead(sock, () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')));
  const e1 = await t.throwsAsync(connectWebSocket(`ws://127.0.0.1:${notWs.port}/`, { transport: loopbackTransport() }));
  t.is((e1 as HttpError).code, 'WS_HANDSHAKE_FAILED');
  await notWs.close();
  const badKey = await rawServer((sock) => onRequestHead(sock, () => sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n')));
  const e2 = await t.throwsAsync(connectWebSocket(`ws://127.0.0.1:${badKey.port}/`, { transport: loopbackTransport() }));
  t.regex((e2 as Error).message, /Sec-WebSocket-Accept/);
  await badKey.close();
  t.throws(() => connectWebSocket('http://x/', { transport: loopbackTransport() }) as unknown as void, { message: /unsupported scheme/ });

  const server = new HttpServer((_q, s) => void s.end(), { onUpgrade: websocketEchoUpgrade() });
  const l = await server.listen(loopbackTransport(), { port: 0 });
  const ask = (headers: string) => new Promise<string>((r) => {
    const s = net.connect(l.port, '127.0.0.1', () => s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => r(out));
  });
  t.regex(await ask('Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n'), /^HTTP\/1\.1 400 /);
  t.regex(await ask('Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'), /^HTTP\/1\.1 426 [^]*Sec-WebSocket-Version: 13/);
  await server.close();
});

/** Opens a raw socket to a WebSocket server, handshakes, and returns it with what follows. */
async function rawWsClient(port: number): Promise<{ sock: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  const sock = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let headDone = false;
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!headDone && buf.includes('\r\n\r\n')) {
        headDone = true;
        buf = buf.subarray(buf.indexOf('\r\n\r\n') + 4);
        resolve();
      }
    });
    sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  });
  return { sock, received: () => buf, closed };
}

test('protocol violations close with the right code: unmasked client frame 1002, bad UTF-8 1007, too big 1009', async (t) => {
  const server = new HttpServer((_q, s) => void s.end(), {
    onUpgrade: (req, socket, head) => {
      const ws = acceptWebSocket(req, socket, head, { maxPayload: 1000 });
      ws?.on('error', () => {});
    },
  });
  const l = await server.listen(loopbackTransport(), { port: 0 });
  const closeCodeOf = async (frame: Buffer) => {
    const c = await rawWsClient(l.port);
    c.sock.write(frame);
    await c.closed;
    const b = c.received();
    t.is(b[0], 0x88, 'a close frame');
    return b.readUInt16BE(2);
  };
  const mask = (op: number, payload: Buffer, extra: Buffer = Buffer.alloc(0)) => {
    const key = Buffer.from([1, 2, 3, 4]);
    const m = Buffer.from(payload.map((x, i) => x ^ key[i & 3]));
    return Buffer.concat([Buffer.from([0x80 | op, 0x80 | (extra.length ? 126 : payload.length)]), extra, key, m]);
  };
  t.is(await closeCodeOf(Buffer.from([0x81, 0x02, 0x68, 0x69])), 1002);
  t.is(await closeCodeOf(mask(1, Buffer.from([0xc3, 0x28]))), 1007);
  const big = Buffer.alloc(2000, 0x61);
  t.is(await closeCodeOf(mask(1, big, Buffer.from([0x07, 0xd0]))), 1009);
  t.is(await closeCodeOf(mask(0, Buffer.from('orphan'))), 1002);
  t.is(await closeCodeOf(Buffer.from([0xf1, 0x80, 0, 0, 0, 0])), 1002); // reserved bits
  await server.close();
});

test('a server frame that is masked fails our client with 1002', async (t) => {
  const liar = await rawServer((sock) => onRequestHead(sock, (head) => {
    const key = /Sec-WebSocket-Key: (.*)/i.exec(head)![1].trim();
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    sock.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]));
  }));
  const ws = await connectWebSocket(`ws://127.0.0.1:${liar.port}/`, { transport: loopbackTransport() });
  const errors: Error[] = [];
  ws.on('error', (e) => errors.push(e));
  const { code } = await ws.closed;
  t.is(code, 1002);
  t.is(errors.length, 1);
  await liar.close();
});

test('close timeout on the injected clock drops a peer that never answers the close', async (t) => {
  const clock = new ManualClock();
  const silent = await rawServer((sock) => onRequestHead(sock, (head) => {
    const key = /Sec-WebSocket-Key: (.*)/i.exec(head)![1].trim();
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
  }));
  const ws = await connectWebSocket(`ws://127.0.0.1:${silent.port}/`, { transport: loopbackTransport(), clock, closeTimeout: 2000 });
  ws.close(1000);
  await settle(5);
  t.is(ws.readyState, 'closing');
  clock.advance(2000);
  t.deepEqual(await ws.closed, { code: 1006, reason: '' });
  await silent.close();
});

test('property: any messages, fragmented any way, arrive intact over an in-memory pair', async (t) => {
  const message = fc.oneof(fc.string({ maxLength: 300 }).map((s) => ({ text: s })), fc.uint8Array({ maxLength: 70_000 }).map((b) => ({ bin: Buffer.from(b) })));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(message, fc.option(fc.integer({ min: 1, max: 5000 }))), { minLength: 1, maxLength: 6 }), async (msgs) => {
      const server = new HttpServer((_q, s) => void s.end(), { onUpgrade: websocketEchoUpgrade() });
      const ws = await connectWebSocket('ws://echo.test/', { transport: memoryTransport((d) => server.handle(d)), random: { nextU32: () => 0x12345678 } });
      const received: Array<{ text?: string; bin?: Buffer }> = [];
      const all = new Promise<void>((r) => ws.on('message', (d: Buffer, isBinary: boolean) => {
        received.push(isBinary ? { bin: d } : { text: d.toString() });
        if (received.length === msgs.length) r();
      }));
      for (const [m, frag] of msgs) ws.send('text' in m ? m.text! : m.bin!, frag ? { fragmentSize: frag } : {});
      await all;
      const show = (m: { text?: string; bin?: Buffer }) => ('text' in m ? { text: m.text } : { bin: m.bin!.toString('base64') });
      t.deepEqual(received.map(show), msgs.map(([m]) => show(m)));
      ws.close();
      await ws.closed;
    }),
    { numRuns: 40 },
  );
});

test('pause() holds incoming messages until resume(); frames sent with the 101 are not lost', async (t) => {
  let serverWs!: WebSocket;
  const server = new HttpServer((_q, s) => void s.end(), {
    onUpgrade: (req, socket, head) => {
      serverWs = acceptWebSocket(req, socket, head)!;
      serverWs.send('welcome'); // goes out right behind the 101
      serverWs.pause();
    },
  });
  const ws = await connectWebSocket('ws://echo.test/', { transport: memoryTransport((d) => server.handle(d)) });
  t.is((await nextMessage(ws)).data.toString(), 'welcome');
  const got: string[] = [];
  serverWs.on('message', (d: Buffer) => got.push(d.toString()));
  ws.send('a');
  ws.send('b');
  await settle(10);
  t.deepEqual(got, []);
  serverWs.resume();
  await settle(10);
  t.deepEqual(got, ['a', 'b']);
  ws.close();
  await ws.closed;
});

test('a handshake that never gets an answer times out on the injected clock', async (t) => {
  const clock = new ManualClock();
  let asked!: () => void;
  const seen = new Promise<void>((r) => (asked = r));
  const silent = await rawServer((sock) => onRequestHead(sock, () => asked()));
  const p = connectWebSocket(`ws://127.0.0.1:${silent.port}/`, { transport: loopbackTransport(), clock, timeout: 3000 });
  p.catch(() => {});
  await seen;
  clock.advance(3000);
  const err = await t.throwsAsync(p);
  t.is((err as HttpError).code, 'HTTP_CONNECT_TIMEOUT');
  await silent.close();
});
