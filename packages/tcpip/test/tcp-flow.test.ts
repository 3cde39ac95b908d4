/**
 * Flow control and timing: zero-window probes, window updates and SWS avoidance on both sides,
 * Nagle, delayed ACKs, MSS negotiation and path-MTU clamping, window scaling, timestamps/PAWS,
 * keepalive — packetdrill tcp/nagle, tcp/mss, tcp/zero_window style scripts in virtual time.
 */
import test from 'ava';
import { TcpScript } from './tcp-harness';
import { parseIpv4 } from '../src/wire/ipv4-address';

const plain = { timestamps: false, windowScaling: false };

test('zero window: persist probes of one byte back off exponentially until the window opens', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 1000 });
  c.write(Buffer.alloc(3000, 5));
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[1, 1000]], 'sender SWS: exactly the offered window');
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1001, win: 0 });
  t.is(s.out.length, 0);
  s.advance(200 + 400 + 800 + 1600);
  t.deepEqual(s.out.map((x) => [x.seq, x.len, x.time]), [[1001, 1, 200], [1001, 1, 600], [1001, 1, 1400], [1001, 1, 3000]]);
  // The peer drops each probe (zero window) and says so.
  for (let i = 0; i < 3; i++) s.inject({ flags: '.', seq: 1, ack: 1001, win: 0 });
  t.is(c.state, 'ESTABLISHED', 'probes are never given up while answered');
  t.false(c.inRecovery, 'zero-window ACKs are not duplicate ACKs');
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1001, win: 4000 });
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[1001, 1460]], 'resumes from SND.UNA; Nagle holds the 540-byte tail');
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 2461, win: 4000 });
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[2461, 540]]);
  t.is(s.tcp.stats.zeroWindowProbes, 4);
});

test('receiver: a full buffer advertises a zero window; reading reopens it with a window update', (t) => {
  const s = new TcpScript({ ...plain, receiveBufferSize: 4000 });
  const c = s.acceptOne();
  const synack = s.tcp.stats; // (placeholder to keep the flow readable)
  t.truthy(synack);
  s.inject({ flags: '.', seq: 1, ack: 1, data: 1460 });
  s.inject({ flags: '.', seq: 1461, ack: 1, data: 1460 });
  t.like(s.next(), { flags: '.', ack: 2921, win: 1080 }, 'ACK every second full segment');
  s.inject({ flags: 'P.', seq: 2921, ack: 1, data: 1080 });
  s.advance(40);
  t.like(s.next(), { flags: '.', ack: 4001, win: 0 });
  // A probe beyond the window is dropped and answered with the zero window.
  s.inject({ flags: '.', seq: 4001, ack: 1, data: 1 });
  t.like(s.next(), { flags: '.', ack: 4001, win: 0 });
  t.is(c.readableLength, 4000);
  // Receiver SWS avoidance: reading a little does not announce a tiny window.
  c.read(new Uint8Array(100));
  t.is(s.next(), undefined);
  c.read(new Uint8Array(1900));
  t.like(s.next(), { flags: '.', ack: 4001, win: 2000 }, 'window update once it is worth it');
});

test('Nagle: a second small write waits for the ACK of the first; setNoDelay sends at once', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.write(Buffer.from('a'));
  t.like(s.next(), { flags: 'P.', seq: 1, len: 1 });
  c.write(Buffer.from('b'));
  c.write(Buffer.from('c'));
  t.is(s.next(), undefined, 'held while data is outstanding');
  s.advance(10);
  s.inject({ flags: '.', seq: 1, ack: 2 });
  t.like(s.next(), { flags: 'P.', seq: 2, len: 2, data: Buffer.from('bc') }, 'coalesced');
  c.setNoDelay(true);
  c.write(Buffer.from('d'));
  t.like(s.next(), { flags: 'P.', seq: 4, len: 1 }, 'no delay with data in flight');
  c.write(Buffer.from('e'));
  t.like(s.next(), { flags: 'P.', seq: 5, len: 1 });
});

test('Nagle never delays full-sized segments', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.write(Buffer.from('x'));
  s.next();
  c.write(Buffer.alloc(1460 * 2 + 10, 1));
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[2, 1460], [1462, 1460]], 'the 10-byte tail waits');
});

test('delayed ACK: one segment is ACKed after the delay, a second full segment at once, out of order at once', (t) => {
  const s = new TcpScript({ ...plain, delayedAck: 40 });
  s.acceptOne();
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 100 });
  t.is(s.next(), undefined);
  s.advance(39);
  t.is(s.next(), undefined);
  s.advance(1);
  t.like(s.next(), { flags: '.', ack: 101, time: 40 });
  s.inject({ flags: '.', seq: 101, ack: 1, data: 1460 });
  t.is(s.next(), undefined, 'first full segment: delayed');
  s.inject({ flags: '.', seq: 1561, ack: 1, data: 1460 });
  t.like(s.next(), { flags: '.', ack: 3021, time: 40 }, 'second full segment: immediate');
  s.inject({ flags: '.', seq: 5000, ack: 1, data: 100 });
  t.like(s.next(), { flags: '.', ack: 3021 }, 'out of order: immediate duplicate ACK');
  s.inject({ flags: '.', seq: 3021, ack: 1, data: 1979 });
  t.like(s.next(), { flags: '.', ack: 5100 }, 'hole filled: immediate ACK up to the end of the queue');
});

test('delayed ACK piggybacks on data sent in the meantime', (t) => {
  const s = new TcpScript({ ...plain, delayedAck: 100 });
  const c = s.acceptOne();
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 10 });
  s.advance(20);
  c.write(Buffer.from('reply'));
  t.like(s.next(), { flags: 'P.', ack: 11, len: 5, time: 20 });
  s.inject({ flags: '.', seq: 11, ack: 6 });
  s.advance(200);
  t.is(s.next(), undefined, 'no separate ACK');
});

test('a FIN in ESTABLISHED gets a delayed ACK: our FIN carries it when the application closes at once, else the timer sends it', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  s.inject({ flags: 'FP.', seq: 1, ack: 1, data: 5 });
  t.is(c.state, 'CLOSE-WAIT');
  t.is(s.next(), undefined, 'no ACK of its own (Linux pingpong mode on a FIN)');
  c.shutdown();
  t.like(s.next(), { flags: 'F.', ack: 7, time: 0 });
  t.is(s.next(), undefined);

  const s2 = new TcpScript(plain);
  s2.acceptOne();
  s2.inject({ flags: 'FP.', seq: 1, ack: 1, data: 5 });
  t.is(s2.next(), undefined);
  s2.advance(40);
  t.like(s2.next(), { flags: '.', ack: 7, time: 40 });
});

test('a FIN in FIN-WAIT-2 is ACKed at once', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.shutdown();
  t.like(s.next(), { flags: 'F.' });
  s.inject({ flags: '.', seq: 1, ack: 2 });
  t.is(c.state, 'FIN-WAIT-2');
  s.inject({ flags: 'F.', seq: 1, ack: 2 });
  t.like(s.next(), { flags: '.', ack: 2, time: 0 });
  t.is(c.state, 'TIME-WAIT');
});

test('MSS: advertised from the interface MTU; sending clamped to the peer MSS and the path MTU; 536 without option', (t) => {
  const s = new TcpScript(plain);
  s.host.mtu = 9000;
  s.host.pathMtu = 9000;
  const c = s.acceptOne({ mss: 1200 });
  t.is(c.advMss, 8960);
  c.write(Buffer.alloc(3000, 1));
  t.deepEqual(s.out.map((x) => x.len), [1200, 1200], 'peer MSS');

  const s2 = new TcpScript(plain);
  s2.host.pathMtu = 1000;
  const c2 = s2.acceptOne({ mss: 1460 });
  c2.write(Buffer.alloc(2000, 1));
  t.deepEqual(s2.out.map((x) => x.len), [960, 960], 'path MTU 1000');

  const s3 = new TcpScript(plain);
  s3.tcp.openListener({ port: 8080 });
  s3.inject({ flags: 'S', seq: 0 });
  s3.next();
  s3.inject({ flags: '.', seq: 1, ack: 1 });
  const c3 = s3.tcp.connections()[0];
  t.is(c3.effMss, 536, 'RFC 9293 default MSS');
});

test('segments up to 64 KB on a large-MTU link', (t) => {
  const s = new TcpScript(plain);
  s.host.mtu = 65535;
  s.host.pathMtu = 65535;
  const c = s.acceptOne({ mss: 65495 });
  t.is(c.advMss, 65495);
  c.write(Buffer.alloc(100_000, 1));
  t.deepEqual(s.out.map((x) => x.len), [65495], 'one 64 KB segment (the window of 65535 limits the rest)');
});

test('ICMP fragmentation needed lowers the MSS and resends what is outstanding', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.write(Buffer.alloc(2920, 1));
  const first = s.out[0];
  s.clear();
  const quote = new Uint8Array(8);
  quote.set([first.srcPort >> 8, first.srcPort & 255, first.dstPort >> 8, first.dstPort & 255]);
  new DataView(quote.buffer).setUint32(4, first.absSeq);
  s.tcp.receiveIcmpError({ type: 3, code: 4, mtu: 1000, src: parseIpv4('192.0.2.1'), dst: parseIpv4('192.0.2.2'),
    quote, quoteOffset: 0, quoteLength: 8 });
  t.is(c.effMss, 960);
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[1, 960], [961, 960], [1921, 960]]);
});

test('window scaling: negotiated both ways, windows scaled on the wire', (t) => {
  const s = new TcpScript({ timestamps: false, windowScaling: true, receiveBufferSize: 1 << 20, receiveAutoTune: false });
  const c = s.acceptOne({ wscale: 2, win: 1000 });
  t.is(c.rcvWscale, 5, '1 MB needs a shift of 5');
  t.is(c.sndWscale, 2);
  t.is(c.sndWnd, 4000);
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 10 });
  s.advance(40);
  t.like(s.next(), { flags: '.', ack: 11, win: ((1 << 20) - 10) >> 5 });
});

test('window update after a read: none of its own for a small first request (the answer carries it); at once after full segments', (t) => {
  const cfg = { timestamps: false, windowScaling: true, receiveBufferSize: 1 << 20, receiveAutoTune: false };
  const s = new TcpScript(cfg);
  const c = s.acceptOne({ wscale: 2 });
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 32 });
  t.is(c.readBuffer()!.length, 32);
  t.is(s.next(), undefined, 'the SYN capped the window at 64 KiB: the wider one waits for the next segment');
  c.write(Buffer.from('answer'));
  t.like(s.next(), { flags: 'P.', ack: 33, len: 6, win: ((1 << 20) - 0) >> 5 });

  const s2 = new TcpScript(cfg);
  const c2 = s2.acceptOne({ wscale: 2 });
  s2.inject({ flags: '.', seq: 1, ack: 1, data: 1460 });
  t.is(c2.readBuffer()!.length, 1460);
  t.like(s2.next(), { flags: '.', ack: 1461, time: 0, win: (1 << 20) >> 5 }, 'a full segment: a stream, told of the window at once');
});

test('timestamps: TSval/TSecr echoed; PAWS drops an old timestamp with an ACK', (t) => {
  const s = new TcpScript({ timestamps: true, windowScaling: false });
  const c = s.acceptOne({ ts: true });
  t.true(c.tsEnabled);
  t.is(c.effMss, 1460 - 12);
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 10, ts: [200, 0] });
  s.advance(40);
  const ack = s.next()!;
  t.is(ack.ts![1], 200, 'echo');
  s.inject({ flags: 'P.', seq: 11, ack: 1, data: 10, ts: [150, 0] });
  t.like(s.next(), { flags: '.', ack: 11 }, 'old timestamp: dropped, ACKed');
  t.is(c.readableLength, 10);
  t.is(s.tcp.stats.pawsDrops, 1);
  s.inject({ flags: 'P.', seq: 11, ack: 1, data: 10, ts: [201, 0] });
  t.is(c.readableLength, 20);
});

test('timestamps: an RST with an older TSval is not subject to PAWS (RFC 7323 5.3 R1)', (t) => {
  const s = new TcpScript({ timestamps: true, windowScaling: false });
  const c = s.acceptOne({ ts: true });
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 10, ts: [200, 0] });
  t.is(c.readableLength, 10);
  s.clear();
  s.inject({ flags: 'R', seq: 11, ts: [150, 0] });
  t.is(s.tcp.stats.pawsDrops, 0, 'not dropped by PAWS');
  t.is(c.state, 'CLOSED', 'the reset is taken');
  t.is(s.out.length, 0, 'and not answered');
});

test('keepalive: probes after the idle time, answered probes keep the connection, unanswered ones end it', (t) => {
  const s = new TcpScript({ ...plain, keepAliveInterval: 1000, keepAliveProbes: 3 });
  const c = s.acceptOne();
  let err: string | null | undefined;
  c.events = { onClose: (e) => { err = e ? e.code : null; } };
  c.setKeepAlive(true, 5000);
  s.advance(5000);
  t.like(s.next(), { flags: '.', seq: 0, ack: 1, len: 0, time: 5000 }, 'SEG.SEQ = SND.NXT - 1');
  s.inject({ flags: '.', seq: 1, ack: 1 });
  s.advance(4999);
  t.is(s.next(), undefined, 'answered: idle timer restarted');
  s.advance(1);
  t.like(s.next(), { seq: 0, time: 10_000 });
  s.advance(3000);
  t.deepEqual(s.out.map((x) => x.time), [11_000, 12_000]);
  s.clear();
  s.advance(1000);
  t.is(c.state, 'CLOSED');
  t.is(err, 'ETIMEDOUT');
  t.is(s.tcp.stats.keepAliveProbes, 4);
});

test('idle timeout (socket.setTimeout) fires once per idle period', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  let n = 0;
  c.events = { onTimeout: () => { n++; } };
  c.setIdleTimeout(1000);
  s.advance(999);
  t.is(n, 0);
  s.advance(1);
  t.is(n, 1);
  s.advance(5000);
  t.is(n, 1, 'not re-armed without activity');
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 5 });
  s.advance(1000);
  t.is(n, 2);
});

test('SACK (RFC 2018): negotiated, out-of-order data reported with the latest block first, within the option space', (t) => {
  const s = new TcpScript({ windowScaling: false, timestamps: true });
  const c = s.acceptOne({ sack: true, ts: true });
  t.true(c.sackOk);
  s.inject({ flags: '.', seq: 1001, ack: 1, data: 100, ts: [110, 0] });
  t.like(s.next(), { ack: 1, sack: [[1001, 1101]] });
  s.inject({ flags: '.', seq: 3001, ack: 1, data: 100, ts: [111, 0] });
  t.like(s.next(), { ack: 1, sack: [[3001, 3101], [1001, 1101]] }, 'the block of the latest segment first');
  s.inject({ flags: '.', seq: 2001, ack: 1, data: 100, ts: [112, 0] });
  s.inject({ flags: '.', seq: 4001, ack: 1, data: 100, ts: [113, 0] });
  s.clear();
  s.inject({ flags: '.', seq: 5001, ack: 1, data: 100, ts: [114, 0] });
  t.deepEqual(s.next()!.sack, [[5001, 5101], [1001, 1101], [2001, 2101]], 'with timestamps at most 3 blocks fit');
  s.inject({ flags: '.', seq: 1101, ack: 1, data: 900, ts: [115, 0] });
  t.deepEqual(s.next()!.sack, [[1001, 2101], [3001, 3101], [4001, 4101]], 'merged ranges: the merged one first');
  s.inject({ flags: '.', seq: 1, ack: 1, data: 1000, ts: [116, 0] });
  t.like(s.next(), { ack: 2101, sack: [[3001, 3101], [4001, 4101], [5001, 5101]] }, 'the hole is filled: what was delivered leaves');
  // A data segment of full size has no room for SACK blocks on a 1500-byte path.
  c.write(Buffer.alloc(1448, 1));
  const d = s.next()!;
  t.is(d.len, 1448);
  t.deepEqual(d.sack, []);
  // Without the peer's SACK-permitted, no blocks.
  const s2 = new TcpScript(plain);
  const c2 = s2.acceptOne();
  t.false(c2.sackOk);
  s2.inject({ flags: '.', seq: 1001, ack: 1, data: 100 });
  t.deepEqual(s2.next()!.sack, []);
});
