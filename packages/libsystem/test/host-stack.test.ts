import test from 'ava';
import { localMac, RealClock, Rng, SimLink, SimNic } from '@pnet/nic';
import { DhcpServer, DnsServer, parseIpv4, serveDhcp, serveDns, Stack } from '@pnet/tcpip';
import { stackTransport } from '@pnet/tls';
import { HttpServer, httpbin } from '@pnet/http';
import { boot, startHostStack } from '../src';

/**
 * startHostStack, the host side of TAP boot and of the embedded world: a
 * pnet Stack on a NIC, configured by DHCP (address, gateway, DNS) or by
 * hand, reaching a router that serves DHCP, DNS and HTTP over a SimLink.
 */
async function router(clock: RealClock) {
  const link = new SimLink({ clock });
  const routerNic = new SimNic({ name: 'r0', mac: localMac(1), clock });
  const hostNic = new SimNic({ name: 'h0', mac: localMac(2), clock });
  link.connect(routerNic, hostNic);
  const r = new Stack({ clock, rng: new Rng(11), name: 'router' });
  r.addInterface(routerNic, { ip: '192.0.2.1', netmask: 24, up: true });
  r.start();
  const gw = parseIpv4('192.0.2.1');
  serveDhcp(r, 'eth0', new DhcpServer({
    clock, serverId: gw, pool: { start: parseIpv4('192.0.2.100'), end: parseIpv4('192.0.2.150') }, netmask: 24, routers: [gw], dnsServers: [gw],
  }));
  serveDns(r, new DnsServer({ origin: 'example.test', records: [{ name: '@', type: 'A', value: '192.0.2.1' }] }));
  const web = new HttpServer(httpbin());
  await web.listen(stackTransport(r), { port: 80 });
  return { hostNic, close: async () => { await web.close(); r.close(); } };
}

test('DHCP: the lease configures address, default route and DNS; names resolve through the router', async (t) => {
  const clock = new RealClock({ keepAlive: true });
  const r = await router(clock);
  const host = await startHostStack({ nic: r.hostNic, clock, rng: new Rng(5), address: 'dhcp', dhcpTimeout: 10_000 });
  const sys = await boot({ backends: { ...host.backends, close: async () => { await host.close(); await r.close(); clock.cancelAll(); } } });
  t.teardown(() => sys.shutdown());
  t.is(host.lease!.prefix, 24);
  t.deepEqual(sys.network.ipconfig('eth0'), { ip: '192.0.2.100', netmask: 24, up: true });
  t.true(sys.network.route.list(0)!.some((rt) => rt.source === '0.0.0.0' && rt.sourceNetmask === 0 && rt.destination === '192.0.2.1'));
  const [h, err] = await sys.network.get({ url: 'http://example.test/get', encoding: 'text' });
  t.is(err, undefined);
  t.is(h!.responseCode(), 200);
  t.regex(String(await h!.read('*a')), /example\.test/, 'httpbin echoes the Host it was asked for');
  h!.close();
  const [none, nerr] = await sys.network.get('http://nowhere.example.test/');
  t.is(none, null);
  t.is(typeof nerr, 'string');
});

test('static address with gateway and DNS given by hand', async (t) => {
  const clock = new RealClock({ keepAlive: true });
  const r = await router(clock);
  const host = await startHostStack({
    nic: r.hostNic, clock, rng: new Rng(6), address: { ip: '192.0.2.7', prefix: 24 }, gateway: '192.0.2.1', dns: ['192.0.2.1'],
  });
  t.teardown(async () => { await host.close(); await r.close(); clock.cancelAll(); });
  t.is(host.lease, null);
  t.deepEqual(host.stack.ipconfig('eth0'), { ip: parseIpv4('192.0.2.7'), netmask: 24, up: true });
  const sys = await boot({ backends: host.backends });
  t.teardown(() => sys.shutdown());
  const [data, code] = await sys.network.getData('http://example.test/bytes/64');
  t.is(code, 200);
  t.is(data!.length, 64);
});
