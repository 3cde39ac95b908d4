// The test-host harness itself: namespaces, links, commands and peers inside them, and cleanup in
// every way a test can end. Needs root (skips loudly without; fails with CI=true).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childDone, formatMac, hostSupport, liveTestHosts, namespaceExists, requireRoot, sweepStaleNamespaces, TestHost } from '../src';

const rootTest = requireRoot(test);
// Tests without a TAP (link 'none' or 'veth') run even where the addon is not built.
const rootTestNoTap = requireRoot(test, { tap: false });
const rootTestSocat = requireRoot(test, { tap: false, commands: ['socat', 'ss'] });
const ROOT = path.resolve(__dirname, '..', '..', '..');
const TS_NODE = require.resolve('ts-node/register/transpile-only');
const NIC_SRC = JSON.stringify(path.join(ROOT, 'packages', 'nic', 'src'));

function linkExists(ifname: string, ns?: string): boolean {
  return spawnSync('ip', [...(ns ? ['-n', ns] : []), 'link', 'show', 'dev', ifname]).status === 0;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for a pid to disappear (a SIGKILLed process is reaped asynchronously). Hang guard only. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 12000 && pidAlive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  return !pidAlive(pid);
}

rootTest('a TAP host: namespace named pnet-<pid>-<n>-label, kernel side addressed and up, all gone after close', async (t) => {
  const host = await TestHost.create(t, { label: 'basic' });
  t.regex(host.ns, new RegExp(`^pnet-${process.pid}-\\d+-basic$`));
  t.true(namespaceExists(host.ns));
  t.deepEqual(liveTestHosts().includes(host.ns), true);
  t.is(host.address, '192.0.2.1');
  t.is(host.peerAddress, '192.0.2.2');
  t.truthy(host.nic);
  t.is(host.ifname, host.nic!.ifname);
  t.false(linkExists(host.ifname), 'the TAP left our namespace');
  const addr = JSON.parse(host.nsIp('-j', 'addr', 'show', 'dev', host.ifname)) as { operstate: string; addr_info: { family: string; local: string; prefixlen: number }[] }[];
  t.deepEqual(addr[0].addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), ['192.0.2.1/24']);
  t.deepEqual(addr[0].addr_info.filter((a) => a.family === 'inet6'), [], 'IPv6 off by default');
  t.regex(host.nsIp('link', 'show', 'lo'), /UP/);
  t.is(formatMac(host.nic!.capabilities.mac), '02:00:00:00:00:02');
  t.true(fs.existsSync(host.dir));
  await host.close();
  await host.close(); // idempotent
  t.true(host.isClosed);
  t.false(namespaceExists(host.ns));
  t.false(fs.existsSync(host.dir));
  t.false(liveTestHosts().includes(host.ns));
  t.false(host.nic!.linkUp);
});

rootTestNoTap('other TEST-NETs and host numbers; anything else is refused', async (t) => {
  const host = await TestHost.create(t, { net: '198.51.100.0/24', hostId: 10, peerId: 20, link: 'none' });
  t.is(host.address, '198.51.100.10');
  t.is(host.peerAddress, '198.51.100.20');
  t.is(host.nic, null);
  await t.throwsAsync(TestHost.create(t, { net: '10.0.0.0/24' as never }), { instanceOf: RangeError, message: /192\.0\.2\.0\/24/ });
  await t.throwsAsync(TestHost.create(t, { hostId: 300 }), { instanceOf: RangeError });
  await t.throwsAsync(TestHost.create(t, { hostId: 5, peerId: 5 }), { instanceOf: RangeError });
});

rootTestNoTap('a veth host: inner end addressed in the namespace, outer end here; both removed on close', async (t) => {
  const host = await TestHost.create(t, { link: 'veth', net: '203.0.113.0/24', label: 'veth' });
  t.is(host.nic, null);
  t.truthy(host.outerIfname);
  t.true(linkExists(host.outerIfname!));
  t.true(linkExists(host.ifname, host.ns));
  t.regex(host.nsIp('addr', 'show', 'dev', host.ifname), /inet 203\.0\.113\.1\/24/);
  t.regex(formatMac(host.kernelMac()), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  await host.close();
  t.false(linkExists(host.outerIfname!));
  t.false(namespaceExists(host.ns));
});

rootTest('hosts created at the same time get distinct namespaces, each with its own TAP inside', async (t) => {
  const hosts = await Promise.all([1, 2, 3, 4].map(() => TestHost.create(t)));
  t.is(new Set(hosts.map((h) => h.ns)).size, 4);
  // Interface names may repeat (each device leaves our namespace before the next is named); each lives in its own.
  t.true(hosts.every((h) => linkExists(h.ifname, h.ns)));
  t.is(new Set(hosts.map((h) => h.kernelMac())).size, 4);
  await Promise.all(hosts.map((h) => h.close()));
  t.true(hosts.every((h) => !namespaceExists(h.ns)));
});

rootTest('exec and execSync run inside the namespace; failures say what failed', async (t) => {
  const host = await TestHost.create(t, { label: 'exec' });
  const r = await host.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', host.ifname]);
  t.is(r.code, 0);
  t.regex(r.stdout, /192\.0\.2\.1\/24/);
  t.regex(host.execSync(['cat', '/proc/net/dev']).stdout, new RegExp(host.ifname));
  t.is(host.execSync(['sh', '-c', 'exit 3'], { check: false }).code, 3);
  const e = await t.throwsAsync(host.exec(['sh', '-c', 'echo oops >&2; exit 4']));
  t.regex(e!.message, /exited 4/);
  t.regex(e!.message, /oops/);
  t.is((await host.exec(['cat'], { input: 'hello' })).stdout, 'hello');
  // Our own namespace does not see the host's interface; the host does not see ours.
  t.is((await host.exec(['ip', '-o', 'link'], {})).stdout.split('\n').filter((l) => l.trim()).length, 2);
});

rootTestSocat('a peer runs in the namespace, waitForPort sees it listen, and close kills it', async (t) => {
  const host = await TestHost.create(t, { label: 'peer', link: 'none' });
  const peer = host.spawn(['socat', 'TCP-LISTEN:7007,bind=127.0.0.1,reuseaddr,fork', 'EXEC:cat']);
  await peer.waitForPort(7007, 'tcp');
  const echo = await host.exec(['socat', '-t', '2', '-', 'TCP:127.0.0.1:7007'], { input: 'ping over loopback\n' });
  t.is(echo.stdout, 'ping over loopback\n');
  // The port is in the host's namespace only.
  t.is(spawnSync('ss', ['-Hltn', 'sport = :7007'], { encoding: 'utf8' }).stdout.trim(), '');
  const udp = host.spawn(['socat', '-u', 'UDP-RECV:7008,bind=127.0.0.1', 'STDOUT']);
  await udp.waitForPort(7008, 'udp');
  t.true(peer.running);
  const pid = peer.process.pid!;
  await host.close();
  t.false(peer.running);
  t.true(await gone(pid));
});

rootTestNoTap('a peer that exits before listening makes waitForPort fail with its output', async (t) => {
  const host = await TestHost.create(t, { link: 'none' });
  const peer = host.spawn(['sh', '-c', 'echo cannot bind >&2; exit 3']);
  const e = await t.throwsAsync(peer.waitForPort(9999, 'tcp'));
  t.regex(e!.message, /exited \(3\) before listening on tcp\/9999/);
  t.regex(e!.message, /cannot bind/);
  const talker = host.spawn(['sh', '-c', 'echo READY 42; sleep 1000']);
  const m = await talker.waitForOutput(/READY (\d+)/);
  t.is(m[1], '42');
});

rootTestNoTap('close also kills processes that left the peer\'s process group (daemons)', async (t) => {
  const host = await TestHost.create(t, { link: 'none' });
  const peer = host.spawn(['sh', '-c', 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo DAEMON $!; wait']);
  const pid = Number((await peer.waitForOutput(/DAEMON (\d+)/))[1]);
  t.true(pidAlive(pid));
  await host.close();
  t.true(await gone(pid), 'the escaped daemon was killed');
});

rootTestNoTap('stale namespaces of dead processes are swept; those of live processes are kept', async (t) => {
  const dead = spawnSync('true');
  const deadPid = dead.pid!;
  const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  const staleNs = `pnet-${deadPid}-1-stale`;
  const liveNs = `pnet-${sleeper.pid}-1-live`;
  spawnSync('ip', ['netns', 'add', staleNs]);
  spawnSync('ip', ['netns', 'add', liveNs]);
  t.teardown(() => { spawnSync('ip', ['netns', 'del', staleNs]); spawnSync('ip', ['netns', 'del', liveNs]); });
  t.false(pidAlive(deadPid));
  const removed = sweepStaleNamespaces();
  t.true(removed.includes(staleNs));
  t.false(removed.includes(liveNs));
  t.false(namespaceExists(staleNs));
  t.true(namespaceExists(liveNs));
});

function runChild(script: string): Promise<{ code: number | null; signal: string | null; out: string; child: ReturnType<typeof spawn> }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', TS_NODE, '-e', script], {
      cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /SIGNAL-ME (\S+)/.exec(out);
      if (m && !(child as unknown as { signalled?: boolean }).signalled) {
        (child as unknown as { signalled?: boolean }).signalled = true;
        child.kill(m[1] as NodeJS.Signals);
      }
    });
    child.stderr!.on('data', (d) => { out += d; });
    const guard = setTimeout(() => child.kill('SIGKILL'), 240000);
    void childDone(child).then(({ code, signal }) => {
      clearTimeout(guard);
      resolve({ code, signal, out, child });
    });
  });
}

const cleanupCases: { how: string; tail: string; expect: (r: { code: number | null; signal: string | null }) => boolean }[] = [
  { how: 'process.exit', tail: 'process.exit(5);', expect: (r) => r.code === 5 },
  { how: 'an uncaught exception', tail: 'setImmediate(() => { throw new Error("boom"); });', expect: (r) => r.code === 1 },
  { how: 'SIGTERM', tail: 'console.log("SIGNAL-ME SIGTERM"); setInterval(() => {}, 1000);', expect: (r) => r.signal === 'SIGTERM' },
  { how: 'SIGINT', tail: 'console.log("SIGNAL-ME SIGINT"); setInterval(() => {}, 1000);', expect: (r) => r.signal === 'SIGINT' },
];

for (const c of cleanupCases) {
  rootTest(`the namespace, its TAP and its peers are removed when the process ends by ${c.how}`, async (t) => {
    const r = await runChild(`
      const { TestHost } = require(${NIC_SRC});
      (async () => {
        const host = await TestHost.create(null, { label: 'exit' });
        const peer = host.spawn(['sleep', '1000']);
        await new Promise((r) => setTimeout(r, 50));
        console.log('NS=' + host.ns + ' IF=' + host.ifname + ' PEER=' + peer.process.pid);
        ${c.tail}
      })();
    `);
    const m = /NS=(\S+) IF=(\S+) PEER=(\d+)/.exec(r.out);
    t.truthy(m, `exit ${r.code} signal ${r.signal}: ${r.out}`);
    t.true(c.expect(r), `exit ${r.code} signal ${r.signal}: ${r.out}`);
    t.false(namespaceExists(m![1]), 'namespace removed');
    t.false(linkExists(m![2]), 'TAP gone');
    t.true(await gone(Number(m![3])), 'peer killed');
  });
}

// ---- requireRoot, without needing root ----

interface Registered { kind: 'test' | 'skip' | 'serial'; title: string; fn: (t: { fail(m?: string): void }) => void }

function fakeTest(): { test: Parameters<typeof requireRoot>[0]; registered: Registered[] } {
  const registered: Registered[] = [];
  const fn = ((title: string, f: Registered['fn']) => { registered.push({ kind: 'test', title, fn: f }); }) as Parameters<typeof requireRoot>[0];
  fn.skip = (title: string, f: () => void) => { registered.push({ kind: 'skip', title, fn: f }); };
  fn.serial = (title: string, f: Registered['fn']) => { registered.push({ kind: 'serial', title, fn: f }); };
  return { test: fn, registered };
}

function withCi<T>(value: string | undefined, body: () => T): T {
  const before = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  try {
    return body();
  } finally {
    if (before === undefined) delete process.env.CI;
    else process.env.CI = before;
  }
}

test.serial('requireRoot: a missing prerequisite skips loudly, or fails with CI=true', (t) => {
  const needs = { tap: false, commands: ['pnet-no-such-command-xyz'] };
  t.false(hostSupport(needs).ok);
  // The command, or an earlier missing prerequisite (root, iproute2, netns) on this machine.
  t.regex(hostSupport(needs).reason, /pnet-no-such-command-xyz|root|ip|netns|Linux/);

  const a = fakeTest();
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (m: string) => { warnings.push(m); };
  try {
    withCi(undefined, () => requireRoot(a.test, needs)('needs a thing', () => t.fail('must not run')));
  } finally {
    console.warn = warn;
  }
  t.deepEqual(a.registered.map((r) => r.kind), ['skip']);
  t.regex(warnings.join(''), /SKIPPING "needs a thing": .*With CI=true this test fails/);

  const b = fakeTest();
  withCi('true', () => requireRoot(b.test, needs)('needs a thing', () => t.fail('must not run')));
  t.deepEqual(b.registered.map((r) => r.kind), ['test']);
  const failures: string[] = [];
  b.registered[0].fn({ fail: (m) => { failures.push(m ?? ''); } });
  t.is(failures.length, 1);
  t.regex(failures[0], /^CI=true and this test cannot run: /);

  const c = fakeTest();
  withCi('true', () => (requireRoot(c.test, needs) as unknown as { serial: (title: string, f: () => void) => void }).serial('serial one', () => {}));
  t.deepEqual(c.registered.map((r) => r.kind), ['serial']);
});

rootTest('requireRoot returns ava\'s own test function when everything is there', (t) => {
  const a = fakeTest();
  t.is(requireRoot(a.test), a.test);
});
