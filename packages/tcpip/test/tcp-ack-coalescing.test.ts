/**
 * ACK coalescing (TcpConfig.coalesceAcks, GRO-like): in-order data of one receive batch is
 * ACKed once at the batch's end; out-of-order data, hole fills and the segments after a hole
 * (quick-ACK) are still ACKed at once. Scripted against one TcpLayer (beginBatch/endBatch as a
 * Stack calls them per interface poll) and between two Stacks on a SimLink.
 */
import test from 'ava';
import { VirtualClock } from '@pnet/nic';
import { TcpScript, simLinkPair } from './tcp-harness';
import { ipv4 } from '../src/wire/ipv4-address';

const plain = { timestamps: false, windowScaling: false };
const SEG = 1000;

/** `n` in-order full segments from the peer starting at relative seq `from`. */
function segments(s: TcpScript, from: number, n: number): void {
  for (let i = 0; i < n; i++) s.inject({ flags: '.', seq: from + i * SEG, ack: 1, data: SEG });
}

test('coalescing: ten in-order segments in one receive batch get one ACK, at the batch end', (t) => {
  const s = new TcpScript(plain);
  s.acceptOne({ mss: SEG });
  s.tcp.beginBatch();
  segments(s, 1, 10);
  t.is(s.out.length, 0, 'nothing while the batch is processed');
  s.tcp.endBatch();
  t.is(s.out.length, 1);
  t.like(s.next(), { flags: '.', ack: 1 + 10 * SEG });
  // Outside a batch (a host that reports none): every second segment, as before.
  segments(s, 1 + 10 * SEG, 10);
  t.is(s.out.length, 5);
  t.deepEqual(s.out.map((x) => x.ack), [12, 14, 16, 18, 20].map((k) => 1 + k * SEG));
});

test('coalescing off (coalesceAcks: false): every second segment of a batch is ACKed at once', (t) => {
  const s = new TcpScript({ ...plain, coalesceAcks: false });
  s.acceptOne({ mss: SEG });
  s.tcp.beginBatch();
  segments(s, 1, 10);
  t.is(s.out.length, 5);
  s.tcp.endBatch();
  t.is(s.out.length, 5);
});

test('coalescing: an odd segment at the batch end is covered; a lone one still waits for the delayed-ACK timer', (t) => {
  const s = new TcpScript({ ...plain, delayedAck: 40 });
  s.acceptOne({ mss: SEG });
  s.tcp.beginBatch();
  segments(s, 1, 3);
  s.tcp.endBatch();
  t.deepEqual(s.out.map((x) => x.ack), [1 + 3 * SEG]);
  s.clear();
  s.tcp.beginBatch();
  segments(s, 1 + 3 * SEG, 1);
  s.tcp.endBatch();
  t.is(s.out.length, 0, 'one segment: delayed');
  s.advance(40);
  t.like(s.next(), { ack: 1 + 4 * SEG, time: 40 });
});

test('coalescing: out-of-order data in a batch is ACKed at once (duplicate ACKs with SACK), then quick ACKs after the hole', (t) => {
  const s = new TcpScript({ windowScaling: false, timestamps: false });
  s.acceptOne({ mss: SEG, sack: true });
  s.tcp.beginBatch();
  segments(s, 1, 4);
  t.is(s.out.length, 0);
  // Segment 5 is missing: 6 and 7 arrive in the same batch.
  segments(s, 1 + 5 * SEG, 2);
  t.is(s.out.length, 2, 'one duplicate ACK per out-of-order segment, during the batch');
  t.like(s.out[0], { ack: 1 + 4 * SEG, sack: [[1 + 5 * SEG, 1 + 6 * SEG]] });
  t.like(s.out[1], { ack: 1 + 4 * SEG, sack: [[1 + 5 * SEG, 1 + 7 * SEG]] });
  s.tcp.endBatch();
  t.is(s.out.length, 2, 'nothing left for the batch end: the duplicate ACKs covered the in-order data');
  s.clear();
  s.tcp.beginBatch();
  segments(s, 1 + 4 * SEG, 1);
  t.like(s.next(), { ack: 1 + 7 * SEG, sack: [] }, 'the hole filled: ACKed at once');
  s.tcp.endBatch();
  // After a hole, the next segments are ACKed every second one, not coalesced (quick-ACK).
  s.tcp.beginBatch();
  segments(s, 1 + 7 * SEG, 6);
  t.is(s.out.length, 3);
  s.tcp.endBatch();
  t.deepEqual(s.out.map((x) => x.ack), [9, 11, 13].map((k) => 1 + k * SEG));
});

test('coalescing between two Stacks: an initial window of ten segments arriving in one interface poll gets one ACK', (t) => {
  for (const coalesceAcks of [true, false]) {
    const clock = new VirtualClock();
    const tcp = { coalesceAcks };
    const { a, b } = simLinkPair(clock, { seedA: 1, seedB: 2, linkSeed: 3, delay: 1, tcpA: tcp, tcpB: tcp });
    b.tcp.openListener({ port: 80 });
    const conn = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 80 });
    clock.runUntil(10);
    t.is(conn.state, 'ESTABLISHED');
    const acksBefore = b.tcp.stats.segmentsOut;
    const dataBefore = a.tcp.stats.segmentsOut;
    t.is(conn.write(Buffer.alloc(10 * conn.effMss, 7)), 10 * conn.effMss);
    clock.runUntil(20);
    t.is(a.tcp.stats.segmentsOut - dataBefore, 10, 'the initial window: ten segments');
    t.is(b.tcp.stats.segmentsOut - acksBefore, coalesceAcks ? 1 : 5);
    t.is(conn.sndUna, conn.sndMax, 'all acknowledged');
    a.stop(); b.stop();
  }
});

test('coalescing between two Stacks: slow start is not slowed by stretch ACKs (a 1 MiB transfer takes no longer)', (t) => {
  const run = (coalesceAcks: boolean): { ms: number; acks: number; data: number } => {
    const clock = new VirtualClock();
    const tcp = { coalesceAcks, receiveAutoTune: false, sendBufferSize: 256 * 1024, receiveBufferSize: 256 * 1024 };
    const { a, b } = simLinkPair(clock, { seedA: 1, seedB: 2, linkSeed: 3, delay: 5, tcpA: tcp, tcpB: tcp });
    const l = b.tcp.openListener({ port: 80 });
    let got = 0;
    const scratch = new Uint8Array(65536);
    l.onAcceptable = () => {
      const s = l.accept()!;
      s.events = { onData: () => { for (let n; (n = s.read(scratch)) > 0;) got += n; } };
    };
    const conn = a.tcp.open({ host: ipv4(192, 0, 2, 2), port: 80 });
    const chunk = Buffer.alloc(16384, 1);
    let queued = 0;
    const pump = () => { while (queued < 1 << 20) { const n = conn.write(chunk); if (n === 0) return; queued += n; } };
    conn.events = { onConnect: pump, onWritable: pump };
    while (got < 1 << 20 && clock.step()) { /* run */ }
    const r = { ms: clock.now(), acks: b.tcp.stats.segmentsOut, data: a.tcp.stats.segmentsOut };
    a.stop(); b.stop();
    return r;
  };
  const on = run(true);
  const off = run(false);
  t.true(on.ms <= off.ms, `coalescing ${on.ms} ms, without ${off.ms} ms`);
  t.true(on.acks * 4 < off.acks, `ACKs: ${on.acks} coalesced, ${off.acks} without`);
});
