import test from 'ava';
import { localMac, RealClock, Rng, SimLink, SimNic } from '@pnet/nic';
import { Stack } from '@pnet/tcpip';
import { boot, stackControl, stackDatagrams, System, UDPHandle } from '../src';

/**
 * `ipconfig`, `route`, `arp`, `control`, `events` and `udp://` against the
 * real pnet Stack: this host (10.0.0.1) and a peer (10.0.0.2) on a
 * simulated link, in real time.
 */
interface World {
  sys: System;
  host: Stack;
  peer: Stack;
  peerMac: string;
}

async function world(): Promise<World> {
  const clock = new RealClock({ keepAlive: true });
  const link = new SimLink({ clock });
  const nicA = new SimNic({ name: 'a', mac: localMac(1), clock });
  const nicB = new SimNic({ name: 'b', mac: localMac(2), clock });
  link.connect(nicA, nicB);
  const host = new Stack({ clock, rng: new Rng(1), name: 'host' });
  const peer = new Stack({ clock, rng: new Rng(2), name: 'peer' });
  host.addInterface(nicA);
  peer.addInterface(nicB, { ip: '10.0.0.2', netmask: 24, up: true });
  host.start();
  peer.start();
  const sys = await boot({
    backends: {
      stack: stackControl(host),
      datagrams: stackDatagrams(host),
      close: () => {
        host.close();
        peer.close();
        clock.cancelAll();
      },
    },
  });
  return { sys, host, peer, peerMac: '02:00:00:00:00:02' };
}

test('ipconfig reads and sets an interface, Phoenix shapes in and out', async (t) => {
  const { sys } = await world();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  t.deepEqual(n.ipconfig('lo'), { ip: '127.0.0.1', netmask: 8, up: true });
  t.deepEqual(n.ipconfig('eth0', { ip: '10.0.0.1', netmask: 24 }), { ip: '10.0.0.1', netmask: 24, up: true });
  t.deepEqual(n.ipconfig('eth0', { netmask: '255.255.0.0' }), { ip: '10.0.0.1', netmask: 16, up: true });
  t.deepEqual(n.ipconfig('eth0', { ip: 0x0a000001, netmask: 24, up: false }), { ip: '10.0.0.1', netmask: 24, up: false });
  t.deepEqual(n.ipconfig('eth0', { up: true }), { ip: '10.0.0.1', netmask: 24, up: true });
  t.deepEqual(n.ipconfig('eth0'), { ip: '10.0.0.1', netmask: 24, up: true });
  t.is(n.ipconfig('eth9'), null);
  // Setting an address adds local and broadcast routes to table 0.
  const t0 = n.route.list(0)!;
  t.true(t0.some((r) => r.action === 'local' && r.device === 'eth0'));
  t.true(t0.some((r) => r.action === 'broadcast' && r.source === '10.0.0.255' && r.sourceNetmask === 32));
  t.throws(() => n.ipconfig(1 as never), { message: "bad argument #1 to 'ipconfig' (expected string, got number)" });
  t.throws(() => n.ipconfig('eth0', 'x' as never), { message: "bad argument #2 to 'ipconfig' (expected table or nil, got string)" });
  t.throws(() => n.ipconfig('eth0', { ip: true } as never), { message: 'bad field "ip" (expected string, number, or nil, got boolean)' });
  t.throws(() => n.ipconfig('eth0', { netmask: {} } as never), { message: 'bad field "netmask" (expected string, number, or nil, got table)' });
  t.throws(() => n.ipconfig('eth0', { up: 'yes' } as never), { message: 'bad field "up" (expected boolean or nil, got string)' });
  t.throws(() => n.ipconfig('eth0', { ip: '10.0.0.300' }), { message: 'Invalid IP address' });
  t.throws(() => n.ipconfig('eth0', { netmask: '255.0.255.0' }), { message: 'Invalid netmask' });
});

test('route.list, add, remove with Phoenix errors', async (t) => {
  const { sys } = await world();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  n.ipconfig('eth0', { ip: '10.0.0.1', netmask: 24 });
  t.is(n.route.list(5), null, 'a table that does not exist');
  n.route.add({ source: '192.0.2.77', sourceNetmask: 24, action: 'unicast', device: 'eth0', destination: '10.0.0.2' });
  n.route.add({ table: 2, source: '198.51.100.0', sourceNetmask: '255.255.255.0', action: 'blackhole' });
  t.deepEqual(n.route.list(), [{ source: '192.0.2.0', sourceNetmask: 24, action: 'unicast', device: 'eth0', destination: '10.0.0.2' }]);
  t.deepEqual(n.route.list(2), [{ source: '198.51.100.0', sourceNetmask: 24, action: 'blackhole' }]);
  t.throws(() => n.route.add({ source: '192.0.2.1', sourceNetmask: 24, action: 'unicast', device: 'eth0' }), { message: 'Route already exists' });
  t.throws(() => n.route.add({ source: '192.0.2.0', sourceNetmask: 24, action: 'teleport' as never }), { message: "bad field 'action' (invalid option 'teleport')" });
  t.throws(() => n.route.add({ source: '203.0.113.0', sourceNetmask: 24, action: 'local' } as never), { message: 'bad field "device" (expected string, got nil)' });
  t.throws(() => n.route.add({ source: '203.0.113.0', sourceNetmask: 24, action: 'unicast', device: 'eth7' }), { message: 'No such device' });
  t.throws(() => n.route.add({ source: true, sourceNetmask: 24, action: 'prohibit' } as never), { message: 'bad field "source" (expected string or number, got boolean)' });
  t.throws(() => n.route.add({ table: 0, source: '203.0.113.0', sourceNetmask: 24, action: 'prohibit' }), { message: 'number outside of range (expected 0 to be within 1 and inf)' });
  t.throws(() => n.route.add('x' as never), { message: "bad argument #1 to 'add' (expected table, got string)" });
  t.throws(() => n.route.list('1' as never), { message: "bad argument #1 to 'list' (expected number or nil, got string)" });
  t.throws(() => n.route.list(-1), { message: 'number outside of range (expected -1 to be within 0 and inf)' });
  t.true(n.route.remove('192.0.2.5', 24));
  t.false(n.route.remove('192.0.2.0', 24), 'already gone');
  t.deepEqual(n.route.list(), []);
  t.true(n.route.remove('198.51.100.0', '255.255.255.0', 2));
  t.throws(() => n.route.remove('192.0.2.0', 24, 9), { message: 'Route table does not exist' });
  t.throws(() => n.route.remove({} as never, 24), { message: "bad argument #1 to 'remove' (expected string or number, got table)" });
  t.throws(() => n.route.remove('192.0.2.0', 24, 0), { message: 'number outside of range (expected 0 to be within 1 and inf)' });
});

test('control ping: the answer arrives as network_event while events are on; arp learns the peer', async (t) => {
  const { sys, peerMac } = await world();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  n.ipconfig('eth0', { ip: '10.0.0.1', netmask: 24 });
  t.false(n.events());
  t.true(n.events(true));
  t.true(n.events());
  n.control('10.0.0.2', 'ping');
  const [name, ev] = await n.pullEvent('network_event');
  t.is(name, 'network_event');
  t.is(ev.type, 'control');
  t.is(ev.messageType, 'pong');
  t.is(ev.sender, '10.0.0.2');
  t.true(typeof ev.rtt === 'number' && ev.rtt >= 0);
  t.is(n.arp.list('eth0')['10.0.0.2'], peerMac);

  // A prohibited destination answers at once with "unreachable".
  n.route.add({ source: '10.9.0.0', sourceNetmask: 16, action: 'prohibit' });
  n.control('10.9.0.1', 'ping');
  const [, un] = await n.pullEvent('network_event');
  t.is(un.messageType, 'unreachable');
  t.is(un.sender, '10.9.0.1');
  t.regex(un.error, /prohibit/i);

  t.throws(() => n.control('10.0.0.2', 'knock' as never), { message: "bad argument #2 (invalid option 'knock')" });
  t.throws(() => n.control({} as never, 'ping'), { message: "bad argument #1 to 'control' (expected string or number, got table)" });
  t.throws(() => n.control('10.0.0.2', 'ping', 5 as never), { message: "bad argument #3 to 'control' (expected string or nil, got number)" });
  t.throws(() => n.control('10.0.0.2.7', 'ping'), { message: 'Invalid IP address' });
  t.throws(() => n.events('on' as never), { message: "bad argument #1 to 'events' (expected boolean or nil, got string)" });
});

test('a ping from the peer is reported as network_event; nothing is queued while events are off', async (t) => {
  const { sys, peer } = await world();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  n.ipconfig('eth0', { ip: '10.0.0.1', netmask: 24 });
  await peer.icmp.ping('10.0.0.1');
  t.is(n.pollEvent('network_event'), null, 'events are off by default');
  n.events(true);
  await peer.icmp.ping('10.0.0.1');
  const [, ev] = await n.pullEvent('network_event');
  t.deepEqual(ev, { type: 'control', messageType: 'ping', sender: '10.0.0.2' });
  n.events(false);
  n.control('10.0.0.2', 'ping');
  await peer.icmp.ping('10.0.0.1');
  await peer.icmp.ping('10.0.0.1');
  t.is(n.pollEvent('network_event'), null);
});

test('control pong sends an echo reply the peer sees; unreachable and timeout need a packet to quote', async (t) => {
  const { sys, peer } = await world();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  n.ipconfig('eth0', { ip: '10.0.0.1', netmask: 24 });
  const seen = new Promise<{ type: string; from: number }>((resolve) => {
    const off = peer.icmp.onEvent((e) => {
      if (e.type === 'pong') {
        off();
        resolve({ type: e.type, from: e.from });
      }
    });
  });
  n.control('10.0.0.2', 'pong');
  const e = await seen;
  t.is(e.type, 'pong');
  t.is(e.from, 0x0a000001);
  t.throws(() => n.control('10.0.0.2', 'unreachable', 'No route to host'), { message: /unreachable quote a packet/ });
  t.throws(() => n.control('10.0.0.2', 'timeout'), { message: /timeout quote a packet/ });
});

test('arp.list and arp.set (MAC addresses where Phoenix had computer IDs)', async (t) => {
  const { sys } = await world();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  n.ipconfig('eth0', { ip: '10.0.0.1', netmask: 24 });
  n.arp.set('eth0', '10.0.0.9', '02:00:00:00:00:99');
  n.arp.set('eth0', 0x0a00000a, '02-00-00-00-00-AA');
  t.is(n.arp.list('eth0')['10.0.0.9'], '02:00:00:00:00:99');
  t.is(n.arp.list('eth0')['10.0.0.10'], '02:00:00:00:00:aa');
  n.arp.set('eth0', '10.0.0.9', null);
  t.false('10.0.0.9' in n.arp.list('eth0'));
  t.throws(() => n.arp.set('eth0', '10.0.0.9', 'zz:00'), { message: 'Invalid MAC address' });
  t.throws(() => n.arp.set('eth0', '10.0.0.9', 7 as never), { message: "bad argument #3 to 'set' (expected string or nil, got number)" });
  t.throws(() => n.arp.set(1 as never, '10.0.0.9', null), { message: "bad argument #1 to 'set' (expected string, got number)" });
  t.throws(() => n.arp.set('eth5', '10.0.0.9', null), { message: 'No such device' });
  t.throws(() => n.arp.list('eth5'), { message: 'No such device' });
  t.throws(() => n.arp.list(undefined as never), { message: "bad argument #1 to 'list' (expected string, got nil)" });
});

test('udp over the Stack: connect to a peer echo, and listen for the peer', async (t) => {
  const { sys, peer } = await world();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  n.ipconfig('eth0', { ip: '10.0.0.1', netmask: 24 });
  const echo = peer.udp.bind({ port: 7 });
  echo.on('message', (data, rinfo) => echo.send(data, rinfo.port, rinfo.address));

  const h = n.connect(`udp://10.0.0.2:7`) as UDPHandle;
  await h.whenStatus('open');
  const data = new Promise((r) => h.once('handle_data_ready', r));
  h.write('over the stack');
  await data;
  t.deepEqual(h.read('*a'), Buffer.from('over the stack'));
  t.is(h.remoteIP(), '10.0.0.2');
  h.close();

  const port = await n.listen('udp://0.0.0.0:5000');
  t.is(port, 5000);
  await t.throwsAsync(n.listen('udp://0.0.0.0:5000'), { message: 'Port already open' });
  const client = peer.udp.bind({});
  const reply = new Promise<string>((r) => client.once('message', (d) => r(String(d))));
  client.send('hi host', 5000, '10.0.0.1');
  const [, req] = await n.pullEvent('network_request');
  t.is(req.ip, '10.0.0.2');
  const lh = req.handle as UDPHandle;
  t.deepEqual(lh.read(), Buffer.from('hi host'));
  lh.write('hi peer');
  t.is(await reply, 'hi peer');
  t.true(await n.unlisten('udp://0.0.0.0:5000'));
});
