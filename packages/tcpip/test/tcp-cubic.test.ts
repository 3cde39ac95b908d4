/**
 * CUBIC (RFC 9438) window growth in virtual time, driven by an ideal ACK clock (a window's worth
 * of one-MSS ACKs spread over each RTT), plus its selection through TcpConfig and slow start after
 * idle on a real connection.
 */
import test from 'ava';
import { Cubic, NewReno, congestionControlFactory } from '../src/tcp/congestion';
import { resolveTcpConfig } from '../src/tcp/config';
import { FakeNet, connectPair } from './tcp-harness';

const MSS = 1000;

/** Runs `n` RTTs of ACKs from `start`; returns the window (in segments) after each RTT and the end time. */
function rounds(cc: Cubic | NewReno, rtt: number, start: number, n: number): { w: number[]; t: number[]; end: number } {
  const w: number[] = [];
  const t: number[] = [];
  let now = start;
  for (let i = 0; i < n; i++) {
    const win = cc.cwnd;
    const acks = Math.max(1, Math.floor(win / MSS));
    for (let k = 0; k < acks; k++) cc.onAck(MSS, win, now + (rtt * k) / acks, rtt);
    now += rtt;
    w.push(cc.cwnd / MSS);
    t.push(now);
  }
  return { w, t, end: now };
}

/** A Cubic grown by slow start to about `segs` segments, then a loss at `at` ms. */
function afterLoss(segs: number, at: number, fastConvergence = true): Cubic {
  const cc = new Cubic(10, fastConvergence);
  cc.init(MSS, 0);
  while (cc.cwnd < segs * MSS) cc.onAck(MSS, cc.cwnd, 0, -1);
  cc.onCongestionEvent(cc.cwnd, at);
  return cc;
}

test('CUBIC: multiplicative decrease by beta = 0.7, W_max and K from RFC 9438', (t) => {
  const cc = afterLoss(100, 0);
  t.is(cc.name, 'cubic');
  t.is(cc.cwnd, 70 * MSS);
  t.is(cc.ssthresh, 70 * MSS);
  t.is(cc.wMax, 100);
  t.is(Math.round(cc.k * 1000) / 1000, Math.round(Math.cbrt(30 / 0.4) * 1000) / 1000);
  t.is(cc.wCubic(0), 70);
  t.is(Math.round(cc.wCubic(cc.k) * 1e9) / 1e9, 100, 'W_cubic(K) = W_max');
});

test('CUBIC: concave growth up to W_max (plateau around K), convex beyond it', (t) => {
  const cc = afterLoss(100, 0);
  const rtt = 100;
  const r = rounds(cc, rtt, 0, 80); // 8 s
  const kRound = Math.round((cc.k * 1000) / rtt); // ~42
  const inc = r.w.map((x, i) => x - (i === 0 ? 70 : r.w[i - 1]));
  // Concave: early growth is fast, slowing down as the window nears W_max.
  const early = inc.slice(0, 5).reduce((a, b) => a + b, 0);
  const nearK = inc.slice(kRound - 5, kRound).reduce((a, b) => a + b, 0);
  t.true(early > 5 * nearK, `growth slows toward W_max: first 5 RTTs +${early.toFixed(2)}, last 5 before K +${nearK.toFixed(2)}`);
  for (let i = 0; i < kRound - 3; i++) t.true(r.w[i] < 100, `below W_max before K (round ${i}: ${r.w[i]})`);
  t.true(Math.abs(r.w[kRound] - 100) < 2, `at K the window is at W_max (${r.w[kRound]})`);
  // Convex: beyond K growth accelerates.
  const after1 = inc.slice(kRound + 5, kRound + 10).reduce((a, b) => a + b, 0);
  const after2 = inc.slice(kRound + 30, kRound + 35).reduce((a, b) => a + b, 0);
  t.true(after2 > 3 * after1, `growth speeds up past W_max: +${after1.toFixed(2)} then +${after2.toFixed(2)}`);
  // The window tracks W_cubic (one RTT ahead) within a couple of segments.
  for (const i of [10, 20, kRound, 60, 75]) {
    const lo = cc.wCubic(r.t[i] / 1000) - 2;
    const hi = cc.wCubic((r.t[i] + rtt) / 1000) + 2;
    t.true(r.w[i] >= lo && r.w[i] <= hi, `round ${i}: ${r.w[i].toFixed(1)} within W_cubic(t) .. W_cubic(t + RTT) = ${lo + 2} .. ${hi - 2}`);
  }
});

test('CUBIC: fast convergence lowers W_max after a loss before the last maximum', (t) => {
  const fc = afterLoss(100, 0);
  fc.onCongestionEvent(fc.cwnd, 1000); // again at 70 segments < W_last_max 100
  t.is(Math.round(fc.wMax * 1000) / 1000, 59.5, 'W_max = cwnd * (1 + beta) / 2');
  t.is(fc.cwnd, 49 * MSS);
  const plain = afterLoss(100, 0, false);
  plain.onCongestionEvent(plain.cwnd, 1000);
  t.is(plain.wMax, 70, 'without fast convergence W_max is the window at the loss');
  t.is(plain.cwnd, 49 * MSS);
  t.true(fc.k < plain.k, 'the lower W_max is reached sooner');
});

test('CUBIC: Reno-friendly region on short RTTs (W_est wins over W_cubic)', (t) => {
  const cc = afterLoss(100, 0);
  const r = rounds(cc, 1, 0, 500); // 0.5 s at 1 ms RTT
  const w = r.w[r.w.length - 1];
  const cubic = cc.wCubic(0.5);
  t.true(cubic < 100, 'W_cubic is still below W_max');
  t.true(w > 4 * cubic, `the window (${w.toFixed(0)}) follows W_est, far above W_cubic (${cubic.toFixed(0)})`);
  t.is(cc.cwnd, Math.floor(cc.wEst * MSS), 'cwnd = W_est');
  // alpha = 3(1-beta)/(1+beta) until W_est reaches W_max (about 57 RTTs from 70), then 1 segment per RTT.
  t.is(Math.round(Cubic.ALPHA * 1e4) / 1e4, 0.5294);
  t.true(Math.abs(w - (100 + (500 - 30 / Cubic.ALPHA))) < 3, `about ${(100 + 500 - 30 / Cubic.ALPHA).toFixed(0)} segments, got ${w}`);
  // The same loss at 100 ms RTT stays in the cubic region: W_est would be far lower.
  const slow = afterLoss(100, 0);
  rounds(slow, 100, 0, 20);
  t.true(slow.wEst < slow.cwnd / MSS, 'long RTT: W_cubic above W_est');
});

test('CUBIC: timeout collapses to one segment, slow start to ssthresh, then a new epoch toward W_max', (t) => {
  const cc = afterLoss(100, 0);
  rounds(cc, 100, 0, 10);
  const before = cc.cwnd / MSS;
  cc.onRetransmitTimeout(cc.cwnd, 1000);
  t.is(cc.cwnd, MSS);
  t.is(cc.ssthresh, Math.floor(before * MSS * 0.7));
  t.true(cc.wMax < before, 'fast convergence: the timeout came below the last maximum');
  const r = rounds(cc, 100, 1000, 8);
  t.true(r.w[3] >= 2 * r.w[1], 'slow start doubles per RTT');
  t.true(r.w[7] >= cc.ssthresh / MSS && r.w[7] < cc.ssthresh / MSS + 5, 'leaves slow start at ssthresh');
  t.true(cc.k > 0, 'the new epoch aims back at W_max');
});

test('CUBIC: recovery exit and idle restart', (t) => {
  const cc = afterLoss(100, 0);
  cc.onRecoveryExit(20 * MSS, 500);
  t.is(cc.cwnd, 21 * MSS, 'min(ssthresh, flight + MSS)');
  rounds(cc, 100, 500, 30);
  t.true(cc.cwnd > 50 * MSS);
  cc.onIdleRestart(10_000);
  t.is(cc.cwnd, 14600 > 10 * MSS ? 10 * MSS : 14600, 'restart window (RFC 5681 4.1)');
  const grown = afterLoss(100, 0);
  grown.setMss(500);
  t.is(grown.cwnd, 70 * MSS, 'a new MSS keeps the window in bytes');
});

test('TcpConfig.congestionControl: newreno by default, cubic by name, a factory, bad names throw', (t) => {
  t.is(congestionControlFactory(resolveTcpConfig().congestionControl)().name, 'newreno');
  t.is(congestionControlFactory(resolveTcpConfig({ congestionControl: 'cubic' }).congestionControl)().name, 'cubic');
  t.is(congestionControlFactory(resolveTcpConfig({ congestionControl: 'newreno' }).congestionControl)().name, 'newreno');
  t.is(congestionControlFactory(resolveTcpConfig({ congestionControl: () => new Cubic(4) }).congestionControl)().name, 'cubic');
  t.throws(() => resolveTcpConfig({ congestionControl: 'vegas' as 'cubic' }), { instanceOf: TypeError });
  const net = new FakeNet(1);
  const a = net.addHost('10.0.0.1', { congestionControl: 'cubic' });
  const b = net.addHost('10.0.0.2');
  const { c, s } = connectPair(net, a, b);
  t.is(c.cc.name, 'cubic');
  t.is(s.cc.name, 'newreno');
});

for (const cc of ['newreno', 'cubic'] as const) {
  test(`${cc}: slow start after idle (RFC 5681 4.1) restarts from the initial window`, (t) => {
    const net = new FakeNet(2, { delay: 20 });
    const a = net.addHost('10.0.0.1', { congestionControl: cc });
    const b = net.addHost('10.0.0.2');
    const { c, sr } = connectPair(net, a, b);
    const data = Buffer.alloc(400_000, 1);
    let off = 0;
    const pumpIt = () => { while (off < data.length) { const n = c.write(data, off); if (n === 0) break; off += n; } };
    pumpIt();
    for (let i = 0; i < 1e6 && (sr.bytes().length < data.length || c.flightSize > 0); i++) { pumpIt(); if (!net.clock.step()) break; }
    t.is(sr.bytes().length, data.length);
    t.is(c.flightSize, 0, 'everything acknowledged');
    const grown = c.cc.cwnd;
    const iw = Math.min(10 * c.effMss, Math.max(2 * c.effMss, 14600));
    t.true(grown > 2 * iw, `the window grew (${grown})`);
    net.clock.advance(5_000); // idle far longer than the RTO
    t.is(c.cc.cwnd, grown, 'idleness alone does not touch the window');
    c.write(Buffer.alloc(1000, 2));
    t.is(c.cc.cwnd, iw, 'the first write after idle restarts from the initial window');
  });
}

test('CUBIC slow start: byte counting (a stretch ACK grows the window by all it acknowledged), and L=1 in the slow start after a timeout (RFC 3465)', (t) => {
  const cc = new Cubic(10);
  cc.init(1000, 0);
  t.is(cc.cwnd, 10000);
  cc.onAck(5000, 10000, 0, -1);
  t.is(cc.cwnd, 15000, 'five segments for an ACK of five');
  cc.onRetransmitTimeout(12000, 0);
  t.is(cc.cwnd, 1000);
  cc.onAck(2000, 1000, 10, -1);
  t.is(cc.cwnd, 2000, 'one segment for an ACK of two after the timeout');
});
