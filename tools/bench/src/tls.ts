/**
 * TLS over pnet TCP (`@pnet/tls`'s stackTransport: Node's OpenSSL on our
 * streams; two Stacks on a zero-delay SimLink, virtual time) against Node's
 * `tls` over the kernel's loopback, both ends in this process:
 *
 * - full handshakes per second (TLS 1.3, P-256 certificate from the test CA,
 *   no resumption), CONCURRENCY in flight; a handshake counts when the client
 *   has closed the connection again;
 * - HTTPS bulk download: one GET of `size` bytes with `@pnet/http` over TLS,
 *   against undici to Node's `https` server.
 */
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { Agent, request as undiciRequest } from 'undici';
import { HttpClient, HttpServer } from '@pnet/http';
import { stackTransport, testCertificates } from '@pnet/tls';
import { SERVER_IP, twoStacks, since } from './world';
import { BenchOptions, BenchRow, median, row } from './bench';

const CONCURRENCY = 4;
const NAME = 'localhost';

export async function pnetHandshakes(n: number): Promise<number> {
  const certs = testCertificates();
  const w = twoStacks();
  const tServer = stackTransport(w.server, { sessionCache: false });
  const tClient = stackTransport(w.client, { ca: certs.ca.cert, sessionCache: false });
  const server = await tServer.listen({ port: 443, secure: { key: certs.server.key, cert: certs.server.cert } }, (s: Duplex) => {
    s.on('error', () => {});
    s.resume();
    s.on('end', () => s.end());
  });
  const one = async () => {
    const s = await tClient.connect({ host: SERVER_IP, port: 443, secure: true, servername: NAME });
    await new Promise<void>((resolve, reject) => { s.on('close', () => resolve()); s.on('error', reject); s.resume(); s.end(); });
  };
  try {
    let started = 0;
    const worker = async () => { while (started < n) { started++; await one(); } };
    const t0 = process.hrtime.bigint();
    await w.clock.drive(Promise.all(Array.from({ length: CONCURRENCY }, worker)));
    return n / since(t0);
  } finally {
    await w.clock.drive(server.close());
    w.close();
  }
}

async function nodeHandshakes(n: number): Promise<number> {
  const certs = testCertificates();
  const server = tls.createServer({ key: certs.server.key, cert: certs.server.cert }, (s) => {
    s.on('error', () => {});
    s.resume();
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const one = () => new Promise<void>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: NAME, ca: certs.ca.cert }, () => { s.resume(); s.end(); });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
  try {
    let started = 0;
    const worker = async () => { while (started < n) { started++; await one(); } };
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return n / since(t0);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const CHUNK = Buffer.alloc(64 * 1024, 0x42);

/** Answers any request with `size` bytes, written in 64 KiB chunks honouring backpressure. */
function bulkHandler(size: number) {
  return async (_req: unknown, res: NodeJS.WritableStream & { setHeader(n: string, v: string): unknown; once(e: string, f: () => void): unknown }) => {
    res.setHeader('Content-Length', String(size));
    for (let off = 0; off < size; off += CHUNK.length) {
      const n = Math.min(CHUNK.length, size - off);
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) await new Promise<void>((r) => res.once('drain', r));
    }
    res.end();
  };
}

export async function pnetDownload(size: number): Promise<number> {
  const certs = testCertificates();
  const w = twoStacks();
  const server = new HttpServer(bulkHandler(size) as never, { clock: w.clock });
  const listener = await server.listen(stackTransport(w.server), { port: 443, secure: { key: certs.server.key, cert: certs.server.cert } });
  const client = new HttpClient({ transport: stackTransport(w.client), clock: w.clock, tls: { ca: certs.ca.cert, servername: NAME } });
  try {
    const t0 = process.hrtime.bigint();
    const got = await w.clock.drive((async () => {
      const res = await client.request(`https://${SERVER_IP}/`);
      let n = 0;
      for await (const c of res.body) n += (c as Buffer).length;
      return n;
    })());
    const s = since(t0);
    if (got !== size) throw new Error(`https download: ${got} of ${size} bytes`);
    return size / s;
  } finally {
    client.close();
    await w.clock.drive(server.close().then(() => listener.close()));
    w.close();
  }
}

async function nodeDownload(size: number): Promise<number> {
  const certs = testCertificates();
  const server = https.createServer({ key: certs.server.key, cert: certs.server.cert }, bulkHandler(size) as never);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ connect: { ca: certs.ca.cert, servername: NAME } });
  try {
    const t0 = process.hrtime.bigint();
    const res = await undiciRequest(`https://127.0.0.1:${port}/`, { dispatcher: agent });
    let n = 0;
    for await (const c of res.body) n += (c as Buffer).length;
    const s = since(t0);
    if (n !== size) throw new Error(`undici https download: ${n} of ${size} bytes`);
    return size / s;
  } finally {
    await agent.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.tiny ? 10 : opts.quick ? 200 : 300;
  const size = opts.tiny ? 1 << 20 : opts.quick ? 16 << 20 : 64 << 20;
  const runs = opts.tiny ? 1 : opts.quick ? 3 : 5;
  if (!opts.tiny) { await pnetHandshakes(40); await nodeHandshakes(40); await pnetDownload(4 << 20); await nodeDownload(4 << 20); }
  const hs: number[] = [], hsAnchor: number[] = [], dl: number[] = [], dlAnchor: number[] = [];
  for (let r = 0; r < runs; r++) {
    hsAnchor.push(await nodeHandshakes(n));
    hs.push(await pnetHandshakes(n));
    dlAnchor.push(await nodeDownload(size));
    dl.push(await pnetDownload(size));
  }
  return [
    row(`TLS 1.3 full handshakes (P-256), ${CONCURRENCY} in flight`, median(hs), 'handshakes/s', 'Node tls over lo', median(hsAnchor)),
    row(`HTTPS download ${(size / (1 << 20)).toFixed(0)} MiB, one connection`, median(dl) * 8 / 1e9, 'Gbit/s', 'undici -> Node https over lo', median(dlAnchor) * 8 / 1e9),
  ];
}
