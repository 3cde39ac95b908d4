/**
 * Loss recovery beyond three duplicate ACKs, and the 'none' congestion controller, in
 * segment-level scripts (packetdrill style): each test shows one mechanism firing where the
 * stack would otherwise wait or shrink its window.
 */
import test from 'ava';
import { TcpScript } from './tcp-harness';

const M = 1460;
const plain = { timestamps: false, windowScaling: false, delayedAck: 0 };

test('timestamps: an ACK echoing a timestamp from before the last timeout gives no RTT sample (it would include the RTO)', (t) => {
  const s = new TcpScript({ windowScaling: false, delayedAck: 0 });
  const c = s.acceptOne({ ts: true, rtt: 50 });
  const srtt = c.rtt.srtt;
  t.true(srtt > 0);
  c.write(Buffer.alloc(100, 1));
  const orig = s.next()!;
  t.is(orig.len, 100);
  s.advance(c.rtt.rto);
  const rtx = s.next()!;
  t.like(rtx, { seq: 1, len: 100 }, 'the timeout retransmits');
  const backedOff = c.rtt.rto;
  s.advance(50);
  // The original arrived, its ACK was lost; the ACK of the duplicate echoes the original's TSval.
  s.inject({ flags: '.', seq: 1, ack: 101, ts: [200, orig.ts![0]] });
  t.is(c.flightSize, 0);
  t.is(c.rtt.srtt, srtt, 'no sample from an echo older than the timeout');
  t.is(c.rtt.rto, backedOff, 'the backed-off RTO stays until a valid sample (RFC 6298 5.7)');
  c.write(Buffer.alloc(100, 2));
  const next = s.next()!;
  s.advance(80);
  s.inject({ flags: '.', seq: 1, ack: 201, ts: [201, next.ts![0]] });
  t.not(c.rtt.srtt, srtt, 'an echo from after the timeout is a valid sample');
  t.true(c.rtt.rto < backedOff);
});

/**
 * A window of 20 segments is in flight; its first segment is lost, three SACKed duplicate ACKs
 * bring the fast retransmit, then one ACK covers everything. Returns what the sender did.
 */
function lossThenFullAck(cc: 'newreno' | 'none') {
  const s = new TcpScript({ ...plain, congestionControl: cc });
  const c = s.acceptOne({ win: 20 * M, sack: true });
  c.write(Buffer.alloc(60 * M, 7));
  const first = s.out.filter((x) => x.len > 0).length;
  s.clear();
  const base = 1 + first * M;
  // One ACK per segment (slow start grows NewReno's cwnd to the peer's window).
  for (let i = 1; i <= first; i++) s.inject({ flags: '.', seq: 1, ack: 1 + i * M, win: 20 * M });
  const flight = c.flightSize / M;
  s.clear();
  for (let k = 2; k <= 4; k++) s.inject({ flags: '.', seq: 1, ack: base, win: 20 * M, sack: [[base + M, base + k * M]] });
  const retransmitted = s.out.some((x) => x.len > 0 && x.seq === base);
  const cwndInRecovery = c.cc.cwnd;
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: base + flight * M, win: 20 * M });
  const after = s.out.filter((x) => x.len > 0).length;
  return { first, flight, retransmitted, cwndInRecovery, after, inRecovery: c.inRecovery, timeouts: s.tcp.stats.timeouts };
}

test("'none' congestion control: the window stays full after a loss, where NewReno halves it", (t) => {
  const none = lossThenFullAck('none');
  const reno = lossThenFullAck('newreno');
  t.is(none.first, 20, "'none' fills the peer's window at once (no initial window)");
  t.is(reno.first, 10, 'NewReno starts with 10 segments (RFC 6928)');
  t.is(none.flight, 20);
  t.is(reno.flight, 20);
  t.true(none.retransmitted, "'none' still fast-retransmits the lost segment");
  t.true(reno.retransmitted);
  t.is(reno.cwndInRecovery, 10 * M, 'NewReno halves cwnd');
  t.true(none.cwndInRecovery >= 0x7fffffff, "'none' does not");
  t.false(none.inRecovery);
  t.false(reno.inRecovery);
  t.is(none.after, 20, "after recovery 'none' refills the whole window");
  t.true(reno.after <= 11, `NewReno sends about cwnd = ssthresh = 10 segments (sent ${reno.after})`);
  t.is(none.timeouts + reno.timeouts, 0);
});

test("'none' congestion control: a timeout still retransmits, and the window is not collapsed to one segment", (t) => {
  const s = new TcpScript({ ...plain, congestionControl: 'none' });
  const c = s.acceptOne({ win: 8 * M, sack: true });
  c.write(Buffer.alloc(8 * M, 7));
  t.is(s.out.length, 8);
  s.clear();
  // The flight went out with nothing outstanding: the tail loss probe (the last segment, 2 SRTT later) comes first.
  s.advance(c.rtt.rto);
  t.like(s.next(), { seq: 1 + 7 * M, len: M }, 'the tail loss probe');
  t.is(s.out.length, 0);
  t.is(s.tcp.stats.timeouts, 0);
  s.advance(c.rtt.rto);
  t.like(s.next(), { seq: 1, len: M }, 'the timeout retransmits SND.UNA');
  t.is(s.tcp.stats.timeouts, 1);
  t.is(s.out.length, 7, 'go-back-N resends the rest of the window at once (no cwnd of one segment)');
});

test('early retransmit (RFC 5827): with two segments in flight and nothing more allowed out, one duplicate ACK retransmits', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 2 * M, sack: true });
  c.write(Buffer.alloc(3 * M, 5));
  t.is(s.out.length, 2, "the peer's window holds two segments");
  s.clear();
  s.advance(5);
  // The first segment is lost; the second brings one duplicate ACK (SACKing it).
  s.inject({ flags: '.', seq: 1, ack: 1, win: 2 * M, sack: [[1 + M, 1 + 2 * M]] });
  t.like(s.next(), { seq: 1, len: M }, 'retransmitted on the first duplicate ACK, not after an RTO');
  t.is(s.tcp.stats.fastRetransmits, 1);
  t.true(c.inRecovery);
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1 + 2 * M, win: 2 * M });
  t.false(c.inRecovery);
  t.like(s.next(), { seq: 1 + 2 * M, len: M }, 'the rest follows');
  t.is(s.tcp.stats.timeouts, 0);
});

test('early retransmit stays off while new data can still clock out duplicate ACKs (DupThresh stays 3)', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 20 * M, sack: true });
  c.write(Buffer.alloc(2 * M, 5));
  t.is(s.out.length, 2);
  c.write(Buffer.alloc(10 * M, 5)); // more data, but Nagle/cwnd are not the limit: it went out
  t.true(s.out.length > 2);
  const sent = s.out.filter((x) => x.len > 0).length;
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1, win: 20 * M, sack: [[1 + M, 1 + 2 * M]] });
  t.false(s.out.some((x) => x.len > 0 && x.seq === 1), `one duplicate ACK is not enough with ${sent} segments in flight`);
  t.false(c.inRecovery);
});

test("a partial segment fills the peer's window to its edge, one at a time (Minshall)", (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 4 * M + 1000, sack: true });
  c.write(Buffer.alloc(20 * M, 9));
  t.deepEqual(s.out.map((x) => x.len), [M, M, M, M, 1000], 'four full segments and the 1000 bytes left to the edge');
  s.clear();
  // One segment acknowledged, the edge moves by 960: a second partial waits while the first is unacknowledged.
  s.inject({ flags: '.', seq: 1, ack: 1 + M, win: 4 * M + 500 });
  t.deepEqual(s.out.map((x) => x.len), [], 'no second small segment while one is outstanding');
  s.inject({ flags: '.', seq: 1, ack: 1 + 4 * M + 1000, win: 4 * M + 500 });
  t.deepEqual(s.out.map((x) => x.len), [M, M, M, M, 500], 'the small one acknowledged: the window is filled again');
  t.is(c.flightSize, 4 * M + 500);
});

test('no sliver: a window edge a few bytes past the last full segment waits (SWS avoidance)', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 4 * M + 100, sack: true });
  c.write(Buffer.alloc(20 * M, 9));
  t.deepEqual(s.out.map((x) => x.len), [M, M, M, M]);
});

test('tail loss probe (RFC 8985): the last segments lost, the last one is sent again after 2 SRTT, before the RTO', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true, rtt: 50 });
  t.is(c.rtt.srtt, 50);
  c.write(Buffer.alloc(4 * M, 1));
  t.is(s.out.length, 4);
  s.clear();
  s.advance(50);
  // Segments 3 and 4 are lost: only the first two are acknowledged, no duplicate ACK follows.
  s.inject({ flags: '.', seq: 1, ack: 1 + 2 * M });
  t.is(s.out.length, 0);
  t.true(c.rtt.rto >= 200);
  s.advance(99);
  t.is(s.out.length, 0);
  s.advance(1);
  t.like(s.next(), { seq: 1 + 3 * M, len: M }, 'the probe: the last segment again, at 2 SRTT = 100 ms');
  t.is(c.tlpCount, 1);
  t.is(s.tcp.stats.timeouts, 0);
  // Its ACK SACKs segment 4; segment 3 is found lost without a timeout.
  s.advance(50);
  s.inject({ flags: '.', seq: 1, ack: 1 + 2 * M, sack: [[1 + 3 * M, 1 + 4 * M]] });
  t.like(s.next(), { seq: 1 + 2 * M, len: M }, 'the SACK of the probe is a duplicate ACK with two segments out: early retransmit');
  t.is(s.tcp.stats.timeouts, 0);
  s.inject({ flags: '.', seq: 1, ack: 1 + 4 * M });
  t.is(c.flightSize, 0);
  t.is(s.tcp.stats.timeouts, 0, 'the tail was repaired without a retransmission timeout');
});

test('SACKed data above a hole but too few duplicate ACKs (ACKs lost): recovery starts SRTT + SRTT/4 later, not at the RTO', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true, rtt: 40 });
  c.write(Buffer.alloc(8 * M, 1));
  t.is(s.out.length, 8);
  s.clear();
  s.advance(40);
  // Segment 3 lost; of the ACKs that followed only one arrived, SACKing segments 4-5.
  s.inject({ flags: '.', seq: 1, ack: 1 + 2 * M, sack: [[1 + 3 * M, 1 + 5 * M]] });
  t.false(c.inRecovery);
  t.is(s.out.length, 0);
  s.advance(49);
  t.is(s.out.length, 0);
  s.advance(1);
  t.like(s.next(), { seq: 1 + 2 * M, len: M }, 'the hole is retransmitted at 1.25 SRTT = 50 ms');
  t.true(c.inRecovery);
  t.is(c.rackRecoveries, 1);
  t.is(s.tcp.stats.fastRetransmits, 1);
  t.is(s.tcp.stats.timeouts, 0);
});

test("'none' after a timeout resends only what the peer has not SACKed (RFC 6675 5.1: the scoreboard is kept)", (t) => {
  const s = new TcpScript({ ...plain, congestionControl: 'none' });
  const c = s.acceptOne({ win: 8 * M, sack: true });
  c.write(Buffer.alloc(8 * M, 7));
  t.is(s.out.length, 8);
  s.clear();
  // Only one ACK comes back, SACKing segments 2-3 (one duplicate ACK: no fast retransmit).
  s.inject({ flags: '.', seq: 1, ack: 1, win: 8 * M, sack: [[1 + 2 * M, 1 + 4 * M]] });
  t.is(s.out.length, 0);
  // The probe timer starts recovery first (segments 0 and 1 again); those are lost too, and the
  // output of the step that times out is what the timeout resends.
  for (let i = 0; i < 5000 && s.tcp.stats.timeouts === 0; i++) { s.clear(); s.advance(1); }
  t.is(s.tcp.stats.timeouts, 1);
  const resent = s.out.filter((x) => x.len > 0).map((x) => (x.seq - 1) / M);
  t.deepEqual(resent, [0, 1, 4, 5, 6, 7], 'the holes below and above the SACKed block, not segments 2 and 3');
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1 + 8 * M, win: 8 * M });
  t.is(c.flightSize, 0);
  t.false(c.inRecovery);
});

test('a lost retransmission (RFC 8985 6): data sent after it is SACKed, so it is sent again in the same recovery, not at the RTO', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true, rtt: 40 });
  c.write(Buffer.alloc(40 * M, 3));
  const n = s.out.length;
  t.true(n >= 8);
  s.clear();
  s.advance(40);
  // Segment 0 lost: three duplicate ACKs SACKing segments 1-3 start recovery.
  for (let k = 2; k <= 4; k++) s.inject({ flags: '.', seq: 1, ack: 1, sack: [[1 + M, 1 + k * M]] });
  t.true(c.inRecovery);
  t.is(s.out.filter((x) => x.seq === 1).length, 1, 'fast retransmit of segment 0');
  s.clear();
  // The rest of the flight is SACKed: the window lets new data out, above the retransmission.
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [[1 + M, 1 + n * M]] });
  const fresh = s.out.filter((x) => x.len > 0 && x.seq >= 1 + n * M);
  t.true(fresh.length > 0, 'new data went out after the retransmission');
  t.false(s.out.some((x) => x.seq === 1), 'segment 0 is not resent while nothing sent after it has arrived');
  s.clear();
  // The retransmission is lost too: the first new segment sent after it is SACKed.
  s.advance(40);
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [[1 + M, fresh[0].seq + M]] });
  t.like(s.out.find((x) => x.seq === 1), { seq: 1, len: M }, 'segment 0 sent a third time, without waiting for the RTO');
  t.is(c.lostRetransmits, 1);
  t.is(s.tcp.stats.timeouts, 0);
  t.is(s.tcp.stats.fastRetransmits, 1, 'one congestion event for the recovery');
  t.true(c.inRecovery);
});

test('a lost retransmission with nothing sent after it: sent again SRTT + SRTT/4 after it, before the RTO, same recovery', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true, rtt: 40 });
  c.write(Buffer.alloc(8 * M, 3)); // all of it goes out: nothing new can follow the retransmission
  t.is(s.out.length, 8);
  s.clear();
  s.advance(40);
  for (let k = 2; k <= 4; k++) s.inject({ flags: '.', seq: 1, ack: 1, sack: [[1 + M, 1 + k * M]] });
  t.deepEqual(s.out.map((x) => x.seq), [1], 'fast retransmit of segment 0');
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [[1 + M, 1 + 8 * M]] });
  t.is(s.out.length, 0);
  t.true(c.rtt.rto >= 200);
  // The retransmission is lost: no ACK comes. 1.25 x SRTT (40 ms) = 50 ms after it, it goes again.
  s.advance(49);
  t.is(s.out.length, 0);
  s.advance(1);
  t.deepEqual(s.out.map((x) => x.seq), [1], 'segment 0 sent a third time');
  t.is(c.recoveryProbes, 1);
  t.is(s.tcp.stats.timeouts, 0);
  t.is(s.tcp.stats.fastRetransmits, 1, 'one congestion event for the recovery');
  t.true(c.inRecovery);
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1 + 8 * M });
  t.false(c.inRecovery);
  t.is(c.flightSize, 0);
});

test('a single duplicate ACK SACKing data above a hole (the others lost) arms the probe timer: recovery 1.25 SRTT later', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true, rtt: 40 });
  c.write(Buffer.alloc(8 * M, 1));
  t.is(s.out.length, 8);
  s.clear();
  s.advance(10);
  // Segment 0 lost; of the duplicate ACKs that followed only one arrived, SACKing segments 1-2.
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [[1 + M, 1 + 3 * M]] });
  t.false(c.inRecovery);
  s.clear();
  s.advance(49);
  t.false(s.out.some((x) => x.seq === 1));
  s.advance(1);
  t.true(s.out.some((x) => x.seq === 1 && x.len === M), 'the hole is retransmitted 50 ms after that ACK');
  t.true(c.inRecovery);
  t.is(c.rackRecoveries, 1);
  t.is(s.tcp.stats.timeouts, 0);
});

test('a flight sent with nothing outstanding arms the tail loss probe, not only the RTO', (t) => {
  const s = new TcpScript({ windowScaling: false, timestamps: false, sack: true });
  const c = s.acceptOne({ mss: 1000, sack: true, rtt: 10 });
  t.is(c.rtt.samples, 1);
  const t0 = s.now;
  c.write(Buffer.alloc(3000, 1));
  t.is(s.out.length, 3);
  s.clear();
  // The probe (RFC 8985: PTO = 2 SRTT = 20 ms) resends the last segment long before the 200 ms RTO.
  s.advance(25);
  const probe = s.next();
  t.like(probe, { seq: 2001, len: 1000 });
  t.is(probe!.time, t0 + 20);
});
