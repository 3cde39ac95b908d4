/**
 * Acting on the peer's SACK blocks (RFC 2018, RFC 6675 scoreboard, pipe and NextSeg) and
 * recognising D-SACK (RFC 2883), in segment-level scripts.
 */
import test from 'ava';
import { TcpScript } from './tcp-harness';

const plain = { timestamps: false, windowScaling: false, delayedAck: 0 };
const M = 1460;
/** SACK block covering segments [i, j) of the 10 sent (1-based sequence numbers). */
const segs = (i: number, j: number): [number, number] => [1 + i * M, 1 + j * M];

test('SACK recovery: a second hole is retransmitted once SACKs show it lost, before any partial ACK', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true });
  t.true(c.sackOk);
  c.write(Buffer.alloc(10 * M, 3));
  t.is(s.out.length, 10);
  s.clear();
  // Segments 0 and 3 are lost; each other arrival brings a duplicate ACK with SACK blocks.
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [segs(1, 2)] });
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [segs(1, 3)] });
  t.is(s.out.length, 0);
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [segs(4, 5), segs(1, 3)] });
  t.like(s.next(), { seq: 1, len: M }, 'fast retransmit of SND.UNA on the third duplicate ACK');
  t.is(s.next(), undefined, 'the second hole is not yet judged lost (only one segment SACKed above it)');
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [segs(4, 6), segs(1, 3)] });
  t.is(s.next(), undefined);
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [segs(4, 7), segs(1, 3)] });
  t.like(s.next(), { seq: 1 + 3 * M, len: M }, 'three segments SACKed above it: the second hole is retransmitted (NextSeg)');
  t.is(s.tcp.stats.sackRetransmits, 1);
  t.true(c.inRecovery);
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [segs(4, 8), segs(1, 3)] });
  s.inject({ flags: '.', seq: 1, ack: 1, sack: [segs(4, 10), segs(1, 3)] });
  t.false(s.out.some((x) => x.len > 0 && x.seq === 1 + 3 * M), 'each hole is retransmitted once');
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1 + 10 * M });
  t.false(c.inRecovery, 'the retransmissions filled both holes: one full ACK ends recovery');
  t.is(s.tcp.stats.timeouts, 0);
  t.is(c.retransmitCount, 2, 'exactly the two lost segments were sent again');
});

test('without SACK blocks recovery stays NewReno (the second hole waits for the partial ACK)', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true });
  c.write(Buffer.alloc(10 * M, 3));
  s.clear();
  for (let i = 0; i < 6; i++) s.inject({ flags: '.', seq: 1, ack: 1 });
  t.like(s.next(), { seq: 1, len: M });
  t.false(s.out.some((x) => x.len > 0 && x.seq === 1 + 3 * M));
  t.is(s.tcp.stats.sackRetransmits, 0);
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1 + 3 * M });
  t.like(s.next(), { seq: 1 + 3 * M, len: M }, 'partial ACK');
});

test('D-SACK: a first block below the ACK or inside the second block is counted, not added to the scoreboard', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true });
  c.write(Buffer.alloc(4 * M, 3));
  s.clear();
  s.inject({ flags: '.', seq: 1, ack: 1 + 2 * M, sack: [segs(0, 1)] });
  t.is(s.tcp.stats.dsacks, 1, 'below the cumulative ACK');
  s.inject({ flags: '.', seq: 1, ack: 1 + 2 * M, sack: [segs(3, 3.5), segs(3, 4)] });
  t.is(s.tcp.stats.dsacks, 2, 'inside the second block');
  t.is(c.dsackCount, 2);
  s.inject({ flags: '.', seq: 1, ack: 1 + 2 * M, sack: [segs(3, 4)] });
  t.is(s.tcp.stats.dsacks, 2, 'an ordinary block is not a D-SACK');
  s.inject({ flags: '.', seq: 1, ack: 1 + 4 * M });
  t.is(c.flightSize, 0);
});

test('a FIN waiting behind a hole: onData comes before onEnd when the hole is filled', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne({ win: 65535, sack: true });
  const seen: string[] = [];
  c.events = { onData: () => seen.push(`data ${c.readableLength}`), onEnd: () => seen.push(`end ${c.readableLength}`) };
  s.inject({ flags: 'F.', seq: 11, ack: 1, data: 10 });
  t.deepEqual(seen, []);
  t.like(s.next(), { flags: '.', ack: 1, sack: [[11, 21]] }, 'out of order: SACKed at once (data only, not the FIN)');
  s.inject({ flags: 'P.', seq: 1, ack: 1, data: 10 });
  t.deepEqual(seen, ['data 20', 'end 20']);
  t.is(c.state, 'CLOSE-WAIT');
});
