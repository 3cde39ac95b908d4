import test from 'ava';
import { boot, registerEmbeddedWorld } from '../src';
import { createEmbeddedWorld } from '../src/world';
import { EventQueue } from '../src/events/event-queue';
import { checkBootOptions } from '../src/system/boot-options';
import { expectArg, expectField, expectRange, luaType } from '../src/lua/lua-errors';

test('Lua type names and Phoenix\'s expect texts', (t) => {
  t.is(luaType(undefined), 'nil');
  t.is(luaType(null), 'nil');
  t.is(luaType(1), 'number');
  t.is(luaType('s'), 'string');
  t.is(luaType({}), 'table');
  t.is(luaType([]), 'table');
  t.is(luaType(false), 'boolean');
  t.is(luaType(() => 1), 'function');
  t.throws(() => expectArg('f', 2, 1, 'string'), { message: "bad argument #2 to 'f' (expected string, got number)" });
  t.throws(() => expectArg('f', 1, 1, 'string', 'table'), { message: "bad argument #1 to 'f' (expected string or table, got number)" });
  t.throws(() => expectArg('f', 1, 1, 'string', 'table', 'nil'), { message: "bad argument #1 to 'f' (expected string, table, or nil, got number)" });
  t.throws(() => expectField({}, 'url', 'string'), { message: 'bad field "url" (expected string, got nil)' });
  t.is(expectArg('f', 1, new Uint8Array(1), 'bytes') instanceof Uint8Array, true);
  t.throws(() => expectArg('f', 1, new Uint8Array(1), 'table'), { message: "bad argument #1 to 'f' (expected table, got userdata)" });
  t.throws(() => expectRange(0, 1), { message: 'number outside of range (expected 0 to be within 1 and inf)' });
  t.is(expectRange(3, 1, 5), 3);
});

test('event queue: filtered pulls leave other events queued; waiting pulls get the next match', async (t) => {
  const q = new EventQueue(3);
  q.push('a', 1);
  q.push('b', 2);
  t.deepEqual(await q.pull('b'), ['b', 2]);
  t.deepEqual(await q.pull(), ['a', 1]);
  const waiting = q.pull('c', (p) => p > 5);
  q.push('c', 1);
  q.push('c', 9);
  t.deepEqual(await waiting, ['c', 9]);
  t.deepEqual(q.poll('c'), ['c', 1]);
  t.is(q.poll(), null);
  for (let i = 0; i < 5; i++) q.push('x', i);
  t.is(q.size, 3);
  t.is(q.dropped, 2);
  t.deepEqual(q.poll(), ['x', 2]);
  const pending = q.pull('never');
  q.close(new Error('gone'));
  await t.throwsAsync(pending, { message: 'gone' });
  await t.throwsAsync(q.pull(), { message: 'gone' });
});

test('pullEvent and pollEvent check their arguments', async (t) => {
  const sys = await boot({ backends: {} });
  t.teardown(() => sys.shutdown());
  await t.throwsAsync(sys.network.pullEvent(5 as never), { message: "bad argument #1 to 'pullEvent' (expected string or nil, got number)" });
  await t.throwsAsync(sys.network.pullEvent('x', 'y' as never), { message: "bad argument #2 to 'pullEvent' (expected function or nil, got string)" });
  t.throws(() => sys.network.pollEvent({} as never), { message: "bad argument #1 to 'pollEvent' (expected string or nil, got table)" });
  t.is(sys.network.pollEvent(), null);
});

test('boot options: shapes and errors', (t) => {
  t.deepEqual(checkBootOptions(undefined), { kind: 'world', time: 'virtual', seed: 1 });
  t.deepEqual(checkBootOptions({ time: 'real', seed: 7, pcap: '/tmp/x.pcap' }), { kind: 'world', time: 'real', seed: 7, pcap: '/tmp/x.pcap' });
  t.deepEqual(checkBootOptions({ nic: { tap: 'tap0' }, address: 'dhcp' }), { kind: 'tap', tap: 'tap0', address: 'dhcp', dns: [] });
  t.deepEqual(checkBootOptions({ nic: { tap: 'tap0' }, address: '192.0.2.2/24', gateway: '192.0.2.1', dns: '192.0.2.53' }), {
    kind: 'tap',
    tap: 'tap0',
    address: { ip: '192.0.2.2', prefix: 24 },
    gateway: '192.0.2.1',
    dns: ['192.0.2.53'],
  });
  t.throws(() => checkBootOptions({ nic: { tap: 'tap0' }, address: '192.0.2.2' }), { message: /address must be "dhcp" or "a.b.c.d\/prefix"/ });
  t.throws(() => checkBootOptions({ nic: { tap: 'tap0' }, address: '192.0.2.2/33' }), { message: /invalid address/ });
  t.throws(() => checkBootOptions({ nic: { tap: 'tap0' }, address: 'dhcp', gateway: 'x' }), { message: /invalid gateway/ });
  t.throws(() => checkBootOptions({ nic: { tap: '' }, address: 'dhcp' }), { message: /nic must be/ });
  t.throws(() => checkBootOptions({ time: 'fast' as never }), { message: /time must be "virtual" or "real"/ });
  t.throws(() => checkBootOptions({ seed: NaN }), { message: /seed must be a finite number/ });
});

test.serial('boot() runs the embedded world that is registered, and shutdown releases it', async (t) => {
  let closed = 0;
  const seen: unknown[] = [];
  registerEmbeddedWorld(async (options) => {
    seen.push(options);
    const { RealClock } = await import('@pnet/nic');
    return { backends: {}, clock: new RealClock(), close: async () => void closed++ };
  });
  t.teardown(() => registerEmbeddedWorld(createEmbeddedWorld));
  const sys = await boot({ seed: 42 });
  t.deepEqual(seen, [{ time: 'virtual', seed: 42, impairments: undefined, pcap: undefined }]);
  t.is(typeof sys.network.connect, 'function');
  const pending = sys.network.pullEvent();
  await sys.shutdown();
  await sys.shutdown();
  t.is(closed, 1, 'shutdown is idempotent');
  await t.throwsAsync(pending, { message: 'The system has been shut down' });
  t.throws(() => sys.network.connect('tcp://127.0.0.1:1'), { message: 'The system has been shut down' });
});

test.serial('boot() without a registered world says what is missing', async (t) => {
  registerEmbeddedWorld(null);
  t.teardown(() => registerEmbeddedWorld(createEmbeddedWorld));
  await t.throwsAsync(boot(), { message: /embedded world is not available yet/ });
});

test('shutdown closes open handles and listeners', async (t) => {
  const { nodeBackends } = await import('./helpers/node-backends');
  const sys = await boot({ backends: nodeBackends() });
  const h = sys.network.connect('http://127.0.0.1:1/');
  const port = await sys.network.listen('tcp://127.0.0.1:0');
  await sys.shutdown();
  t.deepEqual(h.status(), ['closed']);
  t.throws(() => h.close(), { message: 'attempt to close a closed handle' });
  // The port is free again.
  const again = await boot({ backends: nodeBackends() });
  t.teardown(() => again.shutdown());
  t.is(await again.network.listen(`tcp://127.0.0.1:${port}`), port);
});

test('connect is typed by scheme (compile-time), and returns the matching handle class', async (t) => {
  const { HTTPHandle, TCPHandle, UDPHandle, WebSocketHandle } = await import('../src');
  const sys = await boot({ backends: {} });
  t.teardown(() => sys.shutdown());
  const h = sys.network.connect('http://127.0.0.1:1/');
  t.is(h.responseCode.name, 'responseCode'); // compiles only because connect('http://...') is an HTTPHandle
  t.true(h instanceof HTTPHandle);
  const h2 = sys.network.connect({ url: 'https://127.0.0.1:1/', encoding: 'text' });
  t.true(h2 instanceof HTTPHandle);
  t.throws(() => sys.network.connect('tcp://127.0.0.1:1'), { message: 'TCP is not available on this system' });
  t.throws(() => sys.network.connect('udp://127.0.0.1:1'), { message: 'UDP is not available on this system' });
  t.throws(() => sys.network.connect('ws://127.0.0.1:1/'), { message: 'WebSocket is not available on this system' });
  t.truthy(TCPHandle && UDPHandle && WebSocketHandle);
  h.close();
  h2.close();
});
