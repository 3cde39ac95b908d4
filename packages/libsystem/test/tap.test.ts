/**
 * boot({ nic: { tap } }) against the Linux kernel: the system's TAP device is
 * moved into a network namespace the test creates (TEST-NET 192.0.2.0/24),
 * where the kernel and a python3 HTTP server are the peers. Needs root:
 * skips loudly without (fails with CI=true).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { requireRoot, TapNic, TestHost } from '@pnet/nic';
import { boot, TCPHandle } from '../src';

const rootTest = requireRoot(test, { commands: ['python3', 'ping', 'ss'] });

const CONNECT_AND_SEND = `
import socket, sys
s = socket.create_connection(("192.0.2.2", 9000), timeout=10)
s.sendall(b"hello from the kernel\\n")
print(s.recv(100).decode().strip())
`;

rootTest.serial('boot on a TAP whose kernel side is down says so', async (t) => {
  await t.throwsAsync(boot({ nic: { tap: 'pnetld%d' }, address: '192.0.2.2/24' }), { message: /TAP device pnetld\d+ is down: bring it up first/ });
});

rootTest.serial('a system booted on TAP talks to the kernel: HTTP, ping both ways, a listener', async (t) => {
  const host = await TestHost.create(t, { link: 'none', label: 'libsys' });
  // The kernel side goes into the namespace, addressed and up, before the stack sends anything.
  const prepare = (ifname: string) => {
    const moved = spawnSync('ip', ['link', 'set', 'dev', ifname, 'netns', host.ns], { encoding: 'utf8' });
    if (moved.status !== 0) throw new Error(moved.stderr);
    host.nsIp('addr', 'add', '192.0.2.1/24', 'dev', ifname);
    host.nsIp('link', 'set', 'dev', ifname, 'up');
  };
  const sys = await boot({ nic: { tap: 'pnetls%d', prepare }, address: '192.0.2.2/24', gateway: '192.0.2.1', dns: '192.0.2.1' });
  t.teardown(() => sys.shutdown());
  t.true(sys.stack!.interface('eth0')!.nic instanceof TapNic);

  const n = sys.network;
  t.deepEqual(n.ipconfig('eth0'), { ip: '192.0.2.2', netmask: 24, up: true });

  const web = host.spawn(['python3', '-m', 'http.server', '8080', '--bind', '192.0.2.1']);
  await host.waitForPort(8080, 'tcp', 15_000, web);
  const [h, err] = await n.get('http://192.0.2.1:8080/');
  t.is(err, undefined);
  t.is(h!.responseCode(), 200);
  t.regex(String(await h!.read('*a')), /Directory listing/);
  h!.close();

  const ping = await host.exec(['ping', '-n', '-c', '1', '-W', '5', '192.0.2.2'], { check: false });
  t.is(ping.code, 0, ping.stdout + ping.stderr);

  n.events(true);
  n.control('192.0.2.1', 'ping');
  const [, ev] = await n.pullEvent('network_event', (e) => e.messageType !== 'ping');
  t.is(ev.messageType, 'pong');
  t.is(ev.sender, '192.0.2.1');

  await n.listen('tcp://0.0.0.0:9000');
  const client = host.exec(['python3', '-c', CONNECT_AND_SEND]);
  const [, req] = await n.pullEvent('network_request');
  t.is(req.ip, '192.0.2.1');
  const conn = req.handle as TCPHandle;
  while (conn.available() < 22) await new Promise((r) => conn.once('handle_data_ready', r));
  t.is(String(conn.read()), 'hello from the kernel');
  conn.write('hello from pnet\n');
  const out = await client;
  t.is(out.stdout.trim(), 'hello from pnet');
  conn.close();
});
