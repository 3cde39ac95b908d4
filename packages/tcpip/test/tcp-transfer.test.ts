/**
 * Bulk transfers between two endpoints in virtual time under loss, reordering, duplication and
 * corruption: 10 MB each way must arrive with identical SHA-256, both connections must close
 * cleanly, and a run must be reproducible from its seed. Over real Stacks on a SimLink, and over
 * the fake IP layer of the test harness.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { Rng, SimLink, SimNic, VirtualClock, localMac } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import type { TcpLayer } from '../src/tcp/tcp-layer';
import type { TcpConnection } from '../src/tcp/connection';
import type { TcpConfig } from '../src/tcp/config';
import { Ipv4Address, ipv4 } from '../src/wire/ipv4-address';
import { TcpSegmentView, parseTcp } from '../src/wire/tcp';
import { FakeNet, Recorder, pattern } from './tcp-harness';

const MB = 1_000_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Outcome {
  toServer: Buffer;
  toClient: Buffer;
  client: TcpConnection;
  server: TcpConnection;
  cr: Recorder;
  sr: Recorder;
  end: number;
}

/** Both sides write `size` bytes as fast as flow control allows, then half-close; both read everything. */
function bidirectional(clock: VirtualClock, client: TcpLayer, server: TcpLayer, serverAddr: Ipv4Address, size: number,
  limit = 3_600_000): Outcome & { sent1: Buffer; sent2: Buffer } {
  const d1 = pattern(11, size);
  const d2 = pattern(22, size);
  const listener = server.openListener({ port: 5001 });
  const cr = new Recorder(clock);
  const sr = new Recorder(clock);
  let s: TcpConnection | null = null;
  const pump = (conn: TcpConnection, data: Buffer, state: { off: number }) => () => {
    while (state.off < data.length) {
      const n = conn.write(data, state.off, data.length - state.off);
      if (n === 0) break;
      state.off += n;
    }
    if (state.off === data.length) conn.shutdown();
  };
  const st2 = { off: 0 };
  listener.onAcceptable = () => {
    s = listener.accept();
    if (!s) return;
    sr.attach(s);
    sr.onWritableHook = pump(s, d2, st2);
    sr.onWritableHook();
  };
  const c = client.open({ host: serverAddr, port: 5001 }, cr);
  cr.conn = c;
  const st1 = { off: 0 };
  cr.onWritableHook = pump(c, d1, st1);
  cr.onWritableHook();
  while (clock.now() < limit && !(cr.closed && sr.closed)) {
    if (!clock.step()) break;
  }
  return { toServer: sr.bytes(), toClient: cr.bytes(), client: c, server: s!, cr, sr, end: clock.now(), sent1: d1, sent2: d2 };
}

function twoStacks(seed: number, impair: object, config: Partial<TcpConfig> = {}) {
  const clock = new VirtualClock();
  const a = new Stack({ clock, rng: new Rng(seed), name: 'a', tcp: config });
  const b = new Stack({ clock, rng: new Rng(seed + 1), name: 'b', tcp: config });
  const na = new SimNic({ name: 'a0', mac: localMac(1), clock });
  const nb = new SimNic({ name: 'b0', mac: localMac(2), clock });
  const link = new SimLink({ clock, seed, delay: 5, aToB: impair, bToA: impair });
  link.connect(na, nb);
  a.addInterface(na, { ip: ipv4(192, 0, 2, 1), netmask: 24 });
  b.addInterface(nb, { ip: ipv4(192, 0, 2, 2), netmask: 24 });
  const ta = a.tcp;
  const tb = b.tcp;
  a.start();
  b.start();
  return { clock, a, b, ta, tb, link };
}

const harsh = { loss: 0.05, reorder: 0.05, reorderGap: 8, duplicate: 0.01, corrupt: 0.001, rate: 100e6, queuePackets: 300 };

test('real Stacks over a SimLink: 10 MB each way under 5% loss, 5% reordering, 1% duplication, 0.1% corruption', (t) => {
  const w = twoStacks(42, harsh);
  const r = bidirectional(w.clock, w.ta, w.tb, ipv4(192, 0, 2, 2), 10 * MB);
  t.is(r.toServer.length, 10 * MB);
  t.is(r.toClient.length, 10 * MB);
  t.is(sha(r.toServer), sha(r.sent1));
  t.is(sha(r.toClient), sha(r.sent2));
  t.is(r.cr.error, null);
  t.is(r.sr.error, null);
  t.true(r.cr.closed && r.sr.closed, 'both connections closed (one after TIME-WAIT)');
  const ls = w.link.stats;
  t.true(ls.aToB.droppedLoss + ls.bToA.droppedLoss > 1000, 'the link did drop frames');
  t.true(ls.aToB.corrupted + ls.bToA.corrupted > 0 && ls.aToB.duplicated + ls.bToA.duplicated > 0 && ls.aToB.reordered > 0);
  t.true(w.ta.stats.retransmits > 0 && w.tb.stats.retransmits > 0);
  t.true(w.ta.stats.fastRetransmits + w.tb.stats.fastRetransmits > 0, 'fast retransmit did fire');
  t.is(w.ta.stats.errors['internal-error'] ?? 0, 0);
  t.is(w.tb.stats.errors['internal-error'] ?? 0, 0);
  t.log(`virtual time ${(r.end / 1000).toFixed(1)} s; retransmits ${w.ta.stats.retransmits}/${w.tb.stats.retransmits}; ` +
    `fast ${w.ta.stats.fastRetransmits}/${w.tb.stats.fastRetransmits}; timeouts ${w.ta.stats.timeouts}/${w.tb.stats.timeouts}; ` +
    `lost ${ls.aToB.droppedLoss}/${ls.bToA.droppedLoss}; corrupted ${ls.aToB.corrupted}/${ls.bToA.corrupted}`);
});

function traceDigest(seed: number): { digest: string; end: number; ok: boolean } {
  const net = new FakeNet(seed, { delay: 3, loss: 0.05, reorder: 0.05, duplicate: 0.01, corrupt: 0.001, rate: 12500, queue: 100 });
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const h = createHash('sha256');
  const v = new TcpSegmentView();
  net.tap = (src, dst, bytes) => {
    parseTcp(bytes, 0, bytes.length, v);
    h.update(`${net.clock.now()} ${src}>${dst} ${v.flags} ${v.seq} ${v.ack} ${v.window} ${v.payloadLength}\n`);
  };
  const r = bidirectional(net.clock, a.tcp, b.tcp, b.address, MB);
  return { digest: h.digest('hex'), end: r.end, ok: sha(r.toServer) === sha(r.sent1) && sha(r.toClient) === sha(r.sent2) };
}

test('a run is reproducible from its seed (identical segment trace), and the seed matters', (t) => {
  const one = traceDigest(7);
  const two = traceDigest(7);
  const other = traceDigest(8);
  t.true(one.ok && two.ok && other.ok);
  t.is(one.digest, two.digest);
  t.is(one.end, two.end);
  t.not(one.digest, other.digest);
});

test('fake IP layer: 10 MB each way under the same impairments, with a rate-limited drop-tail queue', (t) => {
  const net = new FakeNet(3, { delay: 5, loss: 0.05, reorder: 0.05, duplicate: 0.01, corrupt: 0.001, rate: 12500, queue: 200 });
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  const r = bidirectional(net.clock, a.tcp, b.tcp, b.address, 10 * MB);
  t.is(sha(r.toServer), sha(r.sent1));
  t.is(sha(r.toClient), sha(r.sent2));
  t.true(a.checksumDrops + b.checksumDrops > 0, 'corrupted segments were caught by the checksum');
  t.true(net.stats.duplicated > 0 && net.stats.reordered > 0);
  t.is(r.cr.error, null);
  t.is(r.sr.error, null);
});

test('window scaling and timestamps between two of our stacks; large buffers fill a long fat pipe', (t) => {
  const w = twoStacks(5, { rate: 1e9 }, { receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  // 1 Gbit/s with 10 ms RTT: a bandwidth-delay product of ~1.25 MB, far above an unscaled 64 KB window.
  const r = bidirectional(w.clock, w.ta, w.tb, ipv4(192, 0, 2, 2), 8 * MB);
  t.is(sha(r.toServer), sha(r.sent1));
  t.true(r.client.tsEnabled && r.server.tsEnabled);
  t.is(r.client.rcvWscale, 7);
  t.is(r.server.sndWscale, 7);
  t.true(r.server.maxSndWnd > 65535 * 8, 'windows far above 64 KB');
});

test('loopback: a connection within one Stack over lo (MSS from lo\'s MTU)', (t) => {
  const clock = new VirtualClock();
  const st = new Stack({ clock, rng: new Rng(77), name: 'lo' });
  st.start();
  const r = bidirectional(clock, st.tcp, st.tcp, ipv4(127, 0, 0, 1), MB);
  t.is(sha(r.toServer), sha(r.sent1));
  t.is(sha(r.toClient), sha(r.sent2));
  t.is(r.client.effMss, 16384 - 40 - 12);
});
