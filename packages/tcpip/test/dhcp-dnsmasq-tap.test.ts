/**
 * Our DHCP client and DNS resolver against dnsmasq in a test host over TAP
 * (TEST-NET 192.0.2.0/24 only): we get a lease (address, netmask, default
 * route, DNS server), the kernel reaches us at the leased address, we resolve
 * names dnsmasq serves (A, a CNAME, NXDOMAIN, and a reply too big for UDP
 * that forces TCP), we renew, and stop() releases the lease. The capture is
 * clean in tshark. Needs root: skips loudly without (fails with CI=true).
 */
import test, { ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { captureProblems, formatMac, PcapWriter, RealClock, Rng, TestHost, requireRoot, tsharkLines } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import { DhcpClient } from '../src/dhcp/stack-dhcp';
import type { DhcpLease } from '../src/dhcp/transport';
import { attachDns } from '../src/dns/stack-dns';
import { DnsError } from '../src/dns/resolver';
import { formatIpv4, IPV4_ANY, parseIpv4 as ip } from '../src/wire/ipv4-address';

const rootTest = requireRoot(test, { commands: ['dnsmasq', 'ping', 'tshark'] });
/** Hang guard for waits on the kernel and dnsmasq (not a speed assertion). */
const GUARD_MS = 20_000;

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { timer = setTimeout(() => rej(new Error(`hang guard: ${what}`)), GUARD_MS); })])
    .finally(() => clearTimeout(timer));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < GUARD_MS / 50; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`hang guard: ${what}`);
}

async function dnsmasqRig(t: ExecutionContext) {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label: 'dnsmasq', tap: { clock } });
  const hosts = path.join(host.dir, 'hosts');
  const big = Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 1} big.example.test`);
  fs.writeFileSync(hosts, ['192.0.2.80 www.example.test', ...big].join('\n') + '\n');
  const leases = path.join(host.dir, 'leases');
  const dnsmasq = host.spawn([
    'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--pid-file=', `--interface=${host.ifname}`, '--bind-interfaces',
    '--except-interface=lo', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--local=/example.test/',
    '--cname=alias.example.test,www.example.test', `--dhcp-leasefile=${leases}`, '--dhcp-authoritative',
    // 120 s is dnsmasq's shortest lease; T1 of 4 s lets us see a renewal quickly.
    '--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,120', '--dhcp-option=option:router,192.0.2.1',
    '--dhcp-option=option:dns-server,192.0.2.1', '--dhcp-option=option:T1,4', '--dhcp-option=option:T2,100',
    '--log-dhcp', '--log-queries', '--log-facility=-',
  ]);
  await guard(dnsmasq.waitForPort(53, 'udp'), 'dnsmasq listening');
  await guard(dnsmasq.waitForPort(67, 'udp'), 'dnsmasq DHCP listening');
  const nic = host.nic!;
  const pcapPath = path.join(host.dir, 'dhcp-dns.pcap');
  const pcap = new PcapWriter({ path: pcapPath });
  pcap.tapNic(nic);
  const stack = new Stack({ clock, rng: new Rng(2026), name: 'dhcp-client' });
  stack.addInterface(nic);
  stack.start();
  const resolver = attachDns(stack, { timeout: 1000 });
  const dhcp = new DhcpClient(stack, 'eth0', { hostName: 'pnet' });
  t.teardown(() => { dhcp.close(); stack.close(); try { pcap.close(); } catch { /* closed already */ } });
  return { host, stack, resolver, dhcp, dnsmasq, leases, pcap, pcapPath, nic };
}

rootTest.serial('DHCP from dnsmasq configures the stack; names dnsmasq serves resolve (A, CNAME, NXDOMAIN, TC -> TCP)', async (t) => {
  const r = await dnsmasqRig(t);
  const { host, stack, resolver, dhcp } = r;
  const lease = await guard(dhcp.start(), `DHCP lease from dnsmasq\n${r.dnsmasq.output}`);
  const a = lease.address >>> 0;
  t.true(a >= ip('192.0.2.100') && a <= ip('192.0.2.150'), formatIpv4(lease.address));
  t.is(lease.prefix, 24);
  t.is(lease.serverId, ip('192.0.2.1'));
  t.deepEqual(lease.routers.map(formatIpv4), ['192.0.2.1']);
  t.deepEqual(lease.dnsServers.map(formatIpv4), ['192.0.2.1']);
  t.deepEqual(stack.ipconfig('eth0'), { ip: lease.address, netmask: 24, up: true });
  const def = stack.routes.lookup(ip('203.0.113.9'));
  t.is(def?.destination, ip('192.0.2.1'));
  t.deepEqual(resolver.servers.map(formatIpv4), ['192.0.2.1']);
  // dnsmasq recorded the lease for our MAC, and the kernel reaches us there.
  t.regex(fs.readFileSync(r.leases, 'utf8'), new RegExp(`${formatMac(r.nic.capabilities.mac)} ${formatIpv4(lease.address).replace(/\./g, '\\.')}`));
  const ping = await host.exec(['ping', '-n', '-c', '2', '-i', '0.2', '-W', '3', formatIpv4(lease.address)], { check: false });
  t.is(ping.code, 0, ping.stdout + ping.stderr);

  t.deepEqual((await guard(resolver.resolve('www.example.test'), 'A')).map(formatIpv4), ['192.0.2.80']);
  const alias = await guard(resolver.query('alias.example.test'), 'CNAME');
  t.deepEqual(alias.cnames, ['www.example.test']);
  t.deepEqual(alias.records.map((x) => formatIpv4((x.data as { address: number }).address)), ['192.0.2.80']);
  const nx = await guard(resolver.resolve('nope.example.test').then(() => 'resolved', (e) => (e instanceof DnsError ? e.code : String(e))), 'NXDOMAIN');
  t.is(nx, 'ENOTFOUND');
  const bigAddrs = await guard(resolver.resolve('big.example.test'), 'TC -> TCP');
  t.is(bigAddrs.length, 60);
  t.is(resolver.stats.truncated, 1);
  t.is(resolver.stats.tcpQueries, 1);

  // T1 is 4 s: a unicast renewal to dnsmasq comes back with an ACK.
  const renewed = await guard(new Promise<DhcpLease>((res) => dhcp.once('renewed', res)), `renewal\n${r.dnsmasq.output}`);
  t.is(renewed.address, lease.address);

  // stop() releases: dnsmasq drops the lease from its file.
  await guard(dhcp.stop(), 'release');
  t.is(stack.ipconfig('eth0')!.ip, IPV4_ANY);
  await until(() => !fs.readFileSync(r.leases, 'utf8').includes(formatIpv4(lease.address) + ' '), `lease released\n${r.dnsmasq.output}`);
  t.regex(r.dnsmasq.output, /DHCPRELEASE/);

  // Every frame we exchanged opens in tshark without malformed packets.
  r.pcap.close();
  t.deepEqual(captureProblems(r.pcapPath), [], 'no malformed frames, no expert errors');
  const kinds = tsharkLines(r.pcapPath, 'dhcp', 'dhcp.option.dhcp');
  for (const k of ['1', '2', '3', '5', '7']) t.true(kinds.includes(k), `DHCP message type ${k} in the capture: ${kinds.join(',')}`);
  t.true(tsharkLines(r.pcapPath, 'dns.flags.truncated == 1', 'frame.number').length > 0, 'a truncated DNS reply in the capture');
  t.true(tsharkLines(r.pcapPath, 'tcp.port == 53 && dns', 'frame.number').length > 0, 'DNS over TCP in the capture');
});
