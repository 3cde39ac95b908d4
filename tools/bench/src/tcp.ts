/**
 * TCP over pnet, two Stacks in one process on a zero-delay SimLink in virtual
 * time (see world.ts for why virtual time), against Node's `net` over the
 * kernel's loopback, both ends in this process too:
 *
 * - bulk throughput: one connection, the client writes `size` bytes in 64 KiB
 *   chunks honouring backpressure, the server reads them all; timed from
 *   connect() to the server's 'end'. MTU 1500, 9000 and 65535; checksums are
 *   computed (SimNics offload nothing). The anchor is the same program on
 *   `net` over lo (MTU 65536), measured once per run.
 * - connections per second: handshake, 32-byte request, 32-byte answer, the
 *   server ends, the client ends after the answer (so TIME-WAIT sits on the
 *   server side and never runs the client out of ports); CONCURRENCY in flight.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { SERVER_IP, twoStacks, since } from './world';
import { BenchOptions, BenchRow, median, row } from './bench';

const CHUNK = 64 * 1024;
const CONCURRENCY = 16;

interface Side {
  /** Starts a server; returns its port and a stopper. */
  listen(onConnection: (s: Duplex) => void): Promise<{ port: number; close(): void }>;
  connect(port: number): Duplex;
  /** Waits for `p`, driving virtual time if there is any. */
  drive<T>(p: Promise<T>): Promise<T>;
  close(): void;
}

export function kernelSide(): Side {
  return {
    listen(onConnection) {
      const server = net.createServer({ noDelay: true }, onConnection);
      return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => server.close(),
      })));
    },
    connect: (port) => net.connect({ port, host: '127.0.0.1', noDelay: true }),
    drive: (p) => p,
    close() { /* nothing */ },
  };
}

export function pnetSide(mtu: number): Side {
  const w = twoStacks({ mtu });
  let port = 5000;
  return {
    async listen(onConnection) {
      const p = ++port;
      const server = w.server.tcp.listen({ port: p });
      server.on('connection', (s: Duplex & { setNoDelay(b?: boolean): unknown }) => { s.setNoDelay(true); onConnection(s); });
      return { port: p, close: () => server.close() };
    },
    connect(p) {
      const s = w.client.tcp.connect({ host: SERVER_IP, port: p });
      s.setNoDelay(true);
      return s;
    },
    drive: (p) => w.clock.drive(p),
    close: () => w.close(),
  };
}

/** Bytes per second for one bulk transfer of `size` bytes. */
export async function bulk(side: Side, size: number): Promise<number> {
  const chunk = Buffer.alloc(CHUNK, 0x5a);
  let received = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => { resolveDone = r; });
  const server = await side.listen((s) => {
    s.on('data', (d: Buffer) => { received += d.length; });
    s.on('end', () => { s.end(); resolveDone(); });
    s.on('error', () => {});
  });
  const t0 = process.hrtime.bigint();
  const c = side.connect(server.port);
  c.on('data', () => {});
  c.on('error', () => {});
  const write = async () => {
    for (let off = 0; off < size; off += CHUNK) {
      const n = Math.min(CHUNK, size - off);
      if (!c.write(n === CHUNK ? chunk : chunk.subarray(0, n))) await new Promise((r) => c.once('drain', r));
    }
    c.end();
  };
  void write();
  await side.drive(done);
  const s = since(t0);
  server.close();
  if (received !== size) throw new Error(`bulk: received ${received} of ${size} bytes`);
  return size / s;
}

/** Connections per second: `n` short exchanges, CONCURRENCY at a time. */
export async function connections(side: Side, n: number): Promise<number> {
  const request = Buffer.alloc(32, 0x71);
  const answer = Buffer.alloc(32, 0x72);
  const server = await side.listen((s) => {
    let got = 0;
    s.on('data', (d: Buffer) => { got += d.length; if (got >= request.length) s.end(answer); });
    s.on('error', () => {});
  });
  const one = () => new Promise<void>((resolve, reject) => {
    const c = side.connect(server.port);
    let got = 0;
    c.on('connect', () => c.write(request));
    c.on('data', (d: Buffer) => { got += d.length; });
    c.on('end', () => { if (got !== answer.length) reject(new Error(`connections: answer of ${got} bytes`)); });
    c.on('close', () => resolve());
    c.on('error', reject);
  });
  let started = 0;
  const worker = async () => { while (started < n) { started++; await one(); } };
  const t0 = process.hrtime.bigint();
  await side.drive(Promise.all(Array.from({ length: CONCURRENCY }, worker)));
  const s = since(t0);
  server.close();
  return n / s;
}

export interface TcpSizes { bulkBytes: number; connections: number; runs: number; mtus: number[]; warmRounds: number }

export function sizes(opts: BenchOptions): TcpSizes {
  if (opts.tiny) return { bulkBytes: 1 << 20, connections: 50, runs: 1, mtus: [1500], warmRounds: 1 };
  return opts.quick
    ? { bulkBytes: 32 << 20, connections: 1000, runs: 3, mtus: [1500, 9000, 65535], warmRounds: 4 }
    : { bulkBytes: 128 << 20, connections: 5000, runs: 5, mtus: [1500, 9000, 65535], warmRounds: 4 };
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const z = sizes(opts);
  const rows: BenchRow[] = [];
  const mb = (z.bulkBytes / (1 << 20)).toFixed(0);
  const kernel = kernelSide();
  // Warm-up (JIT), to steady state as in a long-running program. Our side is all JavaScript, and
  // V8 keeps re-optimising it for several runs in a process (at 40cc1b8, 128 MiB runs at MTU 1500:
  // 2.4, 3.6, 4.7, 4.6, 5.0, 4.8 Gbit/s); `net` is mostly native code and settles in one run.
  const warmBytes = Math.min(z.bulkBytes, 64 << 20);
  for (let i = 0; i < z.warmRounds; i++) {
    await bulk(kernel, warmBytes);
    for (const mtu of z.mtus) {
      const side = pnetSide(mtu);
      try { await bulk(side, warmBytes); } finally { side.close(); }
    }
  }
  // Interleave ours and the anchor run by run so a load spike hits both.
  const anchor: number[] = [];
  const ours = new Map<number, number[]>(z.mtus.map((m) => [m, []]));
  for (let r = 0; r < z.runs; r++) {
    anchor.push(await bulk(kernel, z.bulkBytes));
    for (const mtu of z.mtus) {
      const side = pnetSide(mtu);
      try { ours.get(mtu)!.push(await bulk(side, z.bulkBytes)); } finally { side.close(); }
    }
  }
  const a = median(anchor) * 8 / 1e9;
  for (const mtu of z.mtus) {
    rows.push(row(`TCP bulk ${mb} MiB, SimLink MTU ${mtu}, checksums on`, median(ours.get(mtu)!) * 8 / 1e9, 'Gbit/s',
      `Node net over lo (MTU 65536)`, a));
  }
  const cAnchor: number[] = [];
  const cOurs: number[] = [];
  // Warm-up (JIT) of the handshake/close path, which the bulk runs do not cover: runs of 5000
  // connections, each in fresh Stacks, went 7k, 23k, 26k, 34k, 30k, 37k conn/s at 40cc1b8.
  for (let i = 0; i < z.warmRounds; i++) {
    await connections(kernel, z.connections);
    const side = pnetSide(1500);
    try { await connections(side, z.connections); } finally { side.close(); }
  }
  for (let r = 0; r < z.runs; r++) {
    cAnchor.push(await connections(kernel, z.connections));
    const side = pnetSide(1500);
    try { cOurs.push(await connections(side, z.connections)); } finally { side.close(); }
  }
  rows.push(row(`TCP connections (open, 32 B each way, close), ${CONCURRENCY} in flight`, median(cOurs), 'conn/s',
    'Node net over lo', median(cAnchor)));
  return rows;
}
