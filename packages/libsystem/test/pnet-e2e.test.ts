import test from 'ava';
import { localMac, RealClock, Rng, SimLink, SimNic } from '@pnet/nic';
import { Stack } from '@pnet/tcpip';
import { stackTransport } from '@pnet/tls';
import { HttpServer, httpbin } from '@pnet/http';
import { boot, HTTPHandle, stackControl, stackDatagrams, streamBackends, System, TCPHandle, UDPHandle } from '../src';

/**
 * The whole pnet path: this host (10.0.0.1) and a server (10.0.0.2) as two
 * pnet Stacks on a simulated link; the server runs @pnet/http's httpbin and
 * TCP/UDP echo on pnet's TCP and UDP; the host's system.network reaches them
 * through pnet's TCP (stackTransport), HTTP client and UDP sockets.
 */
interface Setup {
  sys: System;
  server: Stack;
}

async function setup(): Promise<Setup> {
  const clock = new RealClock({ keepAlive: true });
  const link = new SimLink({ clock });
  const nicA = new SimNic({ name: 'a', mac: localMac(1), clock });
  const nicB = new SimNic({ name: 'b', mac: localMac(2), clock });
  link.connect(nicA, nicB);
  const host = new Stack({ clock, rng: new Rng(1), name: 'host' });
  const server = new Stack({ clock, rng: new Rng(2), name: 'server' });
  host.addInterface(nicA, { ip: '10.0.0.1', netmask: 24, up: true });
  server.addInterface(nicB, { ip: '10.0.0.2', netmask: 24, up: true });
  host.start();
  server.start();

  const serverTransport = stackTransport(server);
  const web = new HttpServer(httpbin());
  await web.listen(serverTransport, { port: 80 });
  await serverTransport.listen({ port: 7 }, (s) => s.pipe(s));
  const udpEcho = server.udp.bind({ port: 7 });
  udpEcho.on('message', (d, r) => udpEcho.send(d, r.port, r.address));

  const stream = streamBackends(stackTransport(host));
  const sys = await boot({
    backends: {
      ...stream,
      stack: stackControl(host),
      datagrams: stackDatagrams(host),
      close: async () => {
        stream.close();
        await web.close();
        udpEcho.close();
        host.close();
        server.close();
        clock.cancelAll();
      },
    },
  });
  return { sys, server };
}

test('get, post and getData over pnet TCP to an httpbin on a pnet Stack', async (t) => {
  const { sys } = await setup();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  const [h, err] = await n.get({ url: 'http://10.0.0.2/get?x=1', encoding: 'text' });
  t.is(err, undefined);
  t.true(h instanceof HTTPHandle);
  t.is(h!.responseCode(), 200);
  const body = JSON.parse((await h!.read('*a')) as string);
  t.is(body.args.x, '1');
  h!.close();

  const [p] = await n.post('http://10.0.0.2/post', 'over pnet');
  t.is(JSON.parse(String(await p!.read('*a'))).data, 'over pnet');
  p!.close();

  const [data, code] = await n.getData('http://10.0.0.2/status/418');
  t.is(code, 418);
  t.true(Buffer.isBuffer(data));

  const [r] = await n.get('http://10.0.0.2/redirect/2');
  t.is(r!.responseCode(), 200);
  r!.close();
});

test('tcp and udp echo over pnet; a listener on the host reached from the server', async (t) => {
  const { sys, server } = await setup();
  t.teardown(() => sys.shutdown());
  const n = sys.network;

  const tcp = n.connect('tcp://10.0.0.2:7') as TCPHandle;
  await tcp.whenStatus('open');
  t.is(tcp.localIP(), '10.0.0.1');
  t.is(tcp.remoteIP(), '10.0.0.2');
  tcp.write('ping over pnet\n');
  while (tcp.available() < 15) await new Promise((r) => tcp.once('handle_data_ready', r));
  t.deepEqual(tcp.read(), Buffer.from('ping over pnet'));
  tcp.close();

  const udp = n.connect({ url: 'udp://10.0.0.2:7', encoding: 'text' }) as UDPHandle;
  await udp.whenStatus('open');
  const got = new Promise((r) => udp.once('handle_data_ready', r));
  udp.write('datagram');
  await got;
  t.is(udp.read('*a'), 'datagram');
  udp.close();

  await n.listen('tcp://0.0.0.0:9000');
  const client = stackTransport(server).connect({ host: '10.0.0.1', port: 9000 });
  const [, req] = await n.pullEvent('network_request');
  t.is(req.ip, '10.0.0.2');
  const h = req.handle as TCPHandle;
  const c = await client;
  c.write('from the server');
  while (h.available() < 15) await new Promise((r) => h.once('handle_data_ready', r));
  t.is(String(h.read('*a')), 'from the server');
  h.close();
  c.destroy();
});

test('refused connections over pnet use Phoenix\'s words', async (t) => {
  const { sys } = await setup();
  t.teardown(() => sys.shutdown());
  const n = sys.network;
  const h = n.connect('tcp://10.0.0.2:9');
  await h.whenStatus('error');
  t.deepEqual(h.status(), ['error', 'Connection refused']);
  h.close();
  t.deepEqual(await n.get('http://10.0.0.2:81/'), [null, 'Connection refused']);
});
