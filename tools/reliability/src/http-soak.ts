/**
 * Many concurrent HTTP connections for a fixed virtual time: @pnet/http's client and server over pnet TCP on
 * two Stacks joined by a SimLink. Each of `connections` workers owns one keep-alive connection (the client's
 * pool allows exactly that many) and loops over a mix of requests whose answers it can check byte for byte:
 * deterministic bodies (whole and chunked), echoed POST bodies, statuses and HEAD. Afterwards everything is
 * closed and the connection tables and the clock's pending events are counted.
 */
import { createHash } from 'node:crypto';
import { Rng, SimLink, SimNic, VirtualClock, localMac } from '@pnet/nic';
import type { Impairments } from '@pnet/nic';
import { Stack } from '@pnet/tcpip';
import type { TcpConfig } from '@pnet/tcpip';
import { stackTransport } from '@pnet/tls';
import { HttpClient, HttpServer } from '@pnet/http';
import type { ServerRequest, ServerResponse } from '@pnet/http';
import { PatternStream } from './sim-soak';

function pattern(seed: number, n: number): Buffer {
  const src = new PatternStream(seed);
  const out = Buffer.alloc(n);
  for (let p = 0; p < n;) { const c = src.at(p); const off = p % c.length; const k = Math.min(c.length - off, n - p); c.copy(out, p, off, off + k); p += k; }
  return out;
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readAll(req: ServerRequest): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req.body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** /bytes/<n>/<seed> whole, /chunked/<n>/<seed> in 1000-byte writes, /echo (POST) with a SHA-256 header, /status/<code>. */
async function handler(req: ServerRequest, res: ServerResponse): Promise<void> {
  const parts = (req.target.split('?')[0]).split('/');
  if (parts[1] === 'bytes' || parts[1] === 'chunked') {
    const body = pattern(Number(parts[3]), Number(parts[2]));
    res.setHeader('content-type', 'application/octet-stream');
    if (parts[1] === 'bytes') { res.end(body); return; }
    for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
    res.end();
    return;
  }
  if (parts[1] === 'echo') {
    const body = await readAll(req);
    res.setHeader('x-sha256', sha(body));
    res.end(body);
    return;
  }
  if (parts[1] === 'status') { res.statusCode = Number(parts[2]); res.end(); return; }
  res.statusCode = 404;
  res.end('not found');
}

export interface HttpSoakOptions {
  connections: number;
  /** Virtual milliseconds during which workers start new requests. */
  duration: number;
  seed?: number;
  impairments?: Impairments;
  /** The server's TCP settings, e.g. a SYN queue long enough for every client to connect at once. */
  serverTcp?: Partial<TcpConfig>;
}

export interface HttpSoakResult {
  requests: number;
  bytes: number;
  failures: string[];
  maxConcurrentConnections: number;
  serverConnectionsPeak: number;
  connectionsAfter: number;
  pendingEventsAfter: number;
  virtualMs: number;
  serverStats: unknown;
  listenOverflows: number;
}

export async function runHttpSoak(o: HttpSoakOptions): Promise<HttpSoakResult> {
  const seed = o.seed ?? 1;
  const clock = new VirtualClock();
  const a = new Stack({ clock, rng: new Rng(seed), name: 'client' });
  const b = new Stack({ clock, rng: new Rng(seed + 1), name: 'server', tcp: o.serverTcp });
  const na = new SimNic({ name: 'a0', mac: localMac(1), clock });
  const nb = new SimNic({ name: 'b0', mac: localMac(2), clock });
  const imp = o.impairments ?? { delay: 2, jitter: 1, keepOrder: true, loss: 0.01, duplicate: 0.005, rate: 1e9, queuePackets: 2000 };
  new SimLink({ clock, seed, aToB: imp, bToA: imp }).connect(na, nb);
  a.addInterface(na, { ip: '192.0.2.1', netmask: 24 });
  b.addInterface(nb, { ip: '192.0.2.2', netmask: 24 });
  a.start();
  b.start();

  const server = new HttpServer(handler, { clock });
  await clock.drive(server.listen(stackTransport(b), { port: 80 }));
  const client = new HttpClient({ transport: stackTransport(a), clock, maxSocketsPerOrigin: o.connections, maxIdlePerOrigin: o.connections });

  const failures: string[] = [];
  let requests = 0;
  let bytes = 0;
  let maxConc = 0;
  let serverPeak = 0;
  const rng = new Rng(seed + 100);
  const end = clock.now() + o.duration;
  const fail = (w: number, what: string) => { if (failures.length < 50) failures.push(`worker ${w}: ${what}`); };

  const one = async (w: number, k: number): Promise<void> => {
    const kind = rng.nextInt(5);
    const n = 1 + rng.nextInt(kind === 1 ? 60_000 : 8000);
    const s = w * 100_000 + k;
    const base = 'http://192.0.2.2';
    if (kind === 0 || kind === 1) {
      const path = kind === 0 ? 'bytes' : 'chunked';
      const r = await client.request(`${base}/${path}/${n}/${s}`);
      const body = await r.buffer();
      if (r.status !== 200 || !body.equals(pattern(s, n))) fail(w, `${path} ${n} ${s}: status ${r.status}, ${body.length} bytes`);
      bytes += body.length;
    } else if (kind === 2) {
      const sent = pattern(s + 7, n);
      const r = await client.request(`${base}/echo`, { method: 'POST', body: sent });
      const body = await r.buffer();
      if (r.status !== 200 || !body.equals(sent) || r.headers.get('x-sha256') !== sha(sent)) fail(w, `echo ${n}: status ${r.status}, ${body.length} bytes`);
      bytes += body.length + sent.length;
    } else if (kind === 3) {
      const code = [200, 204, 404, 418, 500][rng.nextInt(5)];
      const r = await client.request(`${base}/status/${code}`);
      await r.buffer();
      if (r.status !== code) fail(w, `status ${code}: got ${r.status}`);
    } else {
      const r = await client.request(`${base}/bytes/${n}/${s}`, { method: 'HEAD' });
      const body = await r.buffer();
      if (r.status !== 200 || body.length !== 0 || r.headers.get('content-length') !== String(n)) fail(w, `HEAD ${n}: ${r.status} ${r.headers.get('content-length')}`);
    }
    requests++;
  };

  const worker = async (w: number): Promise<void> => {
    for (let k = 0; clock.now() < end; k++) {
      try { await one(w, k); } catch (e) { fail(w, `threw ${(e as Error).message}`); return; }
    }
  };
  let running = true;
  const sampler = () => {
    const c = a.tcp.connections().length;
    maxConc = Math.max(maxConc, c);
    serverPeak = Math.max(serverPeak, b.tcp.connections().length);
    if (running) clock.schedule(clock.now() + 250, sampler);
  };
  clock.schedule(clock.now() + 250, sampler);
  await clock.drive(Promise.all(Array.from({ length: o.connections }, (_, w) => worker(w))), end + 600_000);
  running = false;
  const virtualMs = clock.now();

  client.close();
  await clock.drive(server.close(), clock.now() + 600_000);
  // TIME-WAIT (60 s), delayed ACKs and keep-alive timers all run out.
  clock.runUntil(clock.now() + 5 * 60_000);
  const connectionsAfter = a.tcp.connections().length + b.tcp.connections().length;
  a.stop();
  b.stop();
  clock.runUntil(clock.now() + 5 * 60_000);
  return {
    requests, bytes, failures, maxConcurrentConnections: maxConc, serverConnectionsPeak: serverPeak,
    connectionsAfter, pendingEventsAfter: clock.pending, virtualMs, serverStats: server.stats,
    listenOverflows: b.tcp.stats.errors['listen-overflow'] ?? 0,
  };
}
