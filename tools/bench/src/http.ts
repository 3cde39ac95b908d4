/**
 * HTTP/1.1 requests per second: `@pnet/http`'s client to `@pnet/http`'s
 * server over pnet TCP (two Stacks on a zero-delay SimLink, virtual time),
 * against undici (what a Node user would pick) to Node's `http` server over
 * the kernel's loopback, both in this process. CONCURRENCY requests in
 * flight, each a GET answered with a 64-byte body. With keep-alive (a pool of
 * CONCURRENCY connections) and with one new connection per request
 * (`Connection: close` on our client, `reset: true` on undici).
 */
import * as http from 'node:http';
import { Agent, request as undiciRequest } from 'undici';
import { HttpClient, HttpServer } from '@pnet/http';
import { stackTransport } from '@pnet/tls';
import { SERVER_IP, twoStacks, since } from './world';
import { BenchOptions, BenchRow, median, row } from './bench';

const CONCURRENCY = 6;
const BODY = Buffer.alloc(64, 0x61);

type Fetch = () => Promise<void>;

async function rate(fetch: Fetch, n: number, drive: <T>(p: Promise<T>) => Promise<T>): Promise<number> {
  let started = 0;
  const worker = async () => { while (started < n) { started++; await fetch(); } };
  const t0 = process.hrtime.bigint();
  await drive(Promise.all(Array.from({ length: CONCURRENCY }, worker)));
  return n / since(t0);
}

export async function pnetRate(n: number, close: boolean): Promise<number> {
  const w = twoStacks();
  const server = new HttpServer((_req, res) => { res.setHeader('Content-Type', 'text/plain'); res.end(BODY); }, { clock: w.clock });
  const listener = await server.listen(stackTransport(w.server), { port: 80 });
  const client = new HttpClient({ transport: stackTransport(w.client), clock: w.clock, maxSocketsPerOrigin: CONCURRENCY, maxIdlePerOrigin: CONCURRENCY });
  const url = `http://${SERVER_IP}/`;
  const headers: [string, string][] = close ? [['Connection', 'close']] : [];
  const fetch = async () => {
    const res = await client.request(url, { headers });
    const body = await res.buffer();
    if (res.status !== 200 || body.length !== BODY.length) throw new Error(`http: ${res.status}, ${body.length} bytes`);
  };
  try {
    await w.clock.drive(fetch()); // the pool's first connection
    return await rate(fetch, n, (p) => w.clock.drive(p));
  } finally {
    client.close();
    await w.clock.drive(server.close().then(() => listener.close()));
    w.close();
  }
}

async function nodeRate(n: number, close: boolean): Promise<number> {
  const server = http.createServer((_req, res) => { res.setHeader('Content-Type', 'text/plain'); res.end(BODY); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const url = `http://127.0.0.1:${port}/`;
  const fetch = async () => {
    const res = await undiciRequest(url, { dispatcher: agent, reset: close });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200 || body.length !== BODY.length) throw new Error(`undici: ${res.statusCode}, ${body.length} bytes`);
  };
  try {
    await fetch();
    return await rate(fetch, n, (p) => p);
  } finally {
    await agent.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.tiny ? 30 : opts.quick ? 1000 : 3000;
  const nClose = opts.tiny ? 20 : opts.quick ? 500 : 1000;
  const runs = opts.tiny ? 1 : opts.quick ? 3 : 5;
  if (!opts.tiny) { await pnetRate(200, false); await nodeRate(200, false); } // warm-up (JIT)
  const rows: BenchRow[] = [];
  for (const close of [false, true]) {
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < runs; r++) {
      theirs.push(await nodeRate(close ? nClose : n, close));
      ours.push(await pnetRate(close ? nClose : n, close));
    }
    rows.push(row(`HTTP/1.1 GET 64 B, ${close ? 'new connection per request' : 'keep-alive'}, ${CONCURRENCY} in flight`,
      median(ours), 'req/s', 'undici -> Node http over lo', median(theirs)));
  }
  return rows;
}
