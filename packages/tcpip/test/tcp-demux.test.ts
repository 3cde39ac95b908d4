/**
 * The connection demux: 4-tuples whose hashes collide share a chain; each still finds its own
 * connection, and closing one (head or tail of the chain) leaves the other reachable.
 */
import test from 'ava';
import { once } from 'node:events';
import { FakeNet } from './tcp-harness';
import { demuxKey } from '../src/tcp/tcp-layer';
import { parseIpv4 } from '../src/wire/ipv4-address';
import type { TcpSocket } from '../src/tcp/socket';

test('demux: two 4-tuples with the same hash each reach their own connection, before and after the other closes', async (t) => {
  const net = new FakeNet(1, { delay: 1 });
  const a = net.addHost('192.0.2.1');
  const b = net.addHost('192.0.2.2');
  const clock = net.clock;
  const salt = (b.tcp as unknown as { demuxSalt: number }).demuxSalt;
  const ca = parseIpv4('192.0.2.1');
  const sb = parseIpv4('192.0.2.2');
  // Find two client ports toward server port 80 or 81 whose server-side hashes collide (birthday: ~130k tuples in 2^30).
  const seen = new Map<number, [number, number]>();
  let pair: [[number, number], [number, number]] | null = null;
  for (let port = 80; port <= 81 && !pair; port++) {
    for (let cp = 1024; cp <= 65535; cp++) {
      const k = demuxKey(salt, sb, port, ca, cp);
      const prev = seen.get(k);
      if (prev) { pair = [prev, [port, cp]]; break; }
      seen.set(k, [port, cp]);
    }
  }
  if (!pair) { t.pass('no colliding pair for this key (improbable)'); return; }
  t.is(demuxKey(salt, sb, pair[0][0], ca, pair[0][1]), demuxKey(salt, sb, pair[1][0], ca, pair[1][1]));
  for (const port of new Set([pair[0][0], pair[1][0]])) {
    b.tcp.listen({ port }).on('connection', (s: TcpSocket) => {
      s.on('data', (d: Buffer) => s.write(`${s.localPort}:${d}`));
      s.on('end', () => s.end());
      s.on('error', () => {}); // the RST of destroy() below
    });
  }
  const open = async ([port, localPort]: [number, number]) => {
    const s = a.tcp.connect({ host: '192.0.2.2', port, localPort });
    await clock.drive(once(s, 'connect'));
    return s;
  };
  const ask = async (s: TcpSocket, what: string) => {
    const got = once(s, 'data');
    s.write(what);
    return String((await clock.drive(got))[0]);
  };
  const first = await open(pair[0]);
  const second = await open(pair[1]);
  t.is(b.tcp.connections().length, 2);
  t.is(await ask(first, 'one'), `${pair[0][0]}:one`);
  t.is(await ask(second, 'two'), `${pair[1][0]}:two`);
  // Close the chain's head (the client closes first: the server's side ends in CLOSED, the client's in TIME-WAIT).
  first.end();
  await clock.drive(once(first, 'close'));
  clock.advance(10); // the client's last ACK reaches the server
  t.is(b.tcp.connections().length, 1, 'the head left the chain');
  t.is(await ask(second, 'still'), `${pair[1][0]}:still`);
  a.tcp.connections().filter((c) => c.localPort === pair![0][1]).forEach((c) => c.abort()); // the client's TIME-WAIT, to reuse the tuple
  t.is(await ask(second, 'again'), `${pair[1][0]}:again`);
  // Reopen the first tuple (now the chain's tail) and close the head.
  const third = await open(pair[0]);
  t.is(await ask(third, 'three'), `${pair[0][0]}:three`);
  second.destroy();
  await clock.drive(once(second, 'close'));
  t.is(await ask(third, 'last'), `${pair[0][0]}:last`);
  t.false('internal-error' in b.tcp.stats.errors);
});

test('a new connection to a 4-tuple the server holds in TIME-WAIT opens at once: timestamps toward a host keep increasing', async (t) => {
  const net = new FakeNet(1, { delay: 1 });
  const a = net.addHost('192.0.2.1');
  const b = net.addHost('192.0.2.2');
  const clock = net.clock;
  b.tcp.listen({ port: 80 }).on('connection', (s: TcpSocket) => {
    s.once('data', () => s.end('bye')); // the server closes first and keeps TIME-WAIT
    s.on('error', () => {});
  });
  for (let i = 0; i < 8; i++) {
    const s = a.tcp.connect({ host: '192.0.2.2', port: 80, localPort: 40000 });
    const closed = once(s, 'close');
    s.on('data', () => {});
    s.write('hi');
    const t0 = clock.now();
    await clock.drive(closed);
    t.true(clock.now() - t0 < 100, `exchange ${i} took ${clock.now() - t0} ms`);
    clock.advance(5);
    t.is(b.tcp.connections().filter((c) => c.state === 'TIME-WAIT' && c.remotePort === 40000).length, 1, 'the server holds the tuple in TIME-WAIT');
  }
  t.is(a.tcp.stats.timeouts, 0, 'no SYN waited for a retransmission timeout');
});

test('host text: each connection goes to the host its text names (the last one parsed is remembered), bad text throws', (t) => {
  const net = new FakeNet(1, { delay: 1 });
  const a = net.addHost('192.0.2.1');
  net.addHost('192.0.2.2');
  net.addHost('192.0.2.3');
  for (const host of ['192.0.2.2', '192.0.2.2', '192.0.2.3', '192.0.2.2', '192.0.2.3', '192.0.2.3']) {
    t.is(a.tcp.open({ host, port: 80 }).remoteAddress, parseIpv4(host));
  }
  for (const host of ['', '192.0.2', '192.0.2.300', '192.0.2.3 ']) t.throws(() => a.tcp.open({ host, port: 80 }), { instanceOf: TypeError });
  t.is(a.tcp.open({ host: '192.0.2.3', port: 81 }).remoteAddress, parseIpv4('192.0.2.3'), 'a throw leaves the remembered address alone');
});
