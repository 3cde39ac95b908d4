/**
 * Child process of memory.ts (run with --expose-gc): opens `n` idle
 * established TCP connections in one of three ways and prints one JSON line
 * `{ endpoints, bytes, perEndpoint }` with the heap growth after full GCs.
 *
 *   pnet-socket  two pnet Stacks on a SimLink (virtual time), TcpSocket (Duplex) both ends
 *   pnet-conn    the same with bare TcpConnections (tcp.open / openListener), no streams
 *   node         Node's net over the kernel's loopback (JS heap only: kernel memory is not counted)
 *
 * Both ends live in this process, so `n` connections are 2n endpoints.
 */
import * as net from 'node:net';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { SERVER_IP, twoStacks, World } from './world';

/** `gc()` from --expose-gc, or (in-process, tiny runs of the harness test) switched on at run time. */
function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function heap(): number {
  const gc = getGc();
  for (let i = 0; i < 4; i++) gc();
  return v8.getHeapStatistics().used_heap_size;
}

/** Below the listeners' SYN queue (128): with a zero-delay link every SYN of a batch arrives before any handshake ends. */
const BATCH = 100;
/** Connection i uses server port 5001 + floor(i / PORTS) and client port 1024 + i % PORTS. */
const PORTS = 60_000;

interface Opened { before: number; after: number; keep: unknown[]; dispose(): void }

async function pnet(n: number, sockets: boolean): Promise<Opened> {
  const w: World = twoStacks();
  const keep: unknown[] = [];
  const listeners = Math.ceil(n / PORTS);
  let accepted = 0;
  let connected = 0;
  const servers: unknown[] = [];
  for (let l = 0; l < listeners; l++) {
    if (sockets) {
      const s = w.server.tcp.listen({ port: 5001 + l, backlog: 65535 });
      s.on('connection', (c: unknown) => { keep.push(c); accepted++; });
      servers.push(s);
    } else {
      const lis = w.server.tcp.openListener({ port: 5001 + l, backlog: 65535 });
      lis.onAcceptable = () => { for (let c = lis.accept(); c; c = lis.accept()) { keep.push(c); accepted++; } };
      servers.push(lis);
    }
  }
  // One connection before the baseline: ARP resolved (only 32 packets may wait for it), code paths warm.
  const warm = w.client.tcp.open({ host: SERVER_IP, port: 5001, localPort: 64_000 });
  w.clock.runUntil(w.clock.now() + 1);
  await new Promise((r) => setImmediate(r)); // a TcpServer hands out connections on the next tick
  if (warm.state !== 'ESTABLISHED' || accepted !== 1) throw new Error(`memory: warm-up connection ${warm.state}`);
  keep.length = 0;
  accepted = 0;
  const before = heap();
  for (let i = 0; i < n; i += BATCH) {
    const end = Math.min(n, i + BATCH);
    for (let j = i; j < end; j++) {
      const opts = { host: SERVER_IP, port: 5001 + Math.floor(j / PORTS), localPort: 1024 + (j % PORTS) };
      if (sockets) {
        const c = w.client.tcp.connect(opts);
        c.once('connect', () => { connected++; });
        keep.push(c);
      } else {
        keep.push(w.client.tcp.open(opts));
      }
    }
    if (sockets) {
      await w.clock.drive(new Promise<void>((resolve) => {
        const check = () => (connected >= end && accepted >= end ? resolve() : setImmediate(check));
        check();
      }));
    } else {
      w.clock.runUntil(w.clock.now() + 1);
      connected = end;
      if (accepted < end) throw new Error(`memory: ${accepted} of ${end} connections accepted`);
    }
  }
  // Let delayed ACKs and other short timers run out: the connections are idle from here on.
  w.clock.runUntil(w.clock.now() + 1000);
  await new Promise((r) => setImmediate(r));
  const after = heap();
  const established = (keep as { connection?: { state: string }; state?: string }[])
    .filter((c) => (c.connection ? c.connection.state : c.state) === 'ESTABLISHED').length;
  if (established !== 2 * n) throw new Error(`memory: ${established} of ${2 * n} endpoints established`);
  return { before, after, keep: [keep, servers, w, warm], dispose: () => w.close() };
}

async function node(n: number): Promise<Opened> {
  const keep: net.Socket[] = [];
  const server = net.createServer((s) => { keep.push(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 65535, r));
  const port = (server.address() as net.AddressInfo).port;
  // A few connections before the baseline: Node's lazily loaded internals are then already there.
  await Promise.all(Array.from({ length: 10 }, () => new Promise<void>((resolve) => {
    const c = net.connect({ port, host: '127.0.0.1' }, () => { c.destroy(); resolve(); });
  })));
  while (keep.length < 10) await new Promise((r) => setTimeout(r, 10));
  for (const k of keep.splice(0)) k.destroy();
  await new Promise((r) => setTimeout(r, 50));
  const before = heap();
  for (let i = 0; i < n; i += BATCH) {
    const end = Math.min(n, i + BATCH);
    await Promise.all(Array.from({ length: end - i }, () => new Promise<void>((resolve, reject) => {
      const c = net.connect({ port, host: '127.0.0.1' }, () => resolve());
      c.on('error', reject);
      keep.push(c);
    })));
  }
  while (keep.length < 2 * n) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  const after = heap();
  return { before, after, keep: [keep, server], dispose: () => { for (const k of keep) k.destroy(); server.close(); } };
}

export type MemoryMode = 'pnet-socket' | 'pnet-conn' | 'node';
export interface MemoryResult { endpoints: number; bytes: number; perEndpoint: number }

/** Opens `n` connections in this process and measures; what it opened stays open until `dispose()`. */
export async function measureHere(mode: MemoryMode, n: number): Promise<MemoryResult & { dispose(): void }> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`memory: connections must be a positive integer, got ${n}`);
  const r = mode === 'node' ? await node(n) : mode === 'pnet-socket' ? await pnet(n, true) : mode === 'pnet-conn' ? await pnet(n, false) : null;
  if (!r) throw new RangeError(`memory: unknown mode ${String(mode)}`);
  const bytes = r.after - r.before;
  return { endpoints: 2 * n, bytes, perEndpoint: bytes / (2 * n), dispose: r.dispose };
}

if (require.main === module) {
  measureHere(process.argv[2] as MemoryMode, Number(process.argv[3])).then((r) => {
    process.stdout.write(JSON.stringify({ endpoints: r.endpoints, bytes: r.bytes, perEndpoint: r.perEndpoint }) + '\n');
    process.exit(0);
  }, (e) => { console.error(e); process.exit(1); });
}
