import test from 'ava';
import { statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireRoot, TestHost } from '@pnet/nic';

/**
 * `pnet get` over a real TAP device: a namespace with a persistent TAP whose
 * kernel side (192.0.2.1) runs python3's http.server; `pnet` runs inside the
 * namespace, attaches to the TAP by name, and takes 192.0.2.2. Needs root
 * (skipped loudly without it; fails with CI=true).
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const PNET = join(ROOT, 'tools/cli/bin/pnet.js');
const rootTest = requireRoot(test, { tap: true, commands: ['python3'] });

rootTest('pnet get and ping over a TAP against the kernel and python3 http.server', async (t) => {
  const host = await TestHost.create(t, { label: 'cli', link: 'none' });
  const tap = `pc${process.pid % 100000}`;
  await host.nsIp('tuntap', 'add', 'dev', tap, 'mode', 'tap');
  await host.nsIp('addr', 'add', '192.0.2.1/24', 'dev', tap);
  await host.nsIp('link', 'set', tap, 'up');
  writeFileSync(join(host.dir, 'hello.txt'), 'hello from the kernel side\n');
  const server = host.spawn(['python3', '-m', 'http.server', '8000', '--bind', '192.0.2.1', '--directory', host.dir]);
  await server.waitForPort(8000);
  const pcap = join(host.dir, 'tap.pcap');
  const get = await host.exec([process.execPath, PNET, 'get', '-i', 'http://192.0.2.1:8000/hello.txt', '--tap', tap, '--address', '192.0.2.2/24', '--pcap', pcap], { check: false, timeoutMs: 120_000 });
  t.is(get.code, 0, get.stderr);
  t.regex(get.stdout, /^HTTP\/1\.1 200\r\n/);
  t.true(get.stdout.endsWith('hello from the kernel side\n'), get.stdout);
  t.true(statSync(pcap).size > 24 + 6 * 16, 'the capture holds the exchange');
  const ping = await host.exec([process.execPath, PNET, 'ping', '-c', '2', '192.0.2.1', '--tap', tap, '--address', '192.0.2.2/24'], { check: false, timeoutMs: 120_000 });
  t.is(ping.code, 0, ping.stderr);
  t.regex(ping.stdout, /2 packets transmitted, 2 received/);
  const refused = await host.exec([process.execPath, PNET, 'get', 'http://192.0.2.1:8001/', '--tap', tap, '--address', '192.0.2.2/24'], { check: false, timeoutMs: 120_000 });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^pnet: Connection refused/);
});
