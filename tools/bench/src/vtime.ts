/**
 * Virtual time: how many simulated seconds a wall-clock second buys, for a
 * bulk transfer over a 1 Gbit/s link with 50 ms RTT and 1 % i.i.d. loss in
 * both directions (two Stacks on a SimLink, bare TcpConnections driven by
 * VirtualClock.step, NewReno, 4 MiB buffers). The anchor is real time: the same
 * transfer through netem or a real network takes one second per second.
 */
import type { TcpConnection, TcpConnectionEvents } from '@pnet/tcpip';
import { SERVER_IP, twoStacks, since } from './world';
import { BenchOptions, BenchRow, median, row } from './bench';

export interface VtimeResult { simulatedSeconds: number; wallSeconds: number; retransmits: number; goodputMbps: number }

export function transfer(size: number, seed = 1): VtimeResult {
  const w = twoStacks({ delay: 25, impair: { rate: 1e9, loss: 0.01 }, seed,
    tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } });
  const clock = w.clock;
  const block = Buffer.alloc(64 * 1024, 0x33);
  const scratch = Buffer.alloc(256 * 1024);
  let sent = 0;
  let received = 0;
  let client: TcpConnection | null = null;
  let server: TcpConnection | null = null;
  let pumpQueued = false;
  let readQueued = false;
  const pump = (): void => {
    pumpQueued = false;
    while (sent < size) {
      const n = client!.write(block, 0, Math.min(block.length, size - sent));
      if (n === 0) break;
      sent += n;
    }
    if (sent === size) client!.shutdown();
  };
  const drain = (): void => {
    readQueued = false;
    for (let n = server!.read(scratch); n > 0; n = server!.read(scratch)) received += n;
  };
  // Events come from inside segment processing: act on them from a clock event, as an application would.
  const clientEvents: TcpConnectionEvents = {
    onConnect: () => pump(),
    onWritable: () => { if (!pumpQueued) { pumpQueued = true; clock.schedule(clock.now(), pump); } },
  };
  const serverEvents: TcpConnectionEvents = {
    onData: () => { if (!readQueued) { readQueued = true; clock.schedule(clock.now(), drain); } },
  };
  const listener = w.server.tcp.openListener({ port: 5001 });
  listener.onAcceptable = () => { server = listener.accept(); if (server) server.events = serverEvents; };
  const t0 = process.hrtime.bigint();
  const start = clock.now();
  client = w.client.tcp.open({ host: SERVER_IP, port: 5001 }, clientEvents);
  while (received < size && clock.step()) { /* run the simulation */ }
  const wallSeconds = since(t0);
  const simulatedSeconds = (clock.now() - start) / 1000;
  const retransmits = w.client.tcp.stats.retransmits;
  w.close();
  if (received !== size) throw new Error(`vtime: received ${received} of ${size} bytes`);
  return { simulatedSeconds, wallSeconds, retransmits, goodputMbps: (size * 8) / simulatedSeconds / 1e6 };
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const size = opts.tiny ? 1 << 20 : opts.quick ? 64 << 20 : 1 << 30;
  const runs = opts.tiny || opts.quick ? 1 : 3;
  if (!opts.tiny) transfer(4 << 20, 99); // warm-up (JIT)
  const results: VtimeResult[] = [];
  for (let r = 0; r < runs; r++) results.push(transfer(size, r + 1));
  const ratio = median(results.map((x) => x.simulatedSeconds / x.wallSeconds));
  const label = size >= 1 << 30 ? `${size / (1 << 30)} GiB` : `${size / (1 << 20)} MiB${opts.quick ? ' (--quick: smaller than 1 GiB)' : ''}`;
  const r0 = results[0];
  process.stderr.write(`bench vtime: ${label}: ${r0.simulatedSeconds.toFixed(0)} simulated s in ${r0.wallSeconds.toFixed(1)} wall s, ` +
    `goodput ${r0.goodputMbps.toFixed(1)} Mbit/s, ${r0.retransmits} retransmits\n`);
  return [row(`virtual time: ${label} over 1 Gbit/s, 50 ms RTT, 1 % loss`, ratio, 'sim s/wall s', 'real time (netem, a real link)', 1)];
}
