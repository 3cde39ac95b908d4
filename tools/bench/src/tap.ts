/**
 * TAP rows (root only; otherwise no rows and the reason on stderr).
 *
 * 1. TCP throughput of our stack against the Linux kernel over TAP, each way:
 *    a pnet Stack (RealClock, TapNic in the main thread) connects to a small
 *    python3 sink / source in a test namespace (192.0.2.0/24, MTU 1500) and
 *    moves `size` bytes. Anchor: the kernel against itself, iperf3 over a veth
 *    pair between two test namespaces (same MTU), in the same run. Twice: with
 *    the TapNic's offload mode (virtio_net_hdr, TSO/GSO super-frames of up to
 *    64 KiB across the fd, partial checksums; the wire MTU stays 1500), and plain
 *    (one 1514-byte frame per read/write, every checksum summed by us).
 * 2. ICMP echo requests built by hand go from our TapNic into a
 * test host's kernel, which answers each one back through the TAP. A window
 * of requests stays in flight; we count round trips, frames (both ways) and
 * bits per second. The anchor is the kernel doing the same work by itself:
 * `ping -f -l <window>` to its own address inside the same namespace (loopback,
 * no TAP, no JavaScript).
 *
 * Needs root (a network namespace and a TAP device); otherwise it returns no
 * rows and says why on stderr. Only TEST-NET addresses inside the namespace.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { formatMac, hostSupport, KERNEL_PEER_DONE, kernelPeerArgv, MacAddress, RealClock, Rng, TapNic, TestHost, writeKernelPeer, writeMac } from '@pnet/nic';
import { Stack } from '@pnet/tcpip';
import { BenchRow, BenchOptions, median, row } from './bench';
import { since } from './world';

const WINDOW = 256;
const TCP_BUFFER = 4 << 20;

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

/** Bytes per second of one transfer between our stack (over TAP) and the kernel: `up` = we send. */
export async function tapTcp(up: boolean, size: number, runs: number, offload = false, autoTuned = false): Promise<number[]> {
  const clock = new RealClock();
  // Offload slots hold 64 KiB super-frames: its default 256 of them (16 MiB) instead of 4096 small ones.
  const tap = offload ? { clock, offload } : { clock, offload, rxSlots: 4096 };
  const host = await TestHost.create(null, { label: `bench-tcp-${up ? 'up' : 'down'}${offload ? '-tso' : ''}`, tap });
  // 4 MiB socket buffers, Linux's autotuning ceiling (tcp_wmem): 256 KiB would cap a window at a few super-frames.
  // `autoTuned`: the defaults instead, a 256 KiB receive buffer that auto-tunes up to 4 MiB (receiving rows only).
  const tcp = autoTuned ? {} : { sendBufferSize: TCP_BUFFER, receiveBufferSize: TCP_BUFFER };
  const stack = new Stack({ clock, rng: new Rng(7), name: 'bench', tcp });
  try {
    stack.addInterface(host.nic!, { ip: host.peerAddress, netmask: 24 });
    stack.start();
    const script = writeKernelPeer(host.dir);
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    const rates: number[] = [];
    let rcvBuf = 0;
    for (let r = 0; r < runs + 1; r++) { // the first run warms up (JIT, ARP)
      const port = 5100 + r;
      // No hashing: the peer's CPU would be measured, not ours.
      const peer = host.spawn(kernelPeerArgv(script, { mode: up ? 'sink' : 'source', host: host.address, port, size, hash: false }));
      await peer.waitForOutput(/listening/);
      const t0 = process.hrtime.bigint();
      const sock = stack.tcp.connect({ host: host.address, port });
      let got = 0;
      sock.on('data', (d: Buffer) => { got += d.length; });
      const closed = once(sock, 'close');
      if (up) {
        for (let off = 0; off < size; off += chunk.length) {
          if (!sock.write(off + chunk.length <= size ? chunk : chunk.subarray(0, size - off))) await once(sock, 'drain');
        }
        sock.end();
        await closed; // the sink closes after our FIN: everything arrived
      } else {
        await once(sock, 'end');
        rcvBuf = Math.max(rcvBuf, sock.connection?.receiveBuffer.maxCapacity ?? 0);
        sock.end();
        await closed;
      }
      const s = since(t0);
      const m = await peer.waitForOutput(KERNEL_PEER_DONE);
      if (Number(m[1]) !== size || (!up && got !== size)) throw new Error(`tap tcp: moved ${up ? m[1] : got} of ${size} bytes`);
      if (r > 0) rates.push(size / s);
    }
    const st = stack.tcp.stats;
    const gso = offload ? `, super-frames sent ${host.nic!.offloadCounters.gsoTxFrames} received ${host.nic!.offloadCounters.gsoRxFrames}` : '';
    process.stderr.write(`bench tap tcp ${up ? 'pnet -> kernel' : 'kernel -> pnet'}${offload ? ' (offload)' : ''}${autoTuned ? ' (default buffers, auto-tuned)' : ''}${gso}${up ? '' : `, receive buffer ${rcvBuf >> 10} KiB`}: retransmits ${st.retransmits}, fast ${st.fastRetransmits}, ` +
      `timeouts ${st.timeouts}, dup ACKs ${st.dupAcks}, out-of-order ${st.oooSegments}, NIC rx drops ${host.nic!.counters.rxDrops}, tx drops ${host.nic!.counters.txDrops}\n`);
    return rates;
  } finally {
    stack.close();
    await host.close();
  }
}

/** iperf3 between two namespaces joined by a veth pair (kernel to kernel, MTU 1500): bits per second, each run. */
async function iperfVeth(reverse: boolean, seconds: number, runs: number): Promise<number[]> {
  const a = await TestHost.create(null, { label: 'bench-iperf-s', link: 'veth', mtu: 1500 });
  const b = await TestHost.create(null, { label: 'bench-iperf-c', link: 'none' });
  try {
    const outer = a.outerIfname!;
    // The veth's other end goes into the client's namespace, addressed there (nothing is configured outside namespaces).
    execFileSync('ip', ['link', 'set', 'dev', outer, 'netns', b.ns]);
    b.nsIp('link', 'set', 'dev', outer, 'mtu', '1500');
    b.nsIp('addr', 'add', `${a.peerAddress}/24`, 'dev', outer);
    b.nsIp('link', 'set', 'dev', outer, 'up');
    const bps: number[] = [];
    for (let r = 0; r < runs; r++) {
      const server = a.spawn(['iperf3', '-s', '-1', '-B', a.address, '-p', String(5201 + r)]);
      await server.waitForPort(5201 + r);
      const res = await b.exec(['iperf3', '-c', a.address, '-p', String(5201 + r), '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])]);
      const j = JSON.parse(res.stdout) as { end: { sum_received: { bits_per_second: number } } };
      bps.push(j.end.sum_received.bits_per_second);
      await server.exited;
    }
    return bps;
  } finally {
    await b.close();
    await a.close();
  }
}

async function tcpRows(opts: BenchOptions): Promise<BenchRow[]> {
  const size = opts.tiny ? 1 << 20 : opts.quick ? 32 << 20 : 256 << 20;
  const runs = opts.tiny ? 1 : 3;
  const seconds = opts.tiny || opts.quick ? 1 : 3;
  const mb = `${size / (1 << 20)} MiB`;
  const rows: BenchRow[] = [];
  for (const up of [true, false]) {
    const anchor = median(await iperfVeth(!up ? true : false, seconds, runs)) / 1e9;
    const anchorName = `iperf3 kernel -> kernel over veth${up ? '' : ' (-R)'}, ${seconds} s`;
    const dir = up ? 'pnet -> kernel' : 'kernel -> pnet';
    const tso = median(await tapTcp(up, size, runs, true)) * 8 / 1e9;
    rows.push(row(`TCP over TAP, ${dir}, ${mb}, TSO/GSO, wire MTU 1500, 4 MiB buffers`, tso, 'Gbit/s', anchorName, anchor));
    const plain = median(await tapTcp(up, size, runs)) * 8 / 1e9;
    rows.push(row(`TCP over TAP, ${dir}, ${mb}, no offload, MTU 1500, 4 MiB buffers`, plain, 'Gbit/s', anchorName, anchor));
    if (!up) {
      // Beside the hand-set 4 MiB: the default 256 KiB receive buffer, grown by auto-tuning.
      const tsoAuto = median(await tapTcp(up, size, runs, true, true)) * 8 / 1e9;
      rows.push(row(`TCP over TAP, ${dir}, ${mb}, TSO/GSO, wire MTU 1500, default buffers (receive auto-tuned)`, tsoAuto, 'Gbit/s', anchorName, anchor));
      const plainAuto = median(await tapTcp(up, size, runs, false, true)) * 8 / 1e9;
      rows.push(row(`TCP over TAP, ${dir}, ${mb}, no offload, MTU 1500, default buffers (receive auto-tuned)`, plainAuto, 'Gbit/s', anchorName, anchor));
    }
  }
  return rows;
}

async function tapRun(worker: boolean, payload: number, target: number, runs: number): Promise<FloodResult> {
  const host = await TestHost.create(null, { label: `bench-${worker ? 'w' : 'm'}`, tap: { worker, offload: false, rxSlots: 1024, txSlots: 1024 } });
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
  const support = hostSupport({ tap: true, commands: ['ping', 'python3', 'iperf3'] });
  if (!support.ok) {
    process.stderr.write(`bench tap: skipped, no rows: ${support.reason}\n`);
    return [];
  }
  // The TAP, the RealClock's timers and the harness's port polls are unref'd: keep Node running while we wait on them.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await tapRows(opts);
  } finally {
    clearInterval(keepAlive);
  }
}

async function tapRows(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = await tcpRows(opts);
  const target = opts.tiny ? 500 : opts.quick ? 5000 : 100000;
  const runs = opts.quick || opts.tiny ? 1 : 3;
  const perSecond = (r: FloodResult) => (r.pairs * 2) / r.seconds;
  const gbps = (r: FloodResult) => (r.bytes * 8) / r.seconds / 1e9;

  const small = await tapRun(false, 56, target, runs);
  const smallAnchor = await pingAnchor(56, target, runs);
  const anchorName = `kernel ping -f -l ${WINDOW} over lo in the namespace`;
  rows.push(row('TAP echo round trips, 98 B frames, main thread (frames both ways)', perSecond(small), 'frames/s', anchorName, perSecond(smallAnchor)));
  if (opts.tiny) return rows; // the harness test: one row of each kind is enough to show the code works

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
