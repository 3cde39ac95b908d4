import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { connectWebSocket } from '../src';
import { loopbackTransport } from './helpers/loopback';
(async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (p) => p.on('message', (d, b) => p.send(d as Buffer, { binary: b })));
  const ws = await connectWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, { transport: loopbackTransport() });
  const next = () => new Promise<Buffer>((r) => ws.once('message', r));
  let t0 = performance.now();
  const lap = (s: string) => { console.log(s, (performance.now() - t0).toFixed(0)); t0 = performance.now(); };
  ws.send('a'); await next(); lap('small');
  ws.send(Buffer.alloc(1024 * 1024 + 3, 0x5a)); await next(); lap('1MB');
  ws.send('x'.repeat(10_000), { fragmentSize: 999 }); await next(); lap('frag');
  ws.send(Buffer.alloc(70_000, 1), { fragmentSize: 65_536 }); await next(); lap('70k');
  process.exit(0);
})();
