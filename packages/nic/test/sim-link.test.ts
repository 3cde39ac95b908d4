import test from 'ava';
import { BROADCAST_MAC, SimLink, SimNic, VirtualClock, localMac, writeMac } from '../src';

function pair(delay = 0) {
  const clock = new VirtualClock();
  const a = new SimNic({ name: 'a', mac: localMac(1), clock });
  const b = new SimNic({ name: 'b', mac: localMac(2), clock });
  const link = new SimLink({ clock, seed: 7, delay });
  link.connect(a, b);
  return { clock, a, b, link };
}

function frame(seq: number, length = 64): Uint8Array {
  const f = new Uint8Array(length);
  writeMac(f, 0, BROADCAST_MAC);
  writeMac(f, 6, localMac(1));
  f[12] = 0x88; f[13] = 0xb5; // local experimental EtherType
  f[14] = seq & 0xff; f[15] = (seq >> 8) & 0xff;
  return f;
}

test('a frame crosses the link after its delay, in virtual time', (t) => {
  const { clock, a, b } = pair(5);
  let seen = 0;
  b.onReceive(() => { seen++; });
  t.true(a.linkUp);
  t.true(b.linkUp);
  t.true(a.transmit(frame(3, 100)));
  clock.runUntil(4.999);
  t.is(b.rx.size, 0);
  clock.runUntil(5);
  t.is(seen, 1);
  const f = b.rx.peek()!;
  t.is(f.length, 100);
  t.is(f.timestamp, 5);
  t.is(f.data[14], 3);
  b.rx.release();
  t.is(a.counters.txPackets, 1);
  t.is(b.counters.rxPackets, 1);
  t.is(b.counters.rxBytes, 100);
});

test('both directions work independently and keep order', (t) => {
  const { clock, a, b, link } = pair(1);
  for (let i = 0; i < 10; i++) { a.transmit(frame(i)); b.transmit(frame(100 + i)); }
  clock.runUntilIdle();
  for (let i = 0; i < 10; i++) {
    t.is(b.rx.peek()!.data[14], i); b.rx.release();
    t.is(a.rx.peek()!.data[14], 100 + i); a.rx.release();
  }
  t.is(link.stats.aToB.delivered, 10);
  t.is(link.stats.bToA.delivered, 10);
});

test('zero delay never delivers re-entrantly inside transmit', (t) => {
  const { clock, a, b } = pair(0);
  a.transmit(frame(1));
  t.is(b.rx.size, 0);
  clock.runUntilIdle();
  t.is(b.rx.size, 1);
});

test('disconnect takes the carrier down on both ends and loses frames in flight', (t) => {
  const { clock, a, b, link } = pair(10);
  const changes: string[] = [];
  a.onLinkChange((up) => changes.push(`a:${up}`));
  b.onLinkChange((up) => changes.push(`b:${up}`));
  a.transmit(frame(1));
  link.disconnect();
  t.false(a.linkUp);
  t.false(b.linkUp);
  t.deepEqual(changes, ['a:false', 'b:false']);
  t.false(a.transmit(frame(2)));
  t.is(a.counters.txDrops, 1);
  clock.runUntilIdle();
  t.is(b.rx.size, 0);
  t.is(link.stats.aToB.droppedNoCarrier, 1);
  link.connect(a, b);
  t.true(a.linkUp);
  t.deepEqual(changes, ['a:false', 'b:false', 'a:true', 'b:true']);
});

test('an unattached SimNic has no carrier; connecting twice is an API error', (t) => {
  const clock = new VirtualClock();
  const a = new SimNic({ name: 'a', mac: localMac(1), clock });
  t.false(a.linkUp);
  t.false(a.transmit(frame(0)));
  const { a: a2, b: b2, link } = pair();
  t.throws(() => link.connect(a2, b2), { message: /already connected/ });
  const other = new SimLink({ clock });
  const c = new SimNic({ name: 'c', mac: localMac(3), clock });
  t.throws(() => other.connect(a2, c), { message: /already attached/ });
  t.false(c.attached);
  t.true(a2.linkUp);
});

test('a NIC set administratively down drops what arrives', (t) => {
  const { clock, a, b } = pair(1);
  a.transmit(frame(1));
  b.setLinkUp(false);
  clock.runUntilIdle();
  t.is(b.rx.size, 0);
  t.is(b.counters.rxDrops, 1);
});

test('closing a NIC unplugs it: the far end loses carrier', (t) => {
  const { clock, a, b, link } = pair(1);
  const events: string[] = [];
  a.onLinkChange((up) => events.push(`a:${up}`));
  b.onLinkChange((up) => events.push(`b:${up}`));
  a.transmit(frame(1));
  b.close();
  t.deepEqual(events.sort(), ['a:false', 'b:false']);
  t.false(b.linkUp);
  t.false(a.linkUp);
  t.false(link.isConnected);
  clock.runUntilIdle();
  t.is(link.stats.aToB.droppedNoCarrier, 1);
  b.close();
  t.false(b.transmit(frame(2)));
});

test('frames built in txBuffer() cross without a copy and survive the next txBuffer() while in flight', (t) => {
  const { clock, a, b, link } = pair(1);
  const sent: number[][] = [];
  let first: Uint8Array | null = null;
  for (let i = 0; i < 5; i++) {
    const buf = a.txBuffer();
    t.true(buf.length >= a.maxFrameSize);
    if (i === 0) first = buf;
    else t.not(buf, first, 'a frame in flight keeps its buffer');
    buf.set(frame(i, 80));
    buf.fill(i + 1, 16, 80);
    sent.push([...buf.subarray(0, 80)]);
    t.true(a.transmit(buf, 80));
  }
  t.is(link.channel('aToB').inFlight, 5);
  clock.runUntil(1);
  for (let i = 0; i < 5; i++) {
    const f = b.rx.peek()!;
    t.deepEqual([...f.data.subarray(0, f.length)], sent[i], `frame ${i} intact`);
    b.rx.release();
  }
  t.is(link.channel('aToB').inFlight, 0);
  t.is(a.txBuffer(), a.txBuffer(), 'the same buffer until it is sent');
});

test('a delivered frame is not copied into the receiving ring: the ring takes the buffer it was built in', (t) => {
  const { clock, a, b, link } = pair(0);
  const built: Uint8Array[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) {
      const buf = a.txBuffer();
      built.push(buf);
      buf.set(frame(round * 4 + i, 200));
      t.true(a.transmit(buf, 200));
    }
    clock.runUntil(clock.now());
    for (let i = 0; i < 4; i++) {
      const f = b.rx.peek()!;
      t.is(f.data, built[round * 4 + i], `frame ${round * 4 + i} is the buffer it was built in`);
      t.is(f.data[14], round * 4 + i);
      b.rx.release();
    }
  }
  // The ring's old slots went to the link's pool and are lent out again: nothing is allocated per frame.
  t.true(link.channel('aToB').poolCapacity <= 16);
  t.is(b.counters.rxPackets, 12);
});

test('a lent frame that is duplicated and corrupted: each copy has only its own corruption', (t) => {
  const clock = new VirtualClock();
  const a = new SimNic({ name: 'a', mac: localMac(1), clock });
  const b = new SimNic({ name: 'b', mac: localMac(2), clock });
  const link = new SimLink({ clock, seed: 7, aToB: { duplicate: 1, corrupt: 1, corruptFrom: 14 } });
  link.connect(a, b);
  const buf = a.txBuffer();
  buf.set(frame(9, 200));
  const original = [...buf.subarray(0, 200)];
  t.true(a.transmit(buf, 200));
  clock.runUntil(0);
  t.is(b.rx.size, 2);
  const one = [...b.rx.peek()!.data.subarray(0, 200)]; b.rx.release();
  const two = [...b.rx.peek()!.data.subarray(0, 200)]; b.rx.release();
  t.is(link.stats.aToB.corrupted, 2);
  t.is(link.stats.aToB.duplicated, 1);
  // Each copy carries its own one flipped bit, not the other's too.
  const bitsOff = (x: number[]) => x.reduce((n, v, i) => { let d = v ^ original[i]; while (d) { n += d & 1; d >>= 1; } return n; }, 0);
  t.is(bitsOff(one), 1);
  t.is(bitsOff(two), 1);
});
