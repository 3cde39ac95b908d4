/**
 * Segment-level scripts in virtual time for the RFC 9293 state machine (in the spirit of
 * packetdrill's tcp/close and tcp/shutdown suites). The scripted peer's numbers are relative to
 * its ISN, the stack's to the ISN of its SYN / SYN-ACK.
 */
import test from 'ava';
import { TcpScript } from './tcp-harness';
import { TimeWaitRecord } from '../src/tcp/time-wait';

const plain = { timestamps: false, windowScaling: false };

test('passive open: LISTEN -> SYN-RECEIVED -> ESTABLISHED, SYN-ACK carries our options', (t) => {
  const s = new TcpScript({ windowScaling: true, timestamps: true });
  const l = s.tcp.openListener({ port: 8080 });
  t.is(l.state, 'LISTEN');
  s.inject({ flags: 'S', seq: 0, win: 65535, mss: 1000, wscale: 7, sackOk: true, ts: [500, 0] });
  const sa = s.next()!;
  // wscale 7: the scale reaches the receive auto-tuning ceiling (4 MiB), not just the initial 256 KiB.
  t.like(sa, { flags: 'S.', seq: 0, ack: 1, mss: 1460, wscale: 7, sackOk: true });
  t.deepEqual(sa.ts![1], 500, 'echoes the peer timestamp');
  t.is(l.synQueue.size, 1);
  const c = [...l.synQueue][0];
  t.is(c.state, 'SYN-RECEIVED');
  s.inject({ flags: '.', seq: 1, ack: 1, win: 100, ts: [501, sa.ts![0]] });
  t.is(c.state, 'ESTABLISHED');
  t.is(l.accept(), c);
  t.is(c.effMss, 1000 - 12, 'peer MSS minus timestamp option');
  t.is(c.sndWnd, 100 << 7, 'window scaled by the peer shift');
  t.is(s.next(), undefined);
});

test('active open: SYN-SENT -> ESTABLISHED; SYN offers MSS, window scale and timestamps', (t) => {
  const s = new TcpScript();
  const c = s.tcp.open({ host: '192.0.2.2', port: 40000, localPort: 8080 });
  t.is(c.state, 'SYN-SENT');
  const syn = s.next()!;
  t.like(syn, { flags: 'S', seq: 0, mss: 1460, wscale: 7, win: 65535, sackOk: true });
  t.truthy(syn.ts);
  s.inject({ flags: 'S.', seq: 0, ack: 1, win: 65535, mss: 1460 });
  t.is(c.state, 'ESTABLISHED');
  t.like(s.next(), { flags: '.', seq: 1, ack: 1 });
  t.false(c.tsEnabled, 'the peer did not echo timestamps');
  t.is(c.sndWscale, 0);
  t.is(c.rcvWscale, 0, 'no scaling unless both sides offer it');
});

test('simultaneous open: SYN-SENT -> SYN-RECEIVED -> ESTABLISHED', (t) => {
  const s = new TcpScript(plain);
  const c = s.tcp.open({ host: '192.0.2.2', port: 40000, localPort: 8080 });
  t.like(s.next(), { flags: 'S', seq: 0 });
  s.inject({ flags: 'S', seq: 0, win: 65535, mss: 1460 });
  t.is(c.state, 'SYN-RECEIVED');
  t.like(s.next(), { flags: 'S.', seq: 0, ack: 1 });
  s.inject({ flags: 'S.', seq: 0, ack: 1, win: 65535, mss: 1460 });
  t.is(c.state, 'ESTABLISHED');
  // Data flows afterwards.
  c.write(Buffer.from('hi'));
  t.like(s.next(), { flags: 'P.', seq: 1, ack: 1, len: 2 });
});

test('active close: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2MSL', (t) => {
  const s = new TcpScript({ ...plain, timeWait: 30_000 });
  const c = s.acceptOne();
  c.shutdown();
  t.is(c.state, 'FIN-WAIT-1');
  t.like(s.next(), { flags: 'F.', seq: 1, ack: 1 });
  s.inject({ flags: '.', seq: 1, ack: 2 });
  t.is(c.state, 'FIN-WAIT-2');
  s.inject({ flags: 'F.', seq: 1, ack: 2 });
  t.is(c.state, 'TIME-WAIT');
  t.like(s.next(), { flags: '.', seq: 2, ack: 2 });
  s.advance(29_999);
  t.is(c.state, 'TIME-WAIT');
  s.advance(1);
  t.is(c.state, 'CLOSED');
  t.is(s.tcp.connections().length, 0);
  t.is(s.next(), undefined);
});

test('FIN-WAIT-1 with FIN+ACK of our FIN goes straight to TIME-WAIT', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.shutdown();
  s.next();
  s.inject({ flags: 'F.', seq: 1, ack: 2 });
  t.is(c.state, 'TIME-WAIT');
  t.like(s.next(), { flags: '.', seq: 2, ack: 2 });
});

test('simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  c.shutdown();
  t.like(s.next(), { flags: 'F.', seq: 1, ack: 1 });
  s.inject({ flags: 'F.', seq: 1, ack: 1 }); // the peer's FIN crosses ours
  t.is(c.state, 'CLOSING');
  t.like(s.next(), { flags: '.', seq: 2, ack: 2 });
  s.inject({ flags: '.', seq: 2, ack: 2 });
  t.is(c.state, 'TIME-WAIT');
});

test('passive close: CLOSE-WAIT -> LAST-ACK -> CLOSED', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  let ended = false;
  let closed: unknown = 'open';
  c.events = { onEnd: () => { ended = true; }, onClose: (e) => { closed = e; } };
  s.inject({ flags: 'F.', seq: 1, ack: 1 });
  t.is(c.state, 'CLOSE-WAIT');
  t.true(ended);
  t.is(s.next(), undefined, 'the ACK of a FIN waits for our FIN (delayed ACK)');
  s.advance(40);
  t.like(s.next(), { flags: '.', seq: 1, ack: 2, time: 40 }, 'the delayed-ACK timer sends it');
  c.shutdown();
  t.is(c.state, 'LAST-ACK');
  t.like(s.next(), { flags: 'F.', seq: 1, ack: 2 });
  s.inject({ flags: '.', seq: 2, ack: 2 });
  t.is(c.state, 'CLOSED');
  t.is(closed, null);
});

test('half-close: data keeps flowing toward the side that sent FIN (and from it after our FIN)', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  s.inject({ flags: 'F.', seq: 1, ack: 1 });
  s.next();
  t.is(c.state, 'CLOSE-WAIT');
  t.is(c.write(Buffer.from('late reply')), 10);
  t.like(s.next(), { flags: 'P.', seq: 1, ack: 2, len: 10 });
  s.inject({ flags: '.', seq: 2, ack: 11 });
  // And the other direction: we shut down, the peer keeps sending.
  const s2 = new TcpScript(plain);
  const c2 = s2.acceptOne();
  c2.shutdown();
  s2.next();
  s2.inject({ flags: '.', seq: 1, ack: 2 });
  t.is(c2.state, 'FIN-WAIT-2');
  s2.inject({ flags: 'P.', seq: 1, ack: 2, data: 'more data' });
  t.is(c2.readBuffer()!.toString(), 'more data');
  t.is(c2.state, 'FIN-WAIT-2');
});

test('TIME-WAIT: a retransmitted FIN is ACKed again and restarts 2MSL', (t) => {
  const s = new TcpScript({ ...plain, timeWait: 10_000 });
  const c = s.acceptOne();
  c.shutdown();
  s.next();
  s.inject({ flags: 'F.', seq: 1, ack: 2 });
  s.next();
  s.advance(8000);
  s.inject({ flags: 'F.', seq: 1, ack: 2 });
  t.like(s.next(), { flags: '.', seq: 2, ack: 2 });
  s.advance(8000);
  t.is(c.state, 'TIME-WAIT', 'timer restarted');
  s.advance(2000);
  t.is(c.state, 'CLOSED');
});

test('TIME-WAIT: a new SYN with a higher sequence number opens a new incarnation', (t) => {
  const s = new TcpScript(plain);
  const c = s.acceptOne();
  s.inject({ flags: 'F.', seq: 1, ack: 1 });
  s.next();
  c.shutdown();
  s.next();
  s.inject({ flags: '.', seq: 2, ack: 2 });
  t.is(c.state, 'CLOSED', 'passive closer needs no TIME-WAIT');
  // The active closer side: let the stack close first.
  const s2 = new TcpScript(plain);
  const l = s2.tcp.openListener({ port: 8080 });
  s2.inject({ flags: 'S', seq: 0, mss: 1460 });
  s2.next();
  s2.inject({ flags: '.', seq: 1, ack: 1 });
  const c2 = l.accept()!;
  c2.shutdown();
  s2.next();
  s2.inject({ flags: 'F.', seq: 1, ack: 2 });
  s2.next();
  t.is(c2.state, 'TIME-WAIT');
  s2.inject({ flags: 'S', seq: 100_000, mss: 1460 });
  t.is(c2.state, 'CLOSED');
  t.like(s2.next(), { flags: 'S.', ack: 100_001 });
  t.is(l.synQueue.size, 1);
  // An old SYN (below RCV.NXT) only gets a challenge ACK from TIME-WAIT.
  const s3 = new TcpScript(plain);
  const l3 = s3.tcp.openListener({ port: 8080 });
  s3.inject({ flags: 'S', seq: 0, mss: 1460 });
  s3.next();
  s3.inject({ flags: '.', seq: 1, ack: 1 });
  const c3 = l3.accept()!;
  c3.shutdown(); s3.next();
  s3.inject({ flags: 'F.', seq: 1, ack: 2 }); s3.next();
  s3.inject({ flags: 'S', seq: 0, mss: 1460 });
  t.is(c3.state, 'TIME-WAIT');
  t.like(s3.next(), { flags: '.', seq: 2, ack: 2 });
});

test('TIME-WAIT kept as a small record answers every segment as the whole connection did', (t) => {
  // The same script twice: the connection held (control), and compacted as after its socket closed.
  const run = (compact: boolean) => {
    const s = new TcpScript({ timeWait: 10_000 });
    const c = s.acceptOne({ wscale: 7, ts: true, sack: true });
    s.inject({ flags: 'P.', seq: 1, ack: 1, data: 'hello', ts: [102, 0] });
    c.read(new Uint8Array(5));
    c.shutdown(); // our FIN
    s.inject({ flags: 'F.', seq: 6, ack: 2, ts: [103, 0] });
    t.is(c.state, 'TIME-WAIT');
    c.close(); // as a socket's destroy() does
    const layer = s.tcp as unknown as { lookup(a: number, b: number, c: number, d: number): object | null };
    const held = () => layer.lookup(s.local, s.localPort, s.peer, s.peerPort);
    if (compact) {
      s.tcp.compact(c);
      t.true(held() instanceof TimeWaitRecord, 'the layer keeps a record');
      t.is(s.tcp.stateOf(c), 'TIME-WAIT');
    } else {
      t.is(held(), c);
    }
    const trace: unknown[] = [];
    const step = (what: string) => {
      for (let seg = s.next(); seg; seg = s.next()) trace.push([what, { ...seg, data: seg.data.toString('hex') }]);
      trace.push([what, s.tcp.stats.connections, s.tcp.stats.challengeAcks, s.tcp.stats.pawsDrops, s.tcp.stats.outOfWindow]);
    };
    step('entered');
    s.advance(4000);
    s.inject({ flags: 'F.', seq: 6, ack: 2, ts: [104, 0] }); // retransmitted FIN: ACK, 2MSL again
    step('fin again');
    s.inject({ flags: 'P.', seq: 7, ack: 2, data: 'late', ts: [105, 0] }); // beyond the FIN
    step('data after fin');
    s.inject({ flags: '.', seq: 7, ack: 2, ts: [50, 0] }); // an old timestamp: PAWS
    step('paws');
    s.inject({ flags: 'S', seq: 0, ts: [50, 0] }); // an old SYN
    step('old syn');
    s.inject({ flags: '.', seq: 7, ack: 9, ts: [107, 0] }); // acknowledges what was never sent
    step('bad ack');
    s.inject({ flags: 'R', seq: 100, ts: [108, 0] }); // RST not at RCV.NXT: challenge ACK
    step('rst off');
    s.advance(9_999);
    step('before 2MSL');
    s.advance(1);
    step('after 2MSL');
    t.is(s.tcp.connections().length, 0);
    t.is(held(), null);
    t.is(s.tcp.stateOf(c), 'CLOSED');
    s.inject({ flags: 'S', seq: 100, ts: [200, 0] }); // the 4-tuple is free again
    step('new syn');
    return trace;
  };
  const control = run(false);
  t.true(control.length > 10);
  t.deepEqual(run(true), control);
});

test('SYN-RECEIVED: a retransmitted SYN gets the SYN-ACK again; SYN-ACK retransmits, then the half-open connection is dropped', (t) => {
  const s = new TcpScript({ ...plain, synRetries: 2 });
  const l = s.tcp.openListener({ port: 8080 });
  s.inject({ flags: 'S', seq: 0, mss: 1460 });
  t.like(s.next(), { flags: 'S.', seq: 0, ack: 1, time: 0 });
  s.inject({ flags: 'S', seq: 0, mss: 1460 });
  t.like(s.next(), { flags: 'S.', seq: 0, ack: 1, time: 0 });
  s.advance(1000);
  t.like(s.next(), { flags: 'S.', seq: 0, ack: 1, time: 1000 });
  s.advance(2000);
  t.like(s.next(), { flags: 'S.', seq: 0, ack: 1, time: 3000 });
  s.advance(4000);
  t.is(s.next(), undefined, 'no RST: the half-open connection just goes away');
  t.is(l.synQueue.size, 0);
  t.is(s.tcp.connections().length, 0);
  t.is(l.state, 'LISTEN');
});

test('RST in SYN-RECEIVED returns a passive connection to LISTEN', (t) => {
  const s = new TcpScript(plain);
  const l = s.tcp.openListener({ port: 8080 });
  s.inject({ flags: 'S', seq: 0, mss: 1460 });
  s.next();
  s.inject({ flags: 'R', seq: 1 });
  t.is(l.synQueue.size, 0);
  t.is(s.tcp.connections().length, 0);
  s.inject({ flags: 'S', seq: 50, mss: 1460 });
  t.like(s.next(), { flags: 'S.', ack: 51 });
});

test('listen queues are bounded: SYN queue and accept queue (backlog)', (t) => {
  const s = new TcpScript({ ...plain, synQueueLength: 2 });
  const l = s.tcp.openListener({ port: 8080, backlog: 1 });
  for (let i = 0; i < 3; i++) s.inject({ flags: 'S', seq: 0, mss: 1460, srcPort: 1000 + i });
  t.is(s.out.length, 2, 'third SYN dropped');
  t.is(l.synQueue.size, 2);
  const first = s.out[0];
  s.clear();
  s.inject({ flags: '.', raw: true, seq: s.peerIsn + 1, ack: first.absSeq + 1, srcPort: 1000 });
  t.is(l.acceptQueue.length, 1);
  s.inject({ flags: 'S', seq: 0, mss: 1460, srcPort: 2000 });
  t.is(s.out.length, 0, 'accept queue full: SYN dropped');
  t.true((s.tcp.stats.errors['listen-overflow'] ?? 0) >= 2);
  l.accept();
  s.inject({ flags: 'S', seq: 0, mss: 1460, srcPort: 2000 });
  t.like(s.next(), { flags: 'S.' });
});

test('closing a listener resets its queued connections; the port answers RST afterwards', (t) => {
  const s = new TcpScript(plain);
  const l = s.tcp.openListener({ port: 8080 });
  s.inject({ flags: 'S', seq: 0, mss: 1460 });
  s.next();
  s.inject({ flags: '.', seq: 1, ack: 1 });
  s.tcp.closeListener(l);
  t.is(l.state, 'CLOSED');
  t.like(s.next(), { flags: 'R.', seq: 1 });
  s.inject({ flags: 'S', seq: 0, mss: 1460, srcPort: 999 });
  t.like(s.next(), { flags: 'R.', absSeq: 0, ack: 1 });
});

test('every one of the eleven states is reachable', (t) => {
  const seen = new Set<string>();
  const s = new TcpScript(plain);
  const l = s.tcp.openListener({ port: 8080 });
  seen.add(l.state);
  const a = s.tcp.open({ host: '192.0.2.2', port: 40000, localPort: 9000 });
  seen.add(a.state);
  a.abort();
  seen.add(a.state);
  s.inject({ flags: 'S', seq: 0, mss: 1460 });
  seen.add([...l.synQueue][0].state);
  s.inject({ flags: '.', seq: 1, ack: 1 });
  const c = l.accept()!;
  seen.add(c.state);
  c.shutdown(); seen.add(c.state);
  s.inject({ flags: 'F.', seq: 1, ack: 1 }); seen.add(c.state); // CLOSING
  s.inject({ flags: '.', seq: 2, ack: 2 }); seen.add(c.state); // TIME-WAIT
  const s2 = new TcpScript(plain);
  const c2 = s2.acceptOne();
  c2.shutdown(); s2.inject({ flags: '.', seq: 1, ack: 2 }); seen.add(c2.state); // FIN-WAIT-2
  const s3 = new TcpScript(plain);
  const c3 = s3.acceptOne();
  s3.inject({ flags: 'F.', seq: 1, ack: 1 }); seen.add(c3.state); // CLOSE-WAIT
  c3.shutdown(); seen.add(c3.state); // LAST-ACK
  t.deepEqual([...seen].sort(), ['CLOSED', 'CLOSE-WAIT', 'CLOSING', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'LAST-ACK',
    'LISTEN', 'SYN-RECEIVED', 'SYN-SENT', 'TIME-WAIT'].sort());
});

test('shutdown before the handshake completes sends the FIN right after it', (t) => {
  const s = new TcpScript(plain);
  const c = s.tcp.open({ host: '192.0.2.2', port: 40000, localPort: 8080 });
  s.next();
  c.write(Buffer.from('req'));
  c.shutdown();
  t.is(c.state, 'SYN-SENT');
  s.inject({ flags: 'S.', seq: 0, ack: 1, mss: 1460 });
  t.is(c.state, 'FIN-WAIT-1');
  t.like(s.next(), { flags: 'FP.', seq: 1, ack: 1, len: 3 });
  t.is(s.next(), undefined);
});

test('ephemeral ports (RFC 6056 double-hash): a keyed start per peer, then successive ports; reused across peers when the range is exhausted', (t) => {
  const s = new TcpScript({ ...plain, ephemeralPortMin: 50000, ephemeralPortMax: 50001 });
  const a = s.tcp.open({ host: '192.0.2.2', port: 80 });
  const b = s.tcp.open({ host: '192.0.2.2', port: 80 });
  t.deepEqual([a.localPort, b.localPort].sort(), [50000, 50001]);
  const c = s.tcp.open({ host: '192.0.2.2', port: 81 });
  t.true(c.localPort === 50000 || c.localPort === 50001, 'same local port, different 4-tuple');
  t.throws(() => s.tcp.open({ host: '192.0.2.2', port: 80 }), { code: 'EADDRNOTAVAIL' } as never);
  const s2 = new TcpScript(plain);
  const ports: number[] = [];
  for (let i = 0; i < 50; i++) ports.push(s2.tcp.open({ host: '192.0.2.2', port: 80 }).localPort);
  t.is(new Set(ports).size, 50);
  t.true(ports.every((p) => p >= 49152 && p <= 65535));
  const steps = ports.slice(1).map((p, i) => (p - ports[i] + 16384) % 16384);
  t.true(steps.every((d) => d === 1 || d === 2),
    'successive ports toward one peer (one comes back only after the whole range: no early TIME-WAIT collision)');
  t.true(steps.filter((d) => d === 2).length >= 1 && steps.filter((d) => d === 1).length >= 40,
    'mostly the next port, now and then one skipped at random (so the sequence is not predictable)');
  const elsewhere = s2.tcp.open({ host: '192.0.2.2', port: 81 }).localPort;
  t.false([1, 2].includes((elsewhere - ports[49] + 16384) % 16384), 'another peer (port 81) starts at its own point');
  const otherKey = new TcpScript(plain, 2).tcp.open({ host: '192.0.2.2', port: 80 }).localPort;
  t.not(otherKey, ports[0], 'the start is keyed: another stack starts elsewhere');
});

test('sequence numbers wrap around 2^32 in both directions', (t) => {
  const s = new TcpScript(plain);
  s.peerIsn = 0xfffff000; // the peer's data crosses 2^32 after 4 KB
  (s.tcp as unknown as { isn: { next: () => number } }).isn.next = () => 0xffffff00; // and so does ours after 255 bytes
  const c = s.acceptOne();
  t.is(c.iss as number, 0xffffff00);
  const chunks = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => Buffer.alloc(1000, i + 1));
  // Out of order around the wrap: 2, 0, 1, then the rest; a duplicate too.
  for (const i of [2, 0, 1, 3, 5, 4, 6, 7, 3]) s.inject({ flags: '.', seq: 1 + i * 1000, ack: 1, data: chunks[i] });
  t.true(c.rcvNxt < 0x10000, 'RCV.NXT wrapped');
  t.deepEqual(c.readBuffer(), Buffer.concat(chunks));
  s.clear();
  c.write(Buffer.alloc(3000, 9));
  t.deepEqual(s.out.map((x) => [x.seq, x.len]), [[1, 1460], [1461, 1460]]);
  t.is(s.out[1].absSeq, 0x4b5, 'the second segment starts past 2^32');
  s.clear();
  s.inject({ flags: '.', seq: 8001, ack: 2921 });
  t.true(c.sndUna < 0x10000, 'SND.UNA wrapped');
  t.like(s.next(), { seq: 2921, len: 80 });
  s.inject({ flags: '.', seq: 8001, ack: 3001 });
  t.is(c.flightSize, 0);
  c.shutdown();
  s.inject({ flags: 'F.', seq: 8001, ack: 3002 });
  t.is(c.state, 'TIME-WAIT');
});

test('sequence numbers above 2^31 (negative as the int32 the stack holds): an early FIN waits for the hole, SACK names the newest block first', (t) => {
  const s = new TcpScript(plain);
  s.peerIsn = 0xf0000000; // every sequence number of the peer's is above 2^31
  const c = s.acceptOne({ sack: true });
  t.true((c.rcvNxt as number) < 0, 'held as int32');
  // Out of order: 2001..3000, then 4001..5000 (the newest block), each ACKed at once with SACK.
  s.inject({ flags: '.', seq: 2001, ack: 1, data: Buffer.alloc(1000, 2) });
  s.inject({ flags: '.', seq: 4001, ack: 1, data: Buffer.alloc(1000, 4) });
  const acks = s.out.filter((x) => x.sack.length > 0);
  t.like(acks[acks.length - 1], { ack: 1, sack: [[4001, 5001], [2001, 3001]] });
  // The FIN comes before the data ahead of it: it is kept until RCV.NXT reaches it.
  s.inject({ flags: 'F.', seq: 5001, ack: 1 });
  t.is(c.state, 'ESTABLISHED');
  for (const i of [0, 1, 3]) s.inject({ flags: '.', seq: 1 + i * 1000, ack: 1, data: Buffer.alloc(1000, i) });
  t.is(c.state, 'CLOSE-WAIT', 'the early FIN took effect once the holes filled');
  t.is(c.readBuffer()!.length, 5000);
  t.like(s.out[s.out.length - 1], { ack: 5002 });
});
