import test from 'ava';
import {
  BROADCAST_MAC, MacAddress, SimHub, SimNic, SimSwitch, VirtualClock, localMac, readTestSeq, writeTestFrame,
} from '../src';

function net(kind: 'switch' | 'hub', n = 4, agingTime?: number) {
  const clock = new VirtualClock();
  const fabric = kind === 'switch' ? new SimSwitch({ clock, seed: 3, agingTime }) : new SimHub({ clock, seed: 3 });
  const nics: SimNic[] = [];
  const got: number[][] = [];
  for (let i = 0; i < n; i++) {
    const nic = new SimNic({ name: `h${i}`, mac: localMac(i + 1), clock });
    fabric.connect(nic);
    const mine: number[] = [];
    nic.onReceive(() => { for (let f = nic.rx.peek(); f; f = nic.rx.peek()) { mine.push(readTestSeq(f.data)); nic.rx.release(); } });
    nics.push(nic);
    got.push(mine);
  }
  const buf = new Uint8Array(1514);
  const send = (from: number, dst: MacAddress, seq: number) => {
    nics[from].transmit(buf, writeTestFrame(buf, { src: localMac(from + 1), dst, seq, length: 64 }));
    clock.runUntilIdle();
  };
  return { clock, fabric, nics, got, send };
}

test('switch: unknown unicast floods, then the switch learns and forwards to one port', (t) => {
  const { fabric, got, send } = net('switch');
  const sw = fabric as SimSwitch;
  send(0, localMac(2), 1); // host 2 unknown: flooded to 1, 2, 3
  t.deepEqual(got.map((g) => g.length), [0, 1, 1, 1]);
  t.is(sw.lookup(localMac(1)), 0);
  t.is(sw.lookup(localMac(2)), undefined);
  send(1, localMac(1), 2); // host 1 known: only port 0
  t.deepEqual(got.map((g) => g.length), [1, 1, 1, 1]);
  send(0, localMac(2), 3); // now host 2 is known too
  t.deepEqual(got.map((g) => g.length), [1, 2, 1, 1]);
  t.is(sw.stats.flooded, 1);
  t.is(sw.stats.forwarded, 2);
  t.is(sw.stats.floodCopies, 3);
  t.deepEqual(sw.macTable().map((e) => e.port).sort(), [0, 1]);
});

test('switch: broadcast and multicast always flood, never back out of the ingress port', (t) => {
  const { got, send } = net('switch');
  send(2, BROADCAST_MAC, 1);
  send(2, 0x01005e000001 as MacAddress, 2); // IPv4 multicast MAC
  t.deepEqual(got, [[1, 2], [1, 2], [], [1, 2]]);
});

test('switch: learned addresses age out after agingTime and are flooded again', (t) => {
  const { clock, fabric, got, send } = net('switch', 3, 1000);
  const sw = fabric as SimSwitch;
  send(1, BROADCAST_MAC, 1); // learn host 2 on port 1
  send(0, localMac(2), 2);
  t.deepEqual(got.map((g) => g.length), [1, 1, 1]); // 1 went to ports 0 and 2; 2 went only to port 1
  clock.advance(999);
  t.is(sw.lookup(localMac(2)), 1);
  clock.advance(2);
  send(0, localMac(2), 3);
  t.deepEqual(got.map((g) => g.length), [1, 2, 2]);
  t.is(sw.stats.aged, 1);
});

test('switch: a station that moves is relearned on its new port; frames for its own port are filtered', (t) => {
  const { fabric, nics, got, send, clock } = net('switch', 3);
  const sw = fabric as SimSwitch;
  send(0, BROADCAST_MAC, 1);
  t.is(sw.lookup(localMac(1)), 0);
  // Host 3 claims host 1's address: the entry moves.
  const buf = new Uint8Array(64);
  nics[2].transmit(buf, writeTestFrame(buf, { src: localMac(1), dst: BROADCAST_MAC, seq: 2, length: 64 }));
  clock.runUntilIdle();
  t.is(sw.lookup(localMac(1)), 2);
  // A frame from port 2 to an address learned on port 2 is filtered.
  nics[2].transmit(buf, writeTestFrame(buf, { src: localMac(3), dst: localMac(1), seq: 3, length: 64 }));
  clock.runUntilIdle();
  t.is(sw.stats.filtered, 1);
  t.false(got[0].includes(3));
});

test('switch: a port going down takes the carrier down and flushes its addresses', (t) => {
  const { fabric, nics, got, send } = net('switch', 3);
  const sw = fabric as SimSwitch;
  send(1, BROADCAST_MAC, 1);
  t.is(sw.lookup(localMac(2)), 1);
  const changes: boolean[] = [];
  nics[1].onLinkChange((up) => changes.push(up));
  sw.setPortUp(1, false);
  t.deepEqual(changes, [false]);
  t.false(nics[1].linkUp);
  t.is(sw.lookup(localMac(2)), undefined);
  send(0, BROADCAST_MAC, 2);
  t.deepEqual(got.map((g) => g.length), [1, 0, 2]);
  sw.setPortUp(1, true);
  t.deepEqual(changes, [false, true]);
  send(0, BROADCAST_MAC, 3);
  t.deepEqual(got[1], [3]);
});

test('switch: port impairments apply per port and per direction', (t) => {
  const clock = new VirtualClock();
  const sw = new SimSwitch({ clock, seed: 11 });
  const a = new SimNic({ name: 'a', mac: localMac(1), clock });
  const b = new SimNic({ name: 'b', mac: localMac(2), clock });
  sw.connect(a, { ingress: { delay: 1 } });
  const pb = sw.connect(b, { egress: { delay: 2, loss: 0.5 } });
  const times: number[] = [];
  b.onReceive(() => { for (let f = b.rx.peek(); f; f = b.rx.peek()) { times.push(f.timestamp); b.rx.release(); } });
  const buf = new Uint8Array(64);
  for (let i = 0; i < 2000; i++) a.transmit(buf, writeTestFrame(buf, { src: localMac(1), dst: localMac(2), seq: i, length: 64 }));
  clock.runUntilIdle();
  t.true(times.every((x) => x === 3));
  t.is(pb.stats.egress.droppedLoss + times.length, 2000);
  t.true(Math.abs(times.length / 2000 - 0.5) < 0.05);
});

test('hub: every frame goes out of every other port, unicast included', (t) => {
  const { fabric, got, send } = net('hub');
  send(0, localMac(2), 1);
  send(1, localMac(1), 2);
  t.deepEqual(got, [[2], [1], [1, 2], [1, 2]]);
  t.deepEqual((fabric as SimHub).stats, { received: 2, repeated: 6 });
});

test('hub: a disconnected NIC loses its carrier and gets nothing more', (t) => {
  const { fabric, nics, got, send } = net('hub', 3);
  fabric.disconnect(nics[2]);
  t.false(nics[2].linkUp);
  send(0, BROADCAST_MAC, 1);
  t.deepEqual(got, [[], [1], []]);
  t.false(nics[2].transmit(new Uint8Array(64)));
});

test('closing a NIC unplugs it from its switch port and flushes its address', (t) => {
  const { fabric, nics, got, send } = net('switch', 3);
  const sw = fabric as SimSwitch;
  send(1, BROADCAST_MAC, 1);
  t.is(sw.lookup(localMac(2)), 1);
  nics[1].close();
  t.is(sw.port(1).nic, null);
  t.is(sw.lookup(localMac(2)), undefined);
  send(0, localMac(2), 2); // unknown again: flooded to the one NIC left
  t.deepEqual(got.map((g) => g.length), [1, 0, 2]);
});
