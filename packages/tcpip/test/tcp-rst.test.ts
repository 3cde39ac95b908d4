/**
 * RST generation and processing (RFC 9293 3.10.7, 3.5.2) and the RFC 5961 defences:
 * challenge ACKs for in-window RSTs and for SYNs, the ACK acceptability check against blind
 * data injection, and the challenge-ACK rate limit.
 */
import test from 'ava';
import { TcpScript } from './tcp-harness';

const plain = { timestamps: false, windowScaling: false };

test('closed port: SYN gets RST+ACK (seq 0, ack seq+1); an ACK gets RST with seq = its ack; an RST gets nothing', (t) => {
  const s = new TcpScript(plain);
  s.inject({ flags: 'S', seq: 0 });
  t.like(s.next(), { flags: 'R.', absSeq: 0, ack: 1, win: 0 });
  s.inject({ flags: '.', raw: true, seq: 5, ack: 123456 });
  t.like(s.next(), { flags: 'R', absSeq: 123456 });
  s.inject({ flags: 'P', seq: 10, data: 7 });
  t.like(s.next(), { flags: 'R.', absSeq: 0, ack: 17 }, 'ack covers the data');
  s.inject({ flags: 'F', seq: 10 });
  t.like(s.next(), { flags: 'R.', ack: 11 }, 'and the FIN');
  s.inject({ flags: 'R', seq: 3 });
  s.inject({ flags: 'R.', seq: 3, ack: 3 });
  t.is(s.next(), undefined);
  t.is(s.tcp.stats.errors['no-connection'], 6);
});

test('listener: a bare ACK is answered with RST, an RST is ignored', (t) => {
  const s = new TcpScript(plain);
  s.tcp.openListener({ port: 8080 });
  s.inject({ flags: '.', raw: true, seq: 1, ack: 777 });
  t.like(s.next(), { flags: 'R', absSeq: 777 });
  s.inject({ flags: 'R', seq: 1 });
  t.is(s.next(), undefined);
});

test('SYN-SENT: a bad ACK draws an RST; RST with an acceptable ACK refuses the connection, other RSTs are ignored', (t) => {
  const s = new TcpScript(plain);
  let err: string | null | undefined;
  const c = s.tcp.open({ host: '192.0.2.2', port: 40000, localPort: 8080 }, { onClose: (e) => { err = e ? e.code : null; } });
  const syn = s.next()!;
  s.inject({ flags: 'S.', seq: 0, raw: false, ack: 5, mss: 1460 });
  t.like(s.next(), { flags: 'R', seq: 5 }, 'RST <SEQ=SEG.ACK>');
  t.is(c.state, 'SYN-SENT');
  s.inject({ flags: 'R', seq: 0 });
  t.is(c.state, 'SYN-SENT', 'RST without ACK ignored (RFC 5961 3.2)');
  s.inject({ flags: 'R.', seq: 0, ack: 7 });
  t.is(c.state, 'SYN-SENT', 'RST with unacceptable ACK ignored');
  t.is(s.next(), undefined);
  s.inject({ flags: 'R.', seq: 0, ack: 1 });
  t.is(c.state, 'CLOSED');
  t.is(err, 'ECONNREFUSED');
  t.is(syn.flags, 'S');
});

test('ESTABLISHED: RST at RCV.NXT resets; in-window RST draws a challenge ACK; out-of-window RST is dropped', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  let err: string | null | undefined;
  c.events = { onClose: (e) => { err = e ? e.code : null; } };
  s.inject({ flags: 'R', seq: 100 });
  t.like(s.next(), { flags: '.', seq: 1, ack: 1 }, 'challenge ACK');
  t.is(c.state, 'ESTABLISHED');
  s.inject({ flags: 'R', seq: 1_000_000 });
  t.is(s.next(), undefined, 'outside the window: silently dropped');
  s.inject({ flags: 'R', seq: 0 });
  t.is(s.next(), undefined, 'just below RCV.NXT: dropped');
  t.is(c.state, 'ESTABLISHED');
  s.inject({ flags: 'R', seq: 1 });
  t.is(c.state, 'CLOSED');
  t.is(err, 'ECONNRESET');
  t.is(s.tcp.stats.challengeAcks, 1);
  t.is(s.tcp.connections().length, 0);
});

test('SYN on an established connection draws a challenge ACK whatever its sequence number (RFC 5961 4)', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  for (const sq of [1, 500, 4_000_000_000, 0]) {
    s.inject({ flags: 'S', seq: sq, mss: 1460 });
    t.like(s.next(), { flags: '.', seq: 1, ack: 1 });
  }
  t.is(c.state, 'ESTABLISHED');
  s.inject({ flags: 'S.', seq: 1, ack: 1, mss: 1460 });
  t.like(s.next(), { flags: '.', seq: 1, ack: 1 });
  t.is(c.state, 'ESTABLISHED');
});

test('blind data injection: data whose ACK is outside [SND.UNA - MAX.SND.WND, SND.NXT] is dropped with an ACK', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 1000 });
  c.write(Buffer.alloc(500, 1));
  t.like(s.next(), { flags: 'P.', seq: 1, len: 500 });
  s.inject({ flags: 'P.', seq: 1, ack: 900, data: 'evil' });
  t.like(s.next(), { flags: '.', seq: 501, ack: 1 }, 'ACK of unsent data');
  t.is(c.readableLength, 0);
  s.inject({ flags: 'P.', seq: 1, raw: false, ack: (1 - 2000) >>> 0, data: 'evil' });
  t.like(s.next(), { flags: '.', seq: 501, ack: 1 }, 'ACK far in the past');
  t.is(c.readableLength, 0);
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 'good' });
  t.is(c.readableLength, 4, 'an old but plausible ACK is fine');
  t.is(c.sndUna - c.iss, 1);
});

test('challenge ACKs are rate limited per second', (t) => {
  const s = new TcpScript({ ...plain, challengeAckLimit: 2 });
  s.acceptOne();
  for (let i = 0; i < 5; i++) s.inject({ flags: 'R', seq: 50 + i });
  t.is(s.out.length, 2);
  s.clear();
  s.advance(1000);
  s.inject({ flags: 'R', seq: 60 });
  t.is(s.out.length, 1);
});

test('abort sends RST <SEQ=SND.NXT> and frees the connection', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.write(Buffer.from('abc'));
  s.next();
  c.abort();
  t.like(s.next(), { flags: 'R.', seq: 4, ack: 1 });
  t.is(c.state, 'CLOSED');
  t.is(s.tcp.connections().length, 0);
  s.inject({ flags: '.', seq: 1, ack: 4 });
  t.like(s.next(), { flags: 'R', seq: 4 }, 'the port is closed now');
});

test('closing with unread data resets (RFC 9293 3.10.4 / Linux); data for an orphaned connection resets too', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 'unread' });
  s.advance(100);
  s.clear();
  c.close();
  t.like(s.next(), { flags: 'R.', seq: 1, ack: 7 });
  t.is(c.state, 'CLOSED');

  const s2 = new TcpScript(plain);
  const c2 = s2.acceptOne();
  c2.shutdown();
  s2.next();
  c2.close(); // graceful: FIN sent, nothing unread
  t.is(c2.state, 'FIN-WAIT-1');
  s2.inject({ flags: '.', seq: 1, ack: 2 });
  t.is(c2.state, 'FIN-WAIT-2');
  s2.inject({ flags: 'P.', seq: 1, ack: 2, data: 'late' });
  t.like(s2.next(), { flags: 'R.', seq: 2 });
  t.is(c2.state, 'CLOSED');
});

test('orphaned FIN-WAIT-2 times out', (t) => {
  const s = new TcpScript({ ...plain, finWait2Timeout: 5000 });
  const c = s.acceptOne();
  c.shutdown();
  s.next();
  c.close();
  s.inject({ flags: '.', seq: 1, ack: 2 });
  t.is(c.state, 'FIN-WAIT-2');
  s.advance(5000);
  t.is(c.state, 'CLOSED');
});

test('RST in CLOSE-WAIT reports ECONNRESET; in LAST-ACK, CLOSING and TIME-WAIT it just closes', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  let err: string | null | undefined;
  c.events = { onClose: (e) => { err = e ? e.code : null; } };
  s.inject({ flags: 'F.', seq: 1, ack: 1 });
  s.inject({ flags: 'R', seq: 2 });
  t.is(c.state, 'CLOSED');
  t.is(err, 'ECONNRESET');

  for (const target of ['LAST-ACK', 'CLOSING', 'TIME-WAIT'] as const) {
    const s2 = new TcpScript(plain);
    const c2 = s2.acceptOne();
    let e2: string | null | undefined;
    c2.events = { onClose: (e) => { e2 = e ? e.code : null; } };
    if (target === 'LAST-ACK') { s2.inject({ flags: 'F.', seq: 1, ack: 1 }); c2.shutdown(); }
    if (target === 'CLOSING') { c2.shutdown(); s2.inject({ flags: 'F.', seq: 1, ack: 1 }); }
    if (target === 'TIME-WAIT') { c2.shutdown(); s2.inject({ flags: 'F.', seq: 1, ack: 2 }); }
    t.is(c2.state, target);
    s2.inject({ flags: 'R', seq: 2 });
    t.is(c2.state, 'CLOSED', target);
    t.is(e2, null, target);
  }
});

test('segments outside the receive window are dropped and ACKed', (t) => {
  const s = new TcpScript({ ...plain, receiveBufferSize: 4096 });
  const c = s.acceptOne();
  s.inject({ flags: 'P.', seq: 100_000, ack: 1, data: 10 });
  t.like(s.next(), { flags: '.', seq: 1, ack: 1 });
  s.inject({ flags: 'P.', seq: 1 - 20, ack: 1, data: 10 });
  t.like(s.next(), { flags: '.', seq: 1, ack: 1 }, 'entirely old data: duplicate ACK');
  t.is(c.readableLength, 0);
  t.true(s.tcp.stats.outOfWindow >= 2);
});

test('bad input from the wire never throws: garbage, truncated headers, bad checksums are counted', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  s.injectBytes(new Uint8Array(5));
  const bad = s.build({ flags: 'P.', seq: 1, ack: 1, data: 'x' });
  bad[12] = 0xf0; // data offset 60 > length
  s.injectBytes(bad);
  const opt = s.build({ flags: '.', seq: 1, ack: 1, mss: 1460 });
  opt[21] = 200; // option length past the header
  s.injectBytes(opt);
  const sum = s.build({ flags: 'P.', seq: 1, ack: 1, data: 'x' });
  sum[sum.length - 1] ^= 0xff;
  s.host.deliver(s.peer, s.local, sum);
  t.is(s.host.checksumDrops, 1);
  t.is(c.state, 'ESTABLISHED');
  t.is(c.readableLength, 0);
  t.is(s.tcp.stats.errors['truncated'], 1);
  t.is(s.tcp.stats.errors['bad-data-offset'], 1);
  t.is(s.tcp.stats.errors['bad-option'], 1);
  t.is(s.tcp.stats.errors['internal-error'] ?? 0, 0);
});
