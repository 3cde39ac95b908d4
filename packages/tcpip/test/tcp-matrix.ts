/**
 * The TCP network-simulation matrix, in virtual time: real Stacks over SimLinks (and a SimSwitch
 * with a rate-limited bottleneck for several flows), one bulk transfer per cell. Everything is
 * seeded, so a cell's figures are exact and reproducible; `tcp-matrix.test.ts` compares them with
 * the snapshot in `snapshots/tcp-matrix.json` (UPDATE_SNAPSHOTS=1 rewrites it), and
 * `node -r ts-node/register packages/tcpip/test/tcp-matrix.ts` prints the Markdown tables.
 */
import { Rng, SimNic, SimSwitch, VirtualClock, localMac } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import type { CongestionControlName } from '../src/tcp/congestion';
import type { TcpConnection } from '../src/tcp/connection';
import type { TcpLayer } from '../src/tcp/tcp-layer';
import { simLinkPair } from './tcp-harness';
import { Ipv4Address, ipv4 } from '../src/wire/ipv4-address';

export const KIB = 1024;
export const MATRIX_BUFFERS = [4 * KIB, 32 * KIB, 256 * KIB];
export const MATRIX_LOSSES = [0, 0.01, 0.1, 0.3];
export const MATRIX_RTTS = [1, 10, 100];
export const MATRIX_CCS: CongestionControlName[] = ['newreno', 'cubic'];
export const MATRIX_FLOWS = [1, 8, 64];

/** Bytes each pair cell tries to move, and the virtual time it may take. */
export const PAIR_BYTES = 1 << 20;
export const PAIR_LIMIT_MS = 20_000;
/**
 * The "smoltcp method" (its tests/netsim.rs): 32 KiB buffers, 100 ms RTT, 10 MiB moved, run to
 * completion; the losses it reports. The limit only guards against a hang.
 */
export const SMOLTCP_BYTES = 10 * 1024 * 1024;
export const SMOLTCP_BUFFER = 32 * KIB;
export const SMOLTCP_RTT = 100;
export const SMOLTCP_LOSSES = [0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3];
export const SMOLTCP_CCS: CongestionControlName[] = ['newreno', 'cubic', 'none'];
export const SMOLTCP_LIMIT_MS = 20_000_000;
/** How long the flows of a bottleneck cell send (virtual ms); throughput counts what arrives by then. */
export const BOTTLENECK_MS = 5_000;

export interface PairCell {
  cc: CongestionControlName;
  bufferKiB: number;
  lossPct: number;
  rttMs: number;
  /** Payload bytes delivered in order to the receiving application. */
  delivered: number;
  /** From the first SYN to the last byte delivered (or the limit), virtual ms. */
  elapsedMs: number;
  /** delivered / elapsed, bytes per second (rounded down). */
  throughput: number;
  /** Segments the sender retransmitted (timeouts, fast retransmits, recovery). */
  retransmits: number;
  timeouts: number;
  fastRetransmits: number;
}

export interface BottleneckCell {
  cc: CongestionControlName;
  flows: number;
  bufferKiB: number;
  rttMs: number;
  rateMbit: number;
  queueKiB: number;
  /** Sum of all flows' delivered bytes / time, bytes per second. */
  throughput: number;
  /** Slowest and fastest flow, bytes per second. */
  minFlow: number;
  maxFlow: number;
  /** Jain's fairness index (sum x)^2 / (n * sum x^2), 4 decimals. */
  jain: number;
  retransmits: number;
  timeouts: number;
  /** Frames dropped at the bottleneck's full queue. */
  queueDrops: number;
}

/** Keeps `conn` writing a repeating pattern until `total` bytes are queued (then FIN). */
function pump(conn: TcpConnection, total: number): () => void {
  const chunk = Buffer.alloc(16 * KIB, 0x5a);
  let queued = 0;
  return () => {
    while (queued < total) {
      const n = conn.write(chunk, 0, Math.min(chunk.length, total - queued));
      if (n === 0) return;
      queued += n;
    }
    conn.shutdown();
  };
}

interface Sink { bytes: number; lastAt: number }

/** Accepts connections on `port` and reads everything, counting bytes per connection. */
function sinkServer(clock: VirtualClock, tcp: TcpLayer, port: number, sinks: Sink[]): void {
  const listener = tcp.openListener({ port });
  const scratch = new Uint8Array(64 * KIB);
  listener.onAcceptable = () => {
    for (;;) {
      const s = listener.accept();
      if (!s) return;
      const sink: Sink = { bytes: 0, lastAt: 0 };
      sinks.push(sink);
      const drain = () => {
        for (;;) {
          const n = s.read(scratch);
          if (n === 0) break;
          sink.bytes += n;
          sink.lastAt = clock.now();
        }
      };
      // Whatever is still unread goes first, then the close.
      s.events = { onData: drain, onEnd: () => { drain(); s.close(); } };
      drain();
    }
  };
}

function stack(clock: VirtualClock, seed: number, name: string, tcp: object): Stack {
  return new Stack({ clock, rng: new Rng(seed), name, tcp });
}

/** One flow between two Stacks over a SimLink with `loss` each way and `rtt` round trip. */
export function runPair(cc: CongestionControlName, bufferSize: number, loss: number, rtt: number, seed: number,
  bytes = PAIR_BYTES, limitMs = PAIR_LIMIT_MS): PairCell {
  const clock = new VirtualClock();
  // Fixed-size buffers: the matrix is about the configured sizes, not receive auto-tuning.
  const tcp = { congestionControl: cc, sendBufferSize: bufferSize, receiveBufferSize: bufferSize, receiveAutoTune: false };
  const { a, b } = simLinkPair(clock, { seedA: seed, seedB: seed + 1, linkSeed: seed, delay: rtt / 2, impair: { loss }, tcpA: tcp, tcpB: tcp });
  const sinks: Sink[] = [];
  sinkServer(clock, b.tcp, 5001, sinks);
  const conn = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 5001 }, {});
  const write = pump(conn, bytes);
  conn.events = { onConnect: write, onWritable: write };
  write();
  while (clock.now() < limitMs && !(sinks[0] && sinks[0].bytes >= bytes)) {
    if (!clock.step()) break;
  }
  const delivered = sinks[0]?.bytes ?? 0;
  const elapsedMs = delivered >= bytes ? sinks[0].lastAt : limitMs;
  const cell: PairCell = {
    cc, bufferKiB: bufferSize / KIB, lossPct: loss * 100, rttMs: rtt, delivered, elapsedMs,
    throughput: Math.floor((delivered * 1000) / Math.max(elapsedMs, 1)),
    retransmits: conn.retransmitCount,
    timeouts: a.tcp.stats.timeouts,
    fastRetransmits: a.tcp.stats.fastRetransmits,
  };
  a.stop(); b.stop();
  return cell;
}

/**
 * `flows` senders (one Stack each) behind a SimSwitch send to one receiver whose switch port is
 * the bottleneck: `rateMbit` with a drop-tail queue of `queueBytes`. Each sender's port adds half
 * the RTT each way.
 */
export function runBottleneck(cc: CongestionControlName, flows: number, bufferSize: number, rtt: number,
  rateMbit: number, queueBytes: number, seed: number): BottleneckCell {
  const clock = new VirtualClock();
  // Fixed-size buffers: the matrix is about the configured sizes, not receive auto-tuning.
  const tcp = { congestionControl: cc, sendBufferSize: bufferSize, receiveBufferSize: bufferSize, receiveAutoTune: false };
  const sw = new SimSwitch({ clock, seed });
  const server = stack(clock, seed, 'srv', tcp);
  const ns = new SimNic({ name: 's0', mac: localMac(1000), clock });
  const bottleneck = sw.connect(ns, { egress: { rate: rateMbit * 1e6, queueBytes, queuePackets: 100_000 } });
  const srvIp = ipv4(10, 0, 0, 1);
  server.addInterface(ns, { ip: srvIp, netmask: 16 });
  server.start();
  const sinks: Sink[] = [];
  sinkServer(clock, server.tcp, 5001, sinks);
  const clients: Stack[] = [];
  const conns: TcpConnection[] = [];
  const total = 1 << 30;
  for (let i = 0; i < flows; i++) {
    const c = stack(clock, seed + 1 + i, `c${i}`, tcp);
    const nic = new SimNic({ name: `c${i}`, mac: localMac(1 + i), clock });
    sw.connect(nic, { ingress: { delay: rtt / 2 }, egress: { delay: rtt / 2 } });
    const ip: Ipv4Address = ipv4(10, 0, 1 + (i >> 8), i & 255);
    c.addInterface(nic, { ip, netmask: 16 });
    c.arp.set('eth0', srvIp, localMac(1000));
    server.arp.set('eth0', ip, localMac(1 + i));
    c.start();
    clients.push(c);
    const conn = c.tcp.open({ host: srvIp, port: 5001 }, {});
    const write = pump(conn, total);
    conn.events = { onConnect: write, onWritable: write };
    write();
    conns.push(conn);
  }
  clock.runUntil(BOTTLENECK_MS);
  const per = conns.map((_, i) => sinks[i]?.bytes ?? 0);
  const sum = per.reduce((x, y) => x + y, 0);
  const sq = per.reduce((x, y) => x + y * y, 0);
  const secs = BOTTLENECK_MS / 1000;
  let retransmits = 0;
  let timeouts = 0;
  for (let i = 0; i < flows; i++) { retransmits += conns[i].retransmitCount; timeouts += clients[i].tcp.stats.timeouts; }
  const cell: BottleneckCell = {
    cc, flows, bufferKiB: bufferSize / KIB, rttMs: rtt, rateMbit, queueKiB: queueBytes / KIB,
    throughput: Math.floor(sum / secs),
    minFlow: Math.floor(Math.min(...per) / secs),
    maxFlow: Math.floor(Math.max(...per) / secs),
    jain: sq > 0 ? Math.round(((sum * sum) / (flows * sq)) * 10_000) / 10_000 : 0,
    retransmits, timeouts,
    queueDrops: bottleneck.egress.stats.droppedQueue,
  };
  server.stop();
  for (const c of clients) c.stop();
  return cell;
}

export interface Matrix {
  pairBytes: number;
  pairLimitMs: number;
  bottleneckMs: number;
  pairs: PairCell[];
  bottleneck: BottleneckCell[];
  smoltcpBytes: number;
  smoltcpLimitMs: number;
  /** The smoltcp-method cells (32 KiB, 100 ms, 10 MiB, to completion). */
  smoltcp: PairCell[];
}

/** The whole matrix, in a fixed order with fixed seeds. */
export function runMatrix(): Matrix {
  const pairs: PairCell[] = [];
  for (const cc of MATRIX_CCS) {
    // The same seeds for each algorithm: both see the same link.
    let seed = 100;
    for (const buf of MATRIX_BUFFERS) {
      for (const loss of MATRIX_LOSSES) {
        for (const rtt of MATRIX_RTTS) pairs.push(runPair(cc, buf, loss, rtt, seed++));
      }
    }
  }
  const bottleneck: BottleneckCell[] = [];
  for (const cc of MATRIX_CCS) {
    for (const flows of MATRIX_FLOWS) bottleneck.push(runBottleneck(cc, flows, 256 * KIB, 10, 200, 64 * KIB, 7));
  }
  const smoltcp: PairCell[] = [];
  for (const cc of SMOLTCP_CCS) {
    let seed = 500;
    for (const loss of SMOLTCP_LOSSES) {
      smoltcp.push(runPair(cc, SMOLTCP_BUFFER, loss, SMOLTCP_RTT, seed++, SMOLTCP_BYTES, SMOLTCP_LIMIT_MS));
    }
  }
  return { pairBytes: PAIR_BYTES, pairLimitMs: PAIR_LIMIT_MS, bottleneckMs: BOTTLENECK_MS, pairs, bottleneck,
    smoltcpBytes: SMOLTCP_BYTES, smoltcpLimitMs: SMOLTCP_LIMIT_MS, smoltcp };
}
