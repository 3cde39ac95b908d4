/**
 * The IPv4 layer against the Linux kernel over TAP, inside a network namespace
 * the test creates (TEST-NET 192.0.2.0/24 only): the kernel pings us and we
 * ping it (also 4000-byte pings, fragmented both ways), UDP echo with a
 * kernel-side python3 server (also fragmented), ICMP port unreachable both
 * ways, and every capture is clean in tshark. Needs root: skips loudly
 * without (fails with CI=true).
 */
import test, { ExecutionContext } from 'ava';
import * as path from 'node:path';
import { PcapWriter, RealClock, Rng, TestHost, captureProblems, requireRoot, tsharkLines } from '@pnet/nic';
import { Stack } from '../src';
import { formatIpv4, parseIpv4 as ip } from '../src/wire/ipv4-address';

const rootTest = requireRoot(test, { commands: ['ping', 'python3', 'tshark'] });
/** Hang guard for waits on the kernel (not a speed assertion: a broken exchange fails instead of hanging). */
const GUARD_MS = 15_000;

interface Rig { host: TestHost; stack: Stack; pcapPath: string; pcap: PcapWriter }

async function rig(t: ExecutionContext, label: string, arpAccept = false): Promise<Rig> {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label, tap: { clock }, arpAccept });
  const nic = host.nic!;
  const pcapPath = path.join(host.dir, `${label}.pcap`);
  const pcap = new PcapWriter({ path: pcapPath });
  pcap.tapNic(nic);
  const stack = new Stack({ clock, rng: new Rng(label.length * 7919), name: label });
  stack.addInterface(nic, { ip: host.peerAddress, netmask: 24 });
  stack.start();
  t.teardown(() => { stack.close(); try { pcap.close(); } catch { /* closed already */ } });
  return { host, stack, pcapPath, pcap };
}

/** The capture opens in tshark with no malformed packets and no errors in the expert report. */
function tsharkClean(t: ExecutionContext, r: Rig, filter?: string): string[] {
  r.pcap.close();
  t.deepEqual(captureProblems(r.pcapPath), [], 'no malformed frames, no expert errors');
  return filter ? tsharkLines(r.pcapPath, filter, 'frame.number') : [];
}

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { timer = setTimeout(() => rej(new Error(`hang guard: ${what}`)), GUARD_MS); })])
    .finally(() => clearTimeout(timer));
}

rootTest.serial('kernel pings us (56 and 4000 bytes: fragmented both ways); we ping the kernel (56 and 4000 bytes)', async (t) => {
  const r = await rig(t, 'ping', true);
  const { host, stack } = r;
  // Configuring the address sent a gratuitous ARP: the kernel (arp_accept=1) learned our MAC before any traffic.
  const us = host.nic!.capabilities.mac;
  const learned = () => host.neighbours().some((n) => n.ip === host.peerAddress && n.mac === us);
  for (let waited = 0; !learned() && waited < GUARD_MS; waited += 20) await new Promise((res) => setTimeout(res, 20));
  t.true(learned(), `kernel neighbours: ${host.nsIp('neigh')}`);
  t.is(stack.stats.arp.tx, 1);
  const small = await host.exec(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '3', host.peerAddress], { check: false });
  t.is(small.code, 0, small.stdout + small.stderr);
  t.regex(small.stdout, /3 received/);
  const big = await host.exec(['ping', '-n', '-c', '2', '-i', '0.2', '-W', '3', '-s', '4000', host.peerAddress], { check: false });
  t.is(big.code, 0, big.stdout + big.stderr);
  t.regex(big.stdout, /2 received/);
  t.regex(big.stdout, /4008 bytes from 192\.0\.2\.2/);
  t.true(stack.ip.reassembled >= 2, 'we reassembled the kernel\'s fragments');

  const p = await guard(stack.icmp.ping(ip(host.address)), 'ping');
  t.is(p.bytes, 56);
  t.is(p.ttl, 64);
  t.is(formatIpv4(p.from), host.address);
  const p4 = await guard(stack.icmp.ping(ip(host.address), { size: 4000 }), 'ping 4000');
  t.is(p4.bytes, 4000);
  t.true(stack.ip.fragmented >= 1);
  // The kernel knows our MAC from ARP.
  t.truthy(host.neighbours().find((n) => n.ip === host.peerAddress && n.mac === host.nic!.capabilities.mac), host.nsIp('neigh'));
  const frags = tsharkClean(t, r, 'ip.flags.mf == 1 || ip.frag_offset > 0');
  t.true(frags.length >= 12, `fragments in the capture: ${frags.length}`);
  t.is(stack.stats.totalDrops('ipv4') + stack.stats.totalDrops('icmp'), 0, JSON.stringify(stack.stats.all()));
});

const ECHO_SERVER = [
  'import socket',
  's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
  's.bind(("0.0.0.0", 7007))',
  'while True:',
  '    d, a = s.recvfrom(65535)',
  '    s.sendto(d, a)',
].join('\n');

rootTest.serial('UDP echo against a kernel-side python3 server, 5 bytes and 6000 bytes (fragmented both ways)', async (t) => {
  const r = await rig(t, 'udp');
  const { host, stack } = r;
  const server = host.spawn(['python3', '-c', ECHO_SERVER]);
  await server.waitForPort(7007, 'udp');
  const sock = stack.udp.bind();
  const big = new Rng(42).fill(new Uint8Array(6000));
  const answers: Buffer[] = [];
  const done = new Promise<void>((res) => sock.on('message', (d, ri) => {
    t.is(formatIpv4(ri.address), host.address);
    t.is(ri.port, 7007);
    answers.push(d);
    if (answers.length === 2) res();
  }));
  t.is(sock.send('hello', 7007, host.address), 'queued'); // ARP first
  sock.send(big, 7007, host.address);
  await guard(done, 'UDP echoes');
  t.is(answers[0].toString(), 'hello');
  t.deepEqual(new Uint8Array(answers[1]), big);
  t.true(stack.ip.reassembled >= 1);
  tsharkClean(t, r);
});

const PROBE_CLOSED_PORT = [
  'import socket, sys',
  's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
  's.settimeout(5)',
  's.connect((sys.argv[1], 9999))',
  's.send(b"anyone?")',
  'try:',
  '    s.recv(100)',
  '    print("answered")',
  'except ConnectionRefusedError:',
  '    print("refused")',
  'except socket.timeout:',
  '    print("timeout")',
].join('\n');

rootTest.serial('ICMP port unreachable: the kernel sees ours for a closed port, and we see the kernel\'s', async (t) => {
  const r = await rig(t, 'unreach');
  const { host, stack } = r;
  const probe = await host.exec(['python3', '-c', PROBE_CLOSED_PORT, host.peerAddress]);
  t.is(probe.stdout.trim(), 'refused');
  t.is(stack.stats.udp.drops['port-unreachable'], 1);
  const sock = stack.udp.bind();
  const err = new Promise<string>((res) => sock.on('icmpError', (e) => res(`${e.kind} ${formatIpv4(e.from)} ${e.port}`)));
  sock.send('knock', 9, host.address);
  t.is(await guard(err, 'port unreachable from the kernel'), `port-unreachable ${host.address} 9`);
  const unreach = tsharkClean(t, r, 'icmp.type == 3 && icmp.code == 3');
  t.is(unreach.length, 2);
});
