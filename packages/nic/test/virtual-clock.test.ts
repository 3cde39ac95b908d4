import test from 'ava';
import { NO_TIMER, SimNic, VirtualClock, localMac, readMac, writeMac, formatMac, parseMac } from '../src';

test('VirtualClock handles: never NO_TIMER, exact, and a stale handle does not cancel the timer that reuses its slot', (t) => {
  const clock = new VirtualClock();
  const ran: number[] = [];
  const a = clock.schedule(1, () => ran.push(1));
  t.not(a, NO_TIMER);
  t.true(Number.isSafeInteger(a));
  clock.runUntil(1);
  // The slot of `a` is free again: the next timer reuses it under a new generation.
  const b = clock.schedule(2, () => ran.push(2));
  t.not(b, a);
  clock.cancel(a); // stale: must not touch b
  clock.cancel(NO_TIMER); // no timer: nothing happens
  clock.runUntil(2);
  t.deepEqual(ran, [1, 2]);
  const c = clock.schedule(3, () => ran.push(3));
  clock.cancel(c);
  clock.runUntil(3);
  t.deepEqual(ran, [1, 2]);
});

test('VirtualClock keeps fractional times and starts at the given time', (t) => {
  const clock = new VirtualClock(0);
  t.is(clock.now(), 0);
  clock.schedule(0.25, () => {});
  clock.runUntil(0.25);
  t.is(clock.now(), 0.25);
  t.is(new VirtualClock(7).now(), 7);
});

test('readMac/writeMac round-trip addresses with bit 31 and bit 47 set', (t) => {
  const buf = new Uint8Array(8);
  for (const text of ['ff:ff:ff:ff:ff:ff', '02:00:80:00:00:01', '02:00:7f:ff:ff:ff', '00:00:00:00:00:00', '80:00:00:00:00:00']) {
    const mac = parseMac(text);
    writeMac(buf, 1, mac);
    t.is(readMac(buf, 1), mac, text);
    t.is(formatMac(readMac(buf, 1)), text);
  }
});

test('NIC capabilities: defaults and overrides are copied, TSO reads 0 when absent', (t) => {
  const clock = new VirtualClock();
  const plain = new SimNic({ name: 'a', mac: localMac(1), clock });
  t.is(plain.capabilities.mac, localMac(1));
  t.is(plain.capabilities.mtu, 1500);
  t.is(plain.capabilities.tsoMaxBytes, 0);
  t.is(plain.capabilities.maxBurst, 64);
  t.false(plain.capabilities.checksum.tcp.tx);
  const offload = new SimNic({
    name: 'b', mac: localMac(2), clock, mtu: 9000,
    capabilities: { tsoMaxBytes: 65535, maxBurst: 8, checksum: { ipv4: { tx: false, rx: true }, tcp: { tx: true, rx: true }, udp: { tx: false, rx: false }, icmp: { tx: true, rx: false } } },
  });
  t.is(offload.capabilities.mtu, 9000);
  t.is(offload.capabilities.tsoMaxBytes, 65535);
  t.is(offload.capabilities.maxBurst, 8);
  t.deepEqual([offload.capabilities.checksum.ipv4.rx, offload.capabilities.checksum.tcp.tx, offload.capabilities.checksum.icmp.tx, offload.capabilities.checksum.udp.rx], [true, true, true, false]);
  plain.close();
  offload.close();
});
