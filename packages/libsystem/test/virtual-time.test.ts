import test from 'ava';
import { localMac, Rng, SimLink, SimNic, VirtualClock } from '@pnet/nic';
import { DhcpServer, DnsServer, parseIpv4, serveDhcp, serveDns, Stack } from '@pnet/tcpip';
import { stackTransport } from '@pnet/tls';
import { HttpServer, httpbin } from '@pnet/http';
import { boot, startHostStack } from '../src';

/**
 * The facade in virtual time: nothing in it reads the wall clock, so a host
 * on a simulated link with 20 ms of delay boots by DHCP, resolves a name and
 * fetches a page, all driven by a VirtualClock, and the same seed gives the
 * same virtual timeline.
 */
async function run(seed: number): Promise<{ code: number; body: string; elapsed: number }> {
  const clock = new VirtualClock();
  const link = new SimLink({ clock, delay: 20, seed });
  const routerNic = new SimNic({ name: 'r0', mac: localMac(1), clock });
  const hostNic = new SimNic({ name: 'h0', mac: localMac(2), clock });
  link.connect(routerNic, hostNic);
  const router = new Stack({ clock, rng: new Rng(seed), name: 'router' });
  router.addInterface(routerNic, { ip: '192.0.2.1', netmask: 24, up: true });
  router.start();
  const gw = parseIpv4('192.0.2.1');
  serveDhcp(router, 'eth0', new DhcpServer({ clock, serverId: gw, pool: { start: parseIpv4('192.0.2.100'), end: parseIpv4('192.0.2.100') }, netmask: 24, routers: [gw], dnsServers: [gw] }));
  serveDns(router, new DnsServer({ origin: 'example.test', records: [{ name: '@', type: 'A', value: '192.0.2.1' }] }));
  const web = new HttpServer(httpbin(), { clock });
  await clock.drive(web.listen(stackTransport(router), { port: 80 }));

  const host = await clock.drive(startHostStack({ nic: hostNic, clock, rng: new Rng(seed + 1), address: 'dhcp' }));
  const sys = await boot({ backends: host.backends, clock });
  const start = clock.now();
  const [h, err] = await clock.drive(sys.network.get('http://example.test/bytes/32'));
  if (!h) throw new Error(err);
  const body = (await clock.drive(h.read('*a'))) as Buffer;
  const result = { code: h.responseCode(), body: body.toString('hex'), elapsed: clock.now() - start };
  h.close();
  await clock.drive(sys.shutdown());
  await clock.drive(host.close());
  await clock.drive(web.close());
  router.close();
  return result;
}

test('boot by DHCP, DNS and HTTP in virtual time; the same seed replays the same run', async (t) => {
  const a = await run(7);
  t.is(a.code, 200);
  t.is(a.body.length, 64);
  t.true(a.elapsed >= 80, 'at least a DNS query and a TCP handshake plus request, 20 ms each way');
  const b = await run(7);
  t.deepEqual(b, a);
});
