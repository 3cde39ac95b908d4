/**
 * stackTransport's glue (name resolution through stack.dns, addresses as
 * uint32, listen/close, timeouts on the stack's clock) checked against a
 * stand-in Stack whose TCP is node:net. The real pnet TCP runs in
 * stack-transport.test.ts.
 */
import test from 'ava';
import * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Ipv4Address } from '@pnet/tcpip';
import { stackTransport, StackForTransport, TransportClock, TransportError } from '../src';
import { testCertificates } from '../src/testing/certs';
import { freePort, readAll } from './helpers';

const certs = testCertificates();
const LOOPBACK = 0x7f000001 as Ipv4Address;

function dotted(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** A clock whose timers fire only when the test says so. */
class ManualClock implements TransportClock {
  timers = new Map<number, () => void>();
  private next = 1;
  now(): number { return 0; }
  schedule(_at: number, fn: (arg: number) => void): number { const h = this.next++; this.timers.set(h, () => fn(0)); return h; }
  cancel(h: number): void { this.timers.delete(h); }
  fireAll(): void { const fns = [...this.timers.values()]; this.timers.clear(); fns.forEach((f) => f()); }
}

function fakeStack(names: Record<string, Ipv4Address[]>) {
  const lookups: string[] = [];
  const connects: string[] = [];
  const clock = new ManualClock();
  const stack: StackForTransport = {
    clock,
    dns: {
      async resolve(name: string) {
        lookups.push(name);
        const found = names[name];
        if (!found) throw Object.assign(new Error(`${name}: NXDOMAIN`), { code: 'ENOTFOUND' });
        return found;
      },
    },
    tcp: {
      connect({ host, port }) {
        connects.push(`${dotted(host)}:${port}`);
        return net.connect({ host: dotted(host), port });
      },
      listen({ port, address }) {
        const server = net.createServer();
        server.listen({ port, host: address === undefined ? undefined : dotted(address) });
        return server;
      },
    },
  };
  return { stack, lookups, connects, clock };
}

test('names resolve with stack.dns, SNI and verification use the name, dotted quads skip the resolver', async (t) => {
  const { stack, lookups, connects } = fakeStack({ 'example.test': [LOOPBACK] });
  const transport = stackTransport(stack);
  const port = await freePort();
  let served = 0;
  const server = await transport.listen({ port, host: '127.0.0.1', secure: { key: certs.server.key, cert: certs.server.cert } }, (s) => {
    served++;
    s.end('hello from the server');
  });
  t.is(server.port, port);
  try {
    const s = await transport.connect({ host: 'example.test', port, secure: true, ca: certs.ca.cert });
    t.true((s as TLSSocket).authorized);
    t.is((s as TLSSocket).getPeerCertificate().subject.CN, 'localhost');
    t.is((await readAll(s)).toString(), 'hello from the server');
    t.deepEqual(lookups, ['example.test']);
    const plain = await transport.connect({ host: '127.0.0.1', port });
    plain.destroy();
    t.deepEqual(lookups, ['example.test'], 'a dotted quad is not looked up');
    t.deepEqual(connects, [`127.0.0.1:${port}`, `127.0.0.1:${port}`]);
    t.is(served, 1);
  } finally {
    await server.close();
  }
});

test('an unknown name fails with the same error shape as the kernel transport', async (t) => {
  const { stack } = fakeStack({});
  for (const secure of [false, true]) {
    const err = await t.throwsAsync(stackTransport(stack).connect({ host: 'nowhere.test', port: 443, secure }), { instanceOf: TransportError });
    t.is(err!.code, 'ENOTFOUND');
    t.is(err!.kind, 'name-not-found');
    t.regex(err!.message, /nowhere\.test:443 failed: name not found/);
  }
});

test('every address of a name is tried in order; the first that answers wins', async (t) => {
  const port = await freePort();
  const listener = net.createServer((s) => s.end('ok'));
  await new Promise<void>((r) => listener.listen(port, '127.0.0.1', r));
  // 127.0.0.2 has nothing listening on this port; 127.0.0.1 does.
  const { stack, connects } = fakeStack({ 'multi.test': [0x7f000002 as Ipv4Address, LOOPBACK] });
  try {
    const s = await stackTransport(stack).connect({ host: 'multi.test', port });
    t.is((await readAll(s)).toString(), 'ok');
    t.deepEqual(connects, [`127.0.0.2:${port}`, `127.0.0.1:${port}`]);
  } finally {
    listener.close();
  }
});

test("connect timeouts run on the stack's clock, not on wall time", async (t) => {
  let helloSeen!: () => void;
  const hello = new Promise<void>((r) => { helloSeen = r; });
  const silent = net.createServer((s) => { s.on('error', () => {}); s.once('data', () => helloSeen()); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  const { stack, clock } = fakeStack({});
  try {
    const pending = stackTransport(stack).connect({ host: '127.0.0.1', port, secure: true, timeout: 60_000 });
    t.is(clock.timers.size, 1, 'the timeout is a timer on the stack clock');
    // Once the ClientHello has arrived, time passes on the clock, and only there.
    await hello;
    clock.fireAll();
    const err = await t.throwsAsync(pending, { instanceOf: TransportError });
    t.is(err!.kind, 'timeout');
    t.regex(err!.message, /timed out after 60000 ms \(during TLS handshake\)/);
    t.is(clock.timers.size, 0);
  } finally {
    silent.close();
  }
});

test('a listen host that is not a dotted quad is refused clearly', async (t) => {
  const { stack } = fakeStack({});
  await t.throwsAsync(stackTransport(stack).listen({ port: 1, host: 'example.test' }, () => {}), { message: /dotted-quad IPv4 address/ });
  t.throws(() => stackTransport({} as StackForTransport), { message: /needs a Stack with tcp/ });
  const noDns = { tcp: stack.tcp } as StackForTransport;
  const err = await t.throwsAsync(stackTransport(noDns).connect({ host: 'example.test', port: 1 }), { instanceOf: TransportError });
  t.regex(err!.message, /no resolver/);
  t.is(err!.kind, 'name-not-found');
});
