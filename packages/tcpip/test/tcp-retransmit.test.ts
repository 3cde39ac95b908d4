/**
 * Retransmission (RFC 6298: RTO, Karn, backoff, min/max), connection and user timeouts, and
 * fast retransmit / NewReno recovery (RFC 5681, RFC 6582) — packetdrill tcp/fast_retransmit style.
 */
import test from 'ava';
import { TcpScript } from './tcp-harness';

const plain = { timestamps: false, windowScaling: false };

test('SYN retransmits with exponential backoff, then the connect fails with ETIMEDOUT', (t) => {
  const s = new TcpScript({ ...plain, synRetries: 3 });
  let err: string | null | undefined;
  const c = s.tcp.open({ host: '192.0.2.2', port: 40000, localPort: 8080 }, { onClose: (e) => { err = e ? e.code : null; } });
  s.advance(60_000);
  t.deepEqual(s.out.map((x) => [x.flags, x.seq, x.time]), [['S', 0, 0], ['S', 0, 1000], ['S', 0, 3000], ['S', 0, 7000]]);
  t.is(c.state, 'CLOSED');
  t.is(err, 'ETIMEDOUT');
});

test('data RTO: exponential backoff clamped to maxRto, ETIMEDOUT after maxRetries; the RTO goes back to SND.UNA', (t) => {
  const s = new TcpScript({ ...plain, minRto: 200, maxRto: 1000, maxRetries: 5 });
  const c = s.acceptOne();
  let err: string | null | undefined;
  c.events = { onClose: (e) => { err = e ? e.code : null; } };
  t.is(c.rtt.rto, 200, 'handshake RTT 0 in virtual time: min RTO');
  c.write(Buffer.alloc(3000, 7));
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[1, 1460], [1461, 1460]], 'Nagle holds the 80-byte tail');
  s.clear();
  s.advance(10_000);
  t.deepEqual(s.out.map((x) => [x.flags, x.seq, x.len, x.time]), [
    ['.', 1, 1460, 200], ['.', 1, 1460, 600], ['.', 1, 1460, 1400], ['.', 1, 1460, 2400], ['.', 1, 1460, 3400],
  ]);
  t.is(c.state, 'CLOSED');
  t.is(err, 'ETIMEDOUT');
  t.is(s.tcp.stats.timeouts, 6);
});

test('after a timeout, ACKs release the rest in slow start (go-back-N with cwnd = 1 MSS)', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.write(Buffer.alloc(4 * 1460, 1));
  t.is(s.out.length, 4);
  s.clear();
  s.advance(200);
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[1, 1460]]);
  t.is(c.cc.cwnd, 1460);
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1461 });
  t.deepEqual(s.out.map((x) => x.seq), [1461, 2921], 'cwnd 2 MSS after one ACK in slow start');
  t.is(c.rtt.samples, 1, "Karn: the retransmitted segment's ACK gave no sample");
});

test('Karn: the backed-off RTO stays until a fresh sample from new data', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ rtt: 50 });
  t.is(c.rtt.rto, 200, 'srtt 50, rttvar 25: 150 clamped to minRto');
  c.write(Buffer.alloc(100, 1));
  s.advance(200 + 400);
  t.is(c.rtt.rto, 800, 'two timeouts: 200 -> 400 -> 800');
  s.inject({ flags: '.', seq: 1, ack: 101 });
  t.is(c.rtt.rto, 800, 'ACK of a retransmission: no sample, RTO kept');
  s.clear();
  c.write(Buffer.alloc(100, 2));
  s.advance(50);
  s.inject({ flags: '.', seq: 1, ack: 201 });
  t.is(c.rtt.rto, 200, 'a fresh 50 ms sample brings it back (clamped to minRto)');
  t.is(c.rtt.srtt, 50);
});

test('RTT is measured from the ACK delay (one timed segment at a time) and sets the RTO', (t) => {
  const s = new TcpScript({ ...plain, minRto: 10 });
  const c = s.acceptOne({ rtt: 80 });
  t.is(c.rtt.srtt, 80, 'first sample from the handshake');
  t.is(c.rtt.rttvar, 40);
  t.is(c.rtt.rto, 240);
  c.write(Buffer.alloc(100, 1));
  s.advance(40);
  s.inject({ flags: '.', seq: 1, ack: 101 });
  t.is(c.rtt.srtt, 75);
  t.is(c.rtt.rttvar, 40);
  t.is(c.rtt.rto, 235);
});

test('minRto is configurable', (t) => {
  const s = new TcpScript({ ...plain, minRto: 1000 });
  const c = s.acceptOne();
  c.write(Buffer.from('x'));
  s.clear();
  s.advance(999);
  t.is(s.out.length, 0);
  s.advance(1);
  t.like(s.next(), { seq: 1, len: 1, time: 1000 });
});

test('user timeout aborts when data stays unacknowledged too long', (t) => {
  const s = new TcpScript({ ...plain, userTimeout: 2500, maxRetries: 100 });
  const c = s.acceptOne();
  let err: string | null | undefined;
  let at = -1;
  c.events = { onClose: (e) => { err = e ? e.code : null; at = s.now; } };
  c.write(Buffer.from('x'));
  s.advance(2499);
  t.is(c.state, 'ESTABLISHED');
  s.advance(10_000);
  t.is(c.state, 'CLOSED');
  t.is(err, 'ETIMEDOUT');
  t.is(at, 2500, 'the 1400 -> 3000 timer is cut short so the user timeout is exact');
});

test('fast retransmit on the third duplicate ACK, NewReno partial ACK, full ACK exits recovery', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535 });
  c.write(Buffer.alloc(10 * 1460, 3));
  t.is(s.out.length, 10, 'initial window: 10 segments');
  s.clear();
  // Segments 1 and 3 are lost; the peer ACKs what it can.
  s.inject({ flags: '.', seq: 1, ack: 1 }); // (not a dup: nothing changes) -- ack == SND.UNA, counts as dup 1
  s.inject({ flags: '.', seq: 1, ack: 1 });
  t.is(s.out.length, 0, 'two duplicate ACKs: nothing yet');
  s.inject({ flags: '.', seq: 1, ack: 1 });
  t.like(s.next(), { flags: '.', seq: 1, len: 1460 }, 'fast retransmit of SND.UNA');
  t.true(c.inRecovery);
  t.is(c.cc.ssthresh, 7300, 'ssthresh = FlightSize / 2');
  t.is(s.tcp.stats.fastRetransmits, 1);
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1461 + 1460 }); // partial ACK: up to the second hole
  t.like(s.next(), { seq: 2921, len: 1460 }, 'partial ACK retransmits the next hole at once');
  t.true(c.inRecovery);
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1 + 10 * 1460 });
  t.false(c.inRecovery, 'full ACK');
  t.is(c.cc.cwnd, 1460, 'deflated to min(ssthresh, FlightSize + MSS) with nothing in flight');
});

test('duplicate ACKs that carry data or change the window are not counted', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535 });
  c.write(Buffer.alloc(5 * 1460, 3));
  s.clear();
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 10 });
  s.inject({ flags: 'P.', seq: 11, ack: 1, data: 10 });
  s.inject({ flags: '.', seq: 21, ack: 1, win: 60000 });
  s.inject({ flags: '.', seq: 21, ack: 1, win: 50000 });
  t.is(c.dupAcks, 0);
  t.false(c.inRecovery);
  t.false(s.out.some((x) => x.len > 0));
});

test('a lost FIN is retransmitted', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.shutdown();
  t.like(s.next(), { flags: 'F.', seq: 1 });
  s.advance(200);
  t.like(s.next(), { flags: 'F.', seq: 1, time: 200 });
  s.inject({ flags: '.', seq: 1, ack: 2 });
  t.is(c.state, 'FIN-WAIT-2');
});

test('lost data and FIN are retransmitted together after a timeout', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.write(Buffer.from('tail'));
  c.shutdown();
  t.deepEqual(s.out.map((x) => x.flags), ['P.', 'F.']);
  s.clear();
  s.advance(200);
  t.like(s.next(), { flags: 'FP.', seq: 1, len: 4 });
});

function icmpFor(s: TcpScript, seg: { srcPort: number; dstPort: number; absSeq: number }, type: number, code: number) {
  const quote = new Uint8Array(8);
  quote.set([seg.srcPort >> 8, seg.srcPort & 255, seg.dstPort >> 8, seg.dstPort & 255]);
  new DataView(quote.buffer).setUint32(4, seg.absSeq);
  s.tcp.receiveIcmpError({ type, code, mtu: 0, src: s.local, dst: s.peer, quote, quoteOffset: 0, quoteLength: 8 });
}

test('ICMP: port unreachable refuses a connect at once; host unreachable later is a soft error reported on timeout', (t) => {
  const s = new TcpScript({ ...plain, synRetries: 2 });
  let err: string | null | undefined;
  const c = s.tcp.open({ host: '192.0.2.2', port: 40000, localPort: 8080 }, { onClose: (e) => { err = e ? e.code : null; } });
  const syn = s.next()!;
  icmpFor(s, { ...syn, absSeq: syn.absSeq + 100 }, 3, 3);
  t.is(c.state, 'SYN-SENT', 'RFC 5927: an ICMP error quoting a sequence number not in flight is ignored');
  icmpFor(s, syn, 3, 3);
  t.is(c.state, 'CLOSED');
  t.is(err, 'ECONNREFUSED');

  const s2 = new TcpScript({ ...plain, maxRetries: 2 });
  const c2 = s2.acceptOne();
  let err2: string | null | undefined;
  c2.events = { onClose: (e) => { err2 = e ? e.code : null; } };
  c2.write(Buffer.from('x'));
  const seg = s2.next()!;
  icmpFor(s2, seg, 3, 1);
  t.is(c2.state, 'ESTABLISHED', 'soft error while established (RFC 1122 4.2.3.9)');
  s2.advance(10_000);
  t.is(c2.state, 'CLOSED');
  t.is(err2, 'EHOSTUNREACH', 'reported instead of ETIMEDOUT');
});
