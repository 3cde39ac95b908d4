/**
 * Bulk soak against the Linux kernel over TAP. Our Stack sits on a SimNic joined by a SimLink (real time, the heavy
 * impairment mix both ways) to a SimNic that is bridged frame for frame to the TapNic; the kernel side additionally
 * gets `tc qdisc netem` (delay, loss, reordering, duplication, corruption) when the kernel has sch_netem. Two
 * kernel peers (python3): a sink we send `size` bytes to (it answers their SHA-256) and a source that sends us
 * `size` random bytes (it prints their SHA-256), both at once.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { RealClock, Rng, SimLink, SimNic, TestHost, localMac } from '@pnet/nic';
import type { Impairments, Nic } from '@pnet/nic';
import { Stack } from '@pnet/tcpip';
import type { TcpSocket } from '@pnet/tcpip';
import { PatternStream } from './sim-soak';

const PEER_PY = String.raw`
import hashlib, os, socket, sys, threading
host, size = sys.argv[1], int(sys.argv[2])
def serve(port, fn):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1)
    c, _ = s.accept(); fn(c); c.close()
def sink(c):
    h = hashlib.sha256(); n = 0
    while True:
        d = c.recv(1 << 20)
        if not d: break
        h.update(d); n += len(d)
    c.sendall(('%d %s' % (n, h.hexdigest())).encode()); c.shutdown(socket.SHUT_WR)
    print('sink', n, h.hexdigest(), flush=True)
def source(c):
    h = hashlib.sha256(); left = size
    while left > 0:
        b = os.urandom(min(left, 1 << 16)); h.update(b); c.sendall(b); left -= len(b)
    c.shutdown(socket.SHUT_WR)
    print('source', size, h.hexdigest(), flush=True)
    while c.recv(1 << 16): pass
ts = [threading.Thread(target=serve, args=(5001, sink)), threading.Thread(target=serve, args=(5002, source))]
for t in ts: t.start()
print('listening', flush=True)
for t in ts: t.join()
`;

export function netemAvailable(): boolean {
  const ns = `pnet-netem-probe-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return false;
  try {
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']).status === 0;
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** Copies every frame each way between two NICs (a two-port bridge with no learning). */
function bridge(x: Nic, y: Nic): void {
  const pass = (from: Nic, to: Nic) => () => {
    for (let f = from.rx.peek(); f !== null; f = from.rx.peek()) {
      to.transmit(f.data, f.length);
      from.rx.release();
    }
  };
  x.onReceive(pass(x, y));
  y.onReceive(pass(y, x));
}

export interface TapSoakResult {
  netem: boolean;
  sent: number; sentHash: string; sinkReport: string;
  received: number; receivedHash: string; sourceReport: string;
  longestStallMs: number;
  connectionsAfter: number;
  tcp: { retransmits: number; timeouts: number };
  link: unknown;
}

/** Streams `size` pattern bytes into `sock` with backpressure, then ends it; returns the SHA-256. */
async function sendPattern(sock: TcpSocket, size: number): Promise<string> {
  const h = createHash('sha256');
  const src = new PatternStream(31);
  for (let off = 0; off < size;) {
    const c = src.at(off);
    const o = off % c.length;
    const n = Math.min(c.length - o, size - off);
    const chunk = Buffer.from(c.subarray(o, o + n));
    h.update(chunk);
    off += n;
    if (!sock.write(chunk)) await once(sock, 'drain');
  }
  sock.end();
  return h.digest('hex');
}

export async function runTapSoak(t: Parameters<typeof TestHost.create>[0], size: number, impairments: Impairments): Promise<TapSoakResult> {
  const clock = new RealClock();
  // The TAP poll and the clock's timers are unref'd: hold the loop open while the soak runs.
  const keepAlive = setInterval(() => {}, 1000);
  // No offload: the TAP is bridged frame for frame to an MTU-1500 SimLink, which carries neither GSO super-frames nor
  // partial checksums (a Linux bridge likewise turns off the offloads its other ports lack).
  const host = await TestHost.create(t, { label: 'tapsoak', tap: { clock, offload: false } });
  try {
    const netem = netemAvailable();
    if (netem) {
      await host.exec(['tc', 'qdisc', 'add', 'dev', host.ifname, 'root', 'netem', 'delay', '5ms', '2ms', 'loss', '2%', '25%',
        'duplicate', '1%', 'corrupt', '0.2%', 'reorder', '5%', '50%']);
    }
    const ours = new SimNic({ name: 'ours', mac: localMac(2), clock });
    const toTap = new SimNic({ name: 'totap', mac: localMac(3), clock });
    const link = new SimLink({ clock, seed: 5, aToB: impairments, bToA: impairments }).connect(ours, toTap);
    bridge(toTap, host.nic!);
    const stack = new Stack({ clock, rng: new Rng(17), name: 'tapsoak' });
    // Our MAC must be the TAP's (the kernel learns it from our ARP); the SimNic carries it through the bridge.
    stack.addInterface(ours, { ip: host.peerAddress, netmask: 24 });
    stack.start();
    const script = path.join(host.dir, 'peer.py');
    fs.writeFileSync(script, PEER_PY);
    const peer = host.spawn(['python3', script, host.address, String(size)]);
    await peer.waitForOutput(/listening/);
    await host.waitForPort(5001);
    await host.waitForPort(5002);

    let last = Date.now(); // wall clock here: this side runs in real time, the stall is measured in real ms
    let longest = 0;
    const progress = () => { const now = Date.now(); longest = Math.max(longest, now - last); last = now; };

    const out = stack.tcp.connect({ host: host.address, port: 5001 });
    const inn = stack.tcp.connect({ host: host.address, port: 5002 });
    const rh = createHash('sha256');
    let received = 0;
    let sinkReport = '';
    out.on('data', (d: Buffer) => { sinkReport += d.toString(); });
    inn.on('data', (d: Buffer) => { rh.update(d); received += d.length; progress(); });
    const inDone = new Promise<void>((res, rej) => { inn.on('end', () => { inn.end(); res(); }); inn.on('error', rej); });
    const outDone = new Promise<void>((res, rej) => { out.on('end', () => res()); out.on('error', rej); });
    await once(out, 'connect');
    const sentHash = await sendPattern(out, size);
    await Promise.all([inDone, outDone]);
    await peer.exited;
    const sourceReport = peer.output;
    const stats = { retransmits: stack.tcp.stats.retransmits, timeouts: stack.tcp.stats.timeouts };
    // Wait for our side to finish closing (FIN handshakes; TIME-WAIT is on the side that closed first).
    for (let i = 0; i < 200 && stack.tcp.connections().some((c) => c.state !== 'TIME-WAIT'); i++) await new Promise((r) => setTimeout(r, 50));
    const connectionsAfter = stack.tcp.connections().filter((c) => c.state !== 'TIME-WAIT').length;
    stack.close();
    link.disconnect();
    clock.cancelAll();
    return {
      netem, sent: size, sentHash, sinkReport, received, receivedHash: rh.digest('hex'), sourceReport,
      longestStallMs: longest, connectionsAfter, tcp: stats, link: link.stats,
    };
  } finally {
    clearInterval(keepAlive);
    await host.close();
  }
}
