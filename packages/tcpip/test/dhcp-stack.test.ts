import test from 'ava';
import { Impairments, localMac, Rng, SimHub, SimLink, SimNic, VirtualClock } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import { DhcpClient, serveDhcp } from '../src/dhcp/stack-dhcp';
import { DhcpServer } from '../src/dhcp/server';
import { attachDns, serveDns } from '../src/dns/stack-dns';
import { DnsServer } from '../src/dns/server';
import type { DhcpLease } from '../src/dhcp/transport';
import { formatIpv4, IPV4_ANY, ipv4 } from '../src/wire/ipv4-address';

const GW = ipv4(192, 0, 2, 1);

/** A server stack (192.0.2.1: DHCP and DNS) and an unconfigured client stack on one SimLink. */
function world(leaseTime = 600, impair?: Impairments) {
  const clock = new VirtualClock();
  const server = new Stack({ clock, rng: new Rng(1), name: 'server' });
  const client = new Stack({ clock, rng: new Rng(2), name: 'client' });
  const sn = new SimNic({ name: 's0', mac: localMac(1), clock });
  const cn = new SimNic({ name: 'c0', mac: localMac(2), clock });
  const link = new SimLink({ clock, delay: 1, seed: 7, aToB: impair, bToA: impair });
  link.connect(sn, cn);
  server.addInterface(sn, { ip: GW, netmask: 24 });
  client.addInterface(cn);
  server.start();
  client.start();
  const dhcpd = serveDhcp(server, 'eth0', new DhcpServer({
    clock, serverId: GW, pool: { start: ipv4(192, 0, 2, 100), end: ipv4(192, 0, 2, 150) }, netmask: 24,
    routers: [GW], dnsServers: [GW], leaseTime,
  }));
  const named = serveDns(server, new DnsServer({ origin: 'example.test', records: [{ name: 'www', type: 'A', value: '192.0.2.80' }] }));
  const resolver = attachDns(client);
  const dhcp = new DhcpClient(client, 'eth0', { hostName: 'client' });
  return { clock, server, client, sn, cn, link, dhcpd, named, resolver, dhcp };
}

test('a DHCP client on one stack gets a lease from the server on another over a SimLink', async (t) => {
  const w = world();
  const lease = await w.clock.drive(w.dhcp.start());
  t.is(formatIpv4(lease.address), '192.0.2.100');
  t.deepEqual(w.client.ipconfig('eth0'), { ip: ipv4(192, 0, 2, 100), netmask: 24, up: true });
  // The default route via the router, and the connected subnet.
  const def = w.client.routes.lookup(ipv4(198, 51, 100, 7));
  t.truthy(def);
  t.is(def!.destination, GW);
  t.is(def!.sourceNetmask, 0);
  t.is(def!.device, 'eth0');
  t.is(w.client.routes.lookup(ipv4(192, 0, 2, 80))!.sourceNetmask, 24);
  // The lease's DNS server went to stack.dns, which now resolves through it.
  t.deepEqual(w.resolver.servers, [GW]);
  t.is(w.client.dns, w.resolver);
  const addrs = await w.clock.drive((w.client.dns as typeof w.resolver).resolve('www.example.test'));
  t.deepEqual(addrs.map(formatIpv4), ['192.0.2.80']);
  t.is(w.named.stats.udp, 1);
  // And the configured stack talks IP: ping the server.
  const pong = await w.clock.drive(w.client.icmp.ping(GW));
  t.true(pong.bytes > 0);
  t.is(w.dhcpd.leases()[0].state, 'bound');
  // DISCOVER, REQUEST out; OFFER, ACK in — counted in the stacks' stats.
  t.like(w.client.stats.get('dhcp'), { rx: 2, tx: 2 });
  t.like(w.server.stats.get('dhcp'), { rx: 2, tx: 2 });
});

test('the client renews at T1 over unicast and keeps its address', async (t) => {
  const w = world(600);
  const lease = await w.clock.drive(w.dhcp.start());
  const renewed: DhcpLease[] = [];
  w.dhcp.on('renewed', (l) => renewed.push(l));
  w.clock.runUntil(lease.obtainedAt + 300_000 - 1);
  t.is(renewed.length, 0);
  w.clock.runUntil(lease.obtainedAt + 300_000 + 1000);
  t.is(renewed.length, 1);
  t.is(renewed[0].address, lease.address);
  t.is(w.dhcp.state, 'bound');
  t.is(w.dhcpd.stats.acks, 2);
  t.is(w.client.ipconfig('eth0')!.ip, lease.address);
  t.deepEqual(w.resolver.servers, [GW]);
  // DNS servers set by hand survive the next renewal.
  w.resolver.setServers([ipv4(203, 0, 113, 53)]);
  w.clock.runUntil(renewed[0].obtainedAt + 300_000 + 1000);
  t.is(renewed.length, 2);
  t.deepEqual(w.resolver.servers, [ipv4(203, 0, 113, 53)]);
});

test('when the server disappears the lease expires and the interface is unconfigured', async (t) => {
  const w = world(600);
  const lease = await w.clock.drive(w.dhcp.start());
  w.sn.setLinkUp(false);
  const expired: DhcpLease[] = [];
  w.dhcp.on('expired', (l) => expired.push(l));
  w.clock.runUntil(lease.obtainedAt + 600_000 - 1);
  t.is(expired.length, 0);
  t.is(w.dhcp.state, 'rebinding');
  w.clock.runUntil(lease.obtainedAt + 600_000 + 1);
  t.is(expired.length, 1);
  t.is(w.client.ipconfig('eth0')!.ip, IPV4_ANY);
  t.is(w.client.routes.lookup(ipv4(198, 51, 100, 7)), null);
  t.deepEqual(w.resolver.servers, []);
  t.is(w.dhcp.state, 'selecting');
  // The server comes back: the client gets a lease again.
  w.sn.setLinkUp(true);
  const again = await w.clock.drive(new Promise<DhcpLease>((resolve) => w.dhcp.once('bound', resolve)));
  t.is(again.address, lease.address);
  w.dhcp.close();
});

test('stop() releases the lease on the server and removes the configuration', async (t) => {
  const w = world();
  await w.clock.drive(w.dhcp.start());
  t.is(w.dhcpd.leases().length, 1);
  await w.clock.drive(w.dhcp.stop());
  t.deepEqual(w.dhcpd.leases(), []);
  t.is(w.client.ipconfig('eth0')!.ip, IPV4_ANY);
  t.is(w.client.routes.lookup(ipv4(198, 51, 100, 7)), null);
});

test('over a lossy, duplicating, corrupting link the client still gets a lease and resolves names', async (t) => {
  const w = world(600, { loss: 0.3, duplicate: 0.1, corrupt: 0.05 });
  const lease = await w.clock.drive(w.dhcp.start());
  t.is(formatIpv4(lease.address), '192.0.2.100');
  t.is(w.client.ipconfig('eth0')!.ip, lease.address);
  const addrs = await w.clock.drive(w.resolver.resolve('www.example.test'));
  t.deepEqual(addrs.map(formatIpv4), ['192.0.2.80']);
  // Renewals keep working through the loss until the lease's end.
  w.clock.runUntil(lease.obtainedAt + 2_000_000);
  t.is(w.dhcp.state === 'bound' || w.dhcp.state === 'renewing' || w.dhcp.state === 'rebinding', true);
  t.is(w.dhcp.stats.expirations, 0);
  t.true(w.dhcp.stats.acks >= 4);
  // The impairments did bite: frames were lost both ways and the client retransmitted.
  t.true(w.link.stats.aToB.droppedLoss > 0 && w.link.stats.bToA.droppedLoss > 0);
  t.true(w.dhcp.stats.discovers + w.dhcp.stats.requests > w.dhcp.stats.acks + 1);
  w.dhcp.close();
});

test('an address someone already uses is found by the ARP probe, DECLINEd, and another one leased', async (t) => {
  const clock = new VirtualClock();
  const hub = new SimHub({ clock });
  const mk = (name: string, id: number) => {
    const stack = new Stack({ clock, rng: new Rng(id), name });
    const nic = new SimNic({ name: `${name}0`, mac: localMac(id), clock });
    hub.connect(nic);
    return { stack, nic };
  };
  const server = mk('server', 1);
  const squatter = mk('squatter', 2);
  const client = mk('client', 3);
  server.stack.addInterface(server.nic, { ip: GW, netmask: 24 });
  // A host with a static address inside the pool that the server does not know about.
  squatter.stack.addInterface(squatter.nic, { ip: ipv4(192, 0, 2, 100), netmask: 24 });
  client.stack.addInterface(client.nic);
  for (const x of [server, squatter, client]) x.stack.start();
  const dhcpd = serveDhcp(server.stack, 'eth0', new DhcpServer({
    clock, serverId: GW, pool: { start: ipv4(192, 0, 2, 100), end: ipv4(192, 0, 2, 110) }, netmask: 24, routers: [GW],
  }));
  const dhcp = new DhcpClient(client.stack, 'eth0');
  const states: string[] = [];
  dhcp.on('state', (st) => states.push(st));
  const declined: DhcpLease[] = [];
  dhcp.on('declined', (l) => declined.push(l));
  const start = clock.now();
  const lease = await clock.drive(dhcp.start());
  t.is(formatIpv4(lease.address), '192.0.2.101');
  t.deepEqual(declined.map((l) => formatIpv4(l.address)), ['192.0.2.100']);
  t.is(dhcp.stats.declines, 1);
  t.is(dhcpd.stats.declines, 1);
  t.deepEqual(states.slice(0, 6), ['init', 'selecting', 'requesting', 'checking', 'init', 'selecting']);
  t.true(clock.now() - start >= 10_000); // RFC 2131: at least 10 s before starting over
  // The declined address is kept out of the pool; the client never configured it.
  t.deepEqual(dhcpd.leases().filter((l) => l.state === 'declined').map((l) => formatIpv4(l.address)), ['192.0.2.100']);
  t.is(client.stack.ipconfig('eth0')!.ip, lease.address);
  t.is(squatter.stack.stats.arp.drops['address-conflict'] ?? 0, 0);
  dhcp.close();
});

