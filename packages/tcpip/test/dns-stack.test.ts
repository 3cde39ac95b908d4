import test from 'ava';
import { localMac, Rng, SimLink, SimNic, VirtualClock } from '@pnet/nic';
import { Stack } from '../src/iface/stack';
import { attachDns, serveDns } from '../src/dns/stack-dns';
import { DnsError } from '../src/dns/resolver';
import { DnsServer } from '../src/dns/server';
import { formatIpv4, ipv4 } from '../src/wire/ipv4-address';

const NS = ipv4(192, 0, 2, 53);

/** A client stack with the resolver as stack.dns, and a server stack running our DNS server, on a SimLink. */
function world() {
  const clock = new VirtualClock();
  const server = new Stack({ clock, rng: new Rng(1), name: 'ns' });
  const client = new Stack({ clock, rng: new Rng(2), name: 'client' });
  const sn = new SimNic({ name: 's0', mac: localMac(1), clock });
  const cn = new SimNic({ name: 'c0', mac: localMac(2), clock });
  new SimLink({ clock, delay: 2 }).connect(sn, cn);
  server.addInterface(sn, { ip: NS, netmask: 24 });
  client.addInterface(cn, { ip: ipv4(192, 0, 2, 10), netmask: 24 });
  server.start();
  client.start();
  const named = serveDns(server, new DnsServer({
    origin: 'example.test', negativeTtl: 30,
    records: [
      { name: 'www', type: 'A', value: '192.0.2.80' },
      { name: 'web', type: 'CNAME', value: 'alias' },
      { name: 'alias', type: 'CNAME', value: 'www' },
      ...Array.from({ length: 50 }, (_, i) => ({ name: 'big', type: 'A' as const, value: `198.51.100.${i + 1}` })),
    ],
  }));
  const resolver = attachDns(client, { servers: [NS] });
  return { clock, server, client, named, resolver };
}

async function code(clock: VirtualClock, p: Promise<unknown>): Promise<string> {
  try { await clock.drive(p); } catch (e) { if (e instanceof DnsError) return e.code; throw e; }
  return 'resolved';
}

test('stack.dns resolves an A record from our server over a SimLink', async (t) => {
  const w = world();
  t.is(w.client.dns, w.resolver);
  t.deepEqual((await w.clock.drive(w.resolver.resolve('www.example.test'))).map(formatIpv4), ['192.0.2.80']);
  t.deepEqual((await w.resolver.resolve('203.0.113.5')).map(formatIpv4), ['203.0.113.5']);
  t.is(w.named.stats.udp, 1);
  t.is(w.client.stats.udp.tx, 1);
  // Counted in the stacks' stats too.
  t.deepEqual(w.client.stats.get('dns'), { rx: 1, tx: 1, drops: {}, errors: {} });
  t.deepEqual(w.server.stats.get('dns'), { rx: 1, tx: 1, drops: {}, errors: {} });
});

test('a CNAME chain is followed', async (t) => {
  const w = world();
  const a = await w.clock.drive(w.resolver.query('web.example.test'));
  t.deepEqual(a.cnames, ['alias.example.test', 'www.example.test']);
  t.deepEqual(a.records.map((r) => formatIpv4((r.data as { address: number }).address)), ['192.0.2.80']);
});

test('NXDOMAIN is cached: the second lookup sends nothing', async (t) => {
  const w = world();
  t.is(await code(w.clock, w.resolver.resolve('missing.example.test')), 'ENOTFOUND');
  t.is(await code(w.clock, w.resolver.resolve('missing.example.test')), 'ENOTFOUND');
  t.is(w.named.stats.nxdomain, 1);
  t.is(w.resolver.stats.negativeCacheHits, 1);
  w.clock.advance(31_000);
  t.is(await code(w.clock, w.resolver.resolve('missing.example.test')), 'ENOTFOUND');
  t.is(w.named.stats.nxdomain, 2);
});

test('a reply too big for 512 bytes is truncated and fetched again over TCP', async (t) => {
  const w = world();
  const addrs = await w.clock.drive(w.resolver.resolve('big.example.test'));
  t.is(addrs.length, 50);
  t.is(w.named.stats.truncated, 1);
  t.is(w.named.stats.tcp, 1);
  t.is(w.resolver.stats.truncated, 1);
  t.is(w.resolver.stats.tcpQueries, 1);
});

test('with TCP off, a truncated reply gives what fit', async (t) => {
  const w = world();
  const udpOnly = attachDns(w.client, { servers: [NS], tcp: false });
  const addrs = await w.clock.drive(udpOnly.resolve('big.example.test'));
  t.is(w.named.stats.truncated, 1);
  t.is(udpOnly.stats.tcpQueries, 0);
  t.true(addrs.length > 0 && addrs.length < 50);
});

test('a server that is down times out and the next one answers', async (t) => {
  const w = world();
  w.resolver.setServers([ipv4(192, 0, 2, 99), NS]);
  const start = w.clock.now();
  t.deepEqual((await w.clock.drive(w.resolver.resolve('www.example.test'))).map(formatIpv4), ['192.0.2.80']);
  t.is(w.resolver.stats.timeouts, 1);
  t.true(w.clock.now() - start >= 2000);
});

test('ICMP port unreachable from a host without a DNS server moves on at once', async (t) => {
  const w = world();
  // The server host stops its DNS server: port 53 answers with ICMP port unreachable.
  w.named.close();
  const start = w.clock.now();
  t.is(await code(w.clock, w.resolver.resolve('www.example.test')), 'ECONNREFUSED');
  t.is(w.resolver.stats.unreachable, 2); // one per round
  t.is(w.resolver.stats.timeouts, 0);
  t.true(w.clock.now() - start < 100); // virtual ms: no 2 s timeout was waited out
});

