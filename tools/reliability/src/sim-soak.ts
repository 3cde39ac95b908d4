/**
 * Bulk soak over a SimLink in virtual time: two real Stacks, one TCP connection, `size` bytes each
 * way under a heavy impairment mix. Data is generated and hashed as a stream (a 1 GiB run never
 * holds more than the socket buffers), progress is timestamped in virtual time to find the longest
 * stall, and after both sides close the connection tables and the clock's pending events are counted.
 */
import { createHash, Hash } from 'node:crypto';
import { Rng, SimLink, SimNic, VirtualClock, localMac } from '@pnet/nic';
import type { Impairments } from '@pnet/nic';
import { Stack, ipv4 } from '@pnet/tcpip';
import type { TcpConnection, TcpConnectionEvents } from '@pnet/tcpip';

/** The mix: ~5 % bursty loss (Gilbert-Elliott: bad state 9 % of frames, mean 5 frames, 54 % lost in it), 5 % reordering, 2 % duplication, 0.5 % corruption, jitter. */
export const HEAVY_IMPAIRMENTS: Impairments = {
  gilbertElliott: { p: 0.02, r: 0.2, lossGood: 0.001, lossBad: 0.54 },
  reorder: 0.05,
  reorderGap: 4,
  duplicate: 0.02,
  corrupt: 0.005,
  delay: 5,
  jitter: 2,
  keepOrder: true,
  rate: 200e6,
  queuePackets: 400,
};

/** Deterministic pattern source: chunk i of stream `id` is the same bytes whoever asks. */
export class PatternStream {
  private readonly chunk = Buffer.alloc(64 * 1024);
  private chunkIndex = -1;
  constructor(private readonly id: number) {}

  /** Fills and returns the chunk holding byte `pos`; `pos % chunk.length` is where it starts. */
  at(pos: number): Buffer {
    const i = Math.floor(pos / this.chunk.length);
    if (i !== this.chunkIndex) {
      const r = new Rng(this.id * 1_000_003 + i);
      for (let k = 0; k < this.chunk.length; k += 4) this.chunk.writeUInt32LE(r.nextU32() >>> 0, k);
      this.chunkIndex = i;
    }
    return this.chunk;
  }
}

export interface SimSoakOptions {
  size: number;
  seed?: number;
  impairments?: Impairments;
  /** Virtual-time guard (ms): the run stops here if not finished. */
  limit?: number;
  onProgress?: (info: { now: number; aToB: number; bToA: number }) => void;
}

export interface SimSoakResult {
  size: number;
  sentHashAB: string; receivedHashAB: string; receivedAB: number;
  sentHashBA: string; receivedHashBA: string; receivedBA: number;
  clientError: string | null; serverError: string | null;
  clientClosed: boolean; serverClosed: boolean;
  virtualMs: number;
  longestStallMs: number;
  longestStallAt: number;
  connectionsAfter: number;
  pendingEventsAfter: number;
  retransmits: number; timeouts: number; fastRetransmits: number;
  link: { lost: number; burstLost: number; reordered: number; duplicated: number; corrupted: number; offered: number };
  tcpErrors: Record<string, number>;
  internalErrors: number;
}

class Side implements TcpConnectionEvents {
  conn: TcpConnection | null = null;
  sent = 0;
  received = 0;
  closed = false;
  error: string | null = null;
  readonly sendHash: Hash = createHash('sha256');
  readonly recvHash: Hash = createHash('sha256');
  private readonly scratch = Buffer.alloc(256 * 1024);
  private readonly src: PatternStream;
  private shutDown = false;
  constructor(private readonly clock: VirtualClock, private readonly size: number, id: number,
    private readonly progress: (now: number) => void) {
    this.src = new PatternStream(id);
  }
  // Events arrive inside the stack's processing: act on them from a clock event, as an application would.
  onConnect(): void { this.clock.schedule(this.clock.now(), () => this.pump()); }
  onWritable(): void { this.clock.schedule(this.clock.now(), () => this.pump()); }
  onData(): void { this.clock.schedule(this.clock.now(), () => this.drain()); }
  onEnd(): void {}
  onClose(err: { code: string } | null): void { this.closed = true; this.error = err ? err.code : null; }

  pump(): void {
    const c = this.conn;
    if (!c || this.shutDown) return;
    while (this.sent < this.size) {
      const chunk = this.src.at(this.sent);
      const off = this.sent % chunk.length;
      const len = Math.min(chunk.length - off, this.size - this.sent);
      const n = c.write(chunk, off, len);
      if (n === 0) return;
      this.sendHash.update(chunk.subarray(off, off + n));
      this.sent += n;
    }
    this.shutDown = true;
    c.shutdown();
  }

  drain(): void {
    const c = this.conn;
    if (!c) return;
    let got = 0;
    for (;;) {
      const n = c.read(this.scratch, 0, this.scratch.length);
      if (n <= 0) break;
      this.recvHash.update(this.scratch.subarray(0, n));
      this.received += n;
      got += n;
    }
    if (got > 0) this.progress(this.clock.now());
  }
}

export function runSimSoak(o: SimSoakOptions): SimSoakResult {
  const seed = o.seed ?? 1;
  const imp = o.impairments ?? HEAVY_IMPAIRMENTS;
  const clock = new VirtualClock();
  const a = new Stack({ clock, rng: new Rng(seed), name: 'a' });
  const b = new Stack({ clock, rng: new Rng(seed + 1), name: 'b' });
  const na = new SimNic({ name: 'a0', mac: localMac(1), clock });
  const nb = new SimNic({ name: 'b0', mac: localMac(2), clock });
  const link = new SimLink({ clock, seed, aToB: imp, bToA: imp }).connect(na, nb);
  a.addInterface(na, { ip: ipv4(192, 0, 2, 1), netmask: 24 });
  b.addInterface(nb, { ip: ipv4(192, 0, 2, 2), netmask: 24 });
  a.start();
  b.start();

  let lastProgress = 0;
  let longest = 0;
  let longestAt = 0;
  let reportedAt = 0;
  const progress = (now: number): void => {
    if (now - lastProgress > longest) { longest = now - lastProgress; longestAt = lastProgress; }
    lastProgress = now;
    if (o.onProgress && now - reportedAt >= 1000) { reportedAt = now; o.onProgress({ now, aToB: server.received, bToA: client.received }); }
  };
  const client = new Side(clock, o.size, seed * 2 + 11, progress);
  const server = new Side(clock, o.size, seed * 2 + 22, progress);
  const listener = b.tcp.openListener({ port: 5001 });
  listener.onAcceptable = () => {
    const s = listener.accept();
    if (!s) return;
    server.conn = s;
    s.events = server;
    clock.schedule(clock.now(), () => { server.pump(); server.drain(); });
  };
  client.conn = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 5001 }, client);

  const limit = o.limit ?? 48 * 3_600_000;
  while (clock.now() < limit && !(client.closed && server.closed)) {
    if (!clock.step()) break;
  }
  const end = clock.now();
  if (end - lastProgress > longest && !(client.received === o.size && server.received === o.size)) {
    longest = end - lastProgress; longestAt = lastProgress;
  }
  b.tcp.closeListener(listener);
  // Let TIME-WAIT and every other timer run out, then count what is left.
  clock.runUntil(end + 5 * 60_000);
  const connectionsAfter = a.tcp.connections().length + b.tcp.connections().length;
  a.stop();
  b.stop();
  const pendingEventsAfter = clock.pending;
  const ls = link.stats;
  const sum = (k: 'droppedLoss' | 'droppedBurst' | 'reordered' | 'duplicated' | 'corrupted' | 'offered') => ls.aToB[k] + ls.bToA[k];
  const tcpErrors: Record<string, number> = {};
  for (const st of [a.tcp.stats, b.tcp.stats]) for (const [k, v] of Object.entries(st.errors)) tcpErrors[k] = (tcpErrors[k] ?? 0) + v;
  return {
    size: o.size,
    sentHashAB: client.sendHash.digest('hex'), receivedHashAB: server.recvHash.digest('hex'), receivedAB: server.received,
    sentHashBA: server.sendHash.digest('hex'), receivedHashBA: client.recvHash.digest('hex'), receivedBA: client.received,
    clientError: client.error, serverError: server.error, clientClosed: client.closed, serverClosed: server.closed,
    virtualMs: end, longestStallMs: longest, longestStallAt: longestAt,
    connectionsAfter, pendingEventsAfter,
    retransmits: a.tcp.stats.retransmits + b.tcp.stats.retransmits,
    timeouts: a.tcp.stats.timeouts + b.tcp.stats.timeouts,
    fastRetransmits: a.tcp.stats.fastRetransmits + b.tcp.stats.fastRetransmits,
    link: { lost: sum('droppedLoss'), burstLost: sum('droppedBurst'), reordered: sum('reordered'), duplicated: sum('duplicated'),
      corrupted: sum('corrupted'), offered: sum('offered') },
    tcpErrors,
    internalErrors: tcpErrors['internal-error'] ?? 0,
  };
}
