/**
 * TAP throughput: ICMP echo requests built by hand go from our TapNic into a
 * test host's kernel, which answers each one back through the TAP. A window
 * of requests stays in flight; we count round trips, frames (both ways) and
 * bits per second. The anchor is the kernel doing the same work by itself:
 * `ping -f -l <window>` to its own address inside the same namespace (loopback,
 * no TAP, no JavaScript).
 *
 * Needs root (a network namespace and a TAP device); otherwise it returns no
 * rows and says why on stderr. Only TEST-NET addresses inside the namespace.
 */
import { performance } from 'node:perf_hooks';
import { formatMac, hostSupport, MacAddress, TapNic, TestHost, writeMac } from '@pnet/nic';
import { BenchRow, BenchOptions, median, row } from './bench';

const WINDOW = 256;

function checksum(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end - 1; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if ((end - start) & 1) sum += buf[end - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Ethernet + IPv4 + ICMP echo request with `payload` bytes of data: a `payload + 42`-byte frame. */
function echoRequest(dst: MacAddress, src: MacAddress, from: string, to: string, payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + payload);
  writeMac(f, 0, dst);
  writeMac(f, 6, src);
  f[12] = 0x08; f[13] = 0x00;
  const ipLen = 20 + 8 + payload;
  f[14] = 0x45; f[16] = ipLen >> 8; f[17] = ipLen & 0xff;
  f[18] = 0x12; f[19] = 0x34; f[20] = 0x40; // DF
  f[22] = 64; f[23] = 1; // TTL, ICMP
  f.set(from.split('.').map(Number), 26);
  f.set(to.split('.').map(Number), 30);
  const ipSum = checksum(f, 14, 34);
  f[24] = ipSum >> 8; f[25] = ipSum & 0xff;
  f[34] = 8; // echo request
  f[38] = 0x70; f[39] = 0x6e; // identifier
  for (let i = 0; i < payload; i++) f[42 + i] = i & 0xff;
  const icmpSum = checksum(f, 34, f.length);
  f[36] = icmpSum >> 8; f[37] = icmpSum & 0xff;
  return f;
}

interface FloodResult { pairs: number; lost: number; seconds: number; bytes: number }

/** Keeps WINDOW echo requests in flight until `target` replies came back (or were given up as lost). */
function flood(nic: TapNic, frame: Uint8Array, target: number): Promise<FloodResult> {
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    let lost = 0;
    let bytes = 0;
    let lastReceived = -1;
    const t0 = performance.now();
    const topUp = (): void => {
      while (sent - received - lost < WINDOW && sent < target) {
        if (!nic.transmit(frame)) break;
        sent++;
        bytes += frame.length;
      }
    };
    const finish = (): void => {
      off();
      clearInterval(stall);
      resolve({ pairs: received, lost, seconds: (performance.now() - t0) / 1000, bytes });
    };
    const off = nic.onReceive(() => {
      const rx = nic.rx;
      for (let v = rx.peek(); v !== null; v = rx.peek()) {
        const d = v.data;
        // IPv4, ICMP, echo reply, our identifier
        if (d[12] === 0x08 && d[13] === 0x00 && d[23] === 1 && d[34] === 0 && d[38] === 0x70 && d[39] === 0x6e) {
          received++;
          bytes += v.length;
        }
        rx.release();
      }
      if (received + lost >= target) finish();
      else topUp();
    });
    // Replies the kernel dropped would shrink the window for good: after a quiet spell, write them off.
    const stall = setInterval(() => {
      if (received === lastReceived) {
        lost = sent - received;
        if (received + lost >= target) finish();
        else topUp();
      }
      lastReceived = received;
    }, 200);
    topUp();
  });
}

async function tapRun(worker: boolean, payload: number, target: number, runs: number): Promise<FloodResult> {
  const host = await TestHost.create(null, { label: `bench-${worker ? 'w' : 'm'}`, tap: { worker, rxSlots: 1024, txSlots: 1024 } });
  try {
    const nic = host.nic!;
    const us = nic.capabilities.mac;
    host.nsIp('neigh', 'replace', host.peerAddress, 'lladdr', formatMac(us), 'dev', host.ifname, 'nud', 'permanent');
    const frame = echoRequest(host.kernelMac(), us, host.peerAddress, host.address, payload);
    await flood(nic, frame, Math.min(2000, target)); // warm-up: JIT, caches
    const results: FloodResult[] = [];
    for (let i = 0; i < runs; i++) results.push(await flood(nic, frame, target));
    const rate = median(results.map((r) => r.pairs / r.seconds));
    const best = results.find((r) => r.pairs / r.seconds === rate) ?? results[0];
    return best;
  } finally {
    await host.close();
  }
}

async function pingAnchor(payload: number, target: number, runs: number): Promise<FloodResult> {
  const host = await TestHost.create(null, { label: 'bench-ping', link: 'veth' });
  try {
    const results: FloodResult[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await host.exec(['ping', '-n', '-q', '-f', '-l', String(WINDOW), '-c', String(target), '-s', String(payload), host.address], { check: false });
      const m = /(\d+) packets transmitted, (\d+) received.*time (\d+)ms/s.exec(r.stdout);
      if (!m) throw new Error(`ping -f gave no summary: ${r.stdout}${r.stderr}`);
      const pairs = Number(m[2]);
      const seconds = Math.max(Number(m[3]), 1) / 1000;
      results.push({ pairs, lost: Number(m[1]) - pairs, seconds, bytes: pairs * 2 * (payload + 42) });
    }
    const rate = median(results.map((r) => r.pairs / r.seconds));
    return results.find((r) => r.pairs / r.seconds === rate) ?? results[0];
  } finally {
    await host.close();
  }
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const support = hostSupport({ tap: true, commands: ['ping'] });
  if (!support.ok) {
    process.stderr.write(`bench tap: skipped, no rows: ${support.reason}\n`);
    return [];
  }
  const target = opts.quick ? 5000 : 100000;
  const runs = opts.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  const perSecond = (r: FloodResult) => (r.pairs * 2) / r.seconds;
  const gbps = (r: FloodResult) => (r.bytes * 8) / r.seconds / 1e9;

  const small = await tapRun(false, 56, target, runs);
  const smallAnchor = await pingAnchor(56, target, runs);
  const anchorName = `kernel ping -f -l ${WINDOW} over lo in the namespace`;
  rows.push(row('TAP echo round trips, 98 B frames, main thread (frames both ways)', perSecond(small), 'frames/s', anchorName, perSecond(smallAnchor)));

  const smallWorker = await tapRun(true, 56, target, runs);
  rows.push(row('TAP echo round trips, 98 B frames, worker thread (frames both ways)', perSecond(smallWorker), 'frames/s', anchorName, perSecond(smallAnchor)));

  const big = await tapRun(false, 1472, target, runs);
  const bigAnchor = await pingAnchor(1472, target, runs);
  rows.push(row('TAP echo round trips, 1514 B frames, main thread (bits both ways)', gbps(big), 'Gbit/s', anchorName, gbps(bigAnchor)));

  const bigWorker = await tapRun(true, 1472, target, runs);
  rows.push(row('TAP echo round trips, 1514 B frames, worker thread (bits both ways)', gbps(bigWorker), 'Gbit/s', anchorName, gbps(bigAnchor)));

  const lost = [small, smallWorker, big, bigWorker].reduce((s, r) => s + r.lost, 0);
  if (lost > 0) process.stderr.write(`bench tap: ${lost} echo replies were lost (kernel queue full) and written off\n`);
  return rows;
}
