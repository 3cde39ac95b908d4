/**
 * TLS over pnet's own TCP: our client against our server, two Stacks on a
 * SimLink, in virtual time, with loss, reordering and small windows (a TCP
 * receive window smaller than one 16 KiB TLS record must never deadlock).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { attachDns, DnsServer, ipv4, serveDns, Stack } from '@pnet/tcpip';
import type { TcpConfig } from '@pnet/tcpip';
// Tests may use lower layers; @pnet/nic is not a dependency of this package, so reach it by path.
import { localMac, Rng, SimLink, SimNic, VirtualClock } from '../../nic/src';
import type { Impairments } from '../../nic/src';
import { stackTransport, TransportError, waitForSession } from '../src';
import { testCertificates } from '../src/testing/certs';

const certs = testCertificates();
const SERVER_IP = ipv4(192, 0, 2, 1);
const CLIENT_IP = ipv4(192, 0, 2, 10);

interface WorldOptions {
  seed?: number;
  impair?: Impairments;
  clientTcp?: Partial<TcpConfig>;
  serverTcp?: Partial<TcpConfig>;
}

/** A server stack (serving DNS for example.test and echo.test) and a client stack on one SimLink. */
function world(o: WorldOptions = {}) {
  const clock = new VirtualClock();
  const seed = o.seed ?? 1;
  const server = new Stack({ clock, rng: new Rng(seed * 2 + 1), name: 'server', tcp: o.serverTcp });
  const client = new Stack({ clock, rng: new Rng(seed * 2 + 2), name: 'client', tcp: o.clientTcp });
  const sn = new SimNic({ name: 's0', mac: localMac(1), clock });
  const cn = new SimNic({ name: 'c0', mac: localMac(2), clock });
  const link = new SimLink({ clock, seed, delay: 5, aToB: o.impair, bToA: o.impair });
  link.connect(sn, cn);
  server.addInterface(sn, { ip: SERVER_IP, netmask: 24 });
  client.addInterface(cn, { ip: CLIENT_IP, netmask: 24 });
  server.start();
  client.start();
  serveDns(server, new DnsServer({
    origin: 'test',
    records: [{ name: 'example', type: 'A', value: '192.0.2.1' }, { name: 'echo', type: 'A', value: '192.0.2.1' }],
  }));
  attachDns(client, { servers: [SERVER_IP] });
  const stop = () => { server.stop(); client.stop(); };
  return { clock, server, client, link, stop, tServer: stackTransport(server), tClient: stackTransport(client, { ca: certs.ca.cert }) };
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Server: reads the whole upload, answers with its SHA-256 and then `download` bytes. */
function digestServer(download: Buffer, onSocket?: (s: Duplex) => void) {
  return (s: Duplex) => {
    onSocket?.(s);
    const h = createHash('sha256');
    s.on('data', (c: Buffer) => h.update(c));
    s.on('error', () => {});
    s.on('end', () => {
      s.write(h.digest('hex'));
      s.end(download);
    });
  };
}

/** Client side of digestServer: uploads, then reads the digest (64 hex chars) and the download. */
async function exchange(s: Duplex, upload: Buffer, opts: { slowReader?: boolean } = {}): Promise<{ digest: string; download: Buffer }> {
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      // A reader that stops for a moment after every chunk: the TCP window closes and must reopen.
      if (opts.slowReader) { s.pause(); setImmediate(() => s.resume()); }
    });
    s.once('end', resolve);
    s.once('error', reject);
  });
  // Write in pieces so the writer side honours backpressure too.
  for (let off = 0; off < upload.length; off += 20_000) {
    if (!s.write(upload.subarray(off, off + 20_000))) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  await done;
  const all = Buffer.concat(chunks);
  return { digest: all.subarray(0, 64).toString(), download: all.subarray(64) };
}

test('TLS 1.3 over pnet TCP: name from stack.dns, verified, ALPN, data both ways', async (t) => {
  const w = world();
  try {
    const download = pattern(100_000, 7);
    let alpnSeen = null as string | false | null;
    const server = await w.tServer.listen({
      port: 443, secure: { key: certs.server.key, cert: certs.server.cert, ALPNProtocols: ['http/1.1'] },
    }, digestServer(download, (s) => { alpnSeen = (s as TLSSocket).alpnProtocol; }));
    const s = await w.clock.drive(w.tClient.connect({ host: 'example.test', port: 443, secure: true, ALPNProtocols: ['http/1.1'] }));
    const tlsSocket = s as TLSSocket;
    t.true(tlsSocket.authorized);
    t.is(tlsSocket.getProtocol(), 'TLSv1.3');
    t.is(tlsSocket.alpnProtocol, 'http/1.1');
    const upload = pattern(200_000, 3);
    const r = await w.clock.drive(exchange(s, upload));
    t.is(alpnSeen, 'http/1.1'); // the server's side of a TLS 1.3 handshake ends after the client's
    t.is(r.digest, sha256(upload));
    t.is(sha256(r.download), sha256(download));
    await server.close();
  } finally {
    w.stop();
  }
});

test('bad certificates are refused over pnet TCP with the same errors as over the kernel', async (t) => {
  const w = world();
  try {
    const server = await w.tServer.listen({ port: 443, secure: { key: certs.expired.key, cert: certs.expired.cert } }, (s) => s.end());
    const err = await t.throwsAsync(w.clock.drive(w.tClient.connect({ host: 'example.test', port: 443, secure: true })), { instanceOf: TransportError });
    t.is(err!.code, 'CERT_HAS_EXPIRED');
    t.is(err!.kind, 'certificate-expired');
    const refused = await t.throwsAsync(w.clock.drive(w.tClient.connect({ host: 'example.test', port: 444, secure: true })), { instanceOf: TransportError });
    t.is(refused!.kind, 'refused');
    t.is(refused!.code, 'ECONNREFUSED');
    t.is(refused!.message, 'connection to example.test:444 failed: connection refused [ECONNREFUSED]'); // word for word as over the kernel
    const unknown = await t.throwsAsync(w.clock.drive(w.tClient.connect({ host: 'nowhere.test', port: 443 })), { instanceOf: TransportError });
    t.is(unknown!.kind, 'name-not-found');
    await server.close();
  } finally {
    w.stop();
  }
});

test('session resumption over pnet TCP', async (t) => {
  const w = world();
  try {
    const server = await w.tServer.listen({ port: 443, secure: { key: certs.server.key, cert: certs.server.cert } }, digestServer(Buffer.from('ok')));
    const opts = { host: 'echo.test', port: 443, secure: true } as const;
    const first = await w.clock.drive(w.tClient.connect(opts));
    t.false((first as TLSSocket).isSessionReused());
    await w.clock.drive(exchange(first, Buffer.from('one')));
    await w.clock.drive(waitForSession(first));
    const second = await w.clock.drive(w.tClient.connect(opts));
    t.true((second as TLSSocket).isSessionReused());
    const r = await w.clock.drive(exchange(second, Buffer.from('two')));
    t.is(r.digest, sha256(Buffer.from('two')));
    await server.close();
  } finally {
    w.stop();
  }
});

for (const seed of [1, 2]) {
  test(`5 % loss and reordering each way (seed ${seed}): 300 kB up and down, identical SHA-256`, async (t) => {
    const w = world({ seed, impair: { loss: 0.05, reorder: 0.05, reorderGap: 3 } });
    try {
      const download = pattern(300_000, seed + 100);
      const server = await w.tServer.listen({ port: 443, secure: { key: certs.server.key, cert: certs.server.cert } }, digestServer(download));
      const s = await w.clock.drive(w.tClient.connect({ host: 'example.test', port: 443, secure: true }));
      const upload = pattern(300_000, seed);
      const r = await w.clock.drive(exchange(s, upload));
      t.is(r.digest, sha256(upload));
      t.is(sha256(r.download), sha256(download));
      const stats = w.link.stats;
      t.true(stats.aToB.droppedLoss + stats.bToA.droppedLoss > 0, 'the link really dropped frames');
      t.true(stats.aToB.reordered + stats.bToA.reordered > 0, 'the link really reordered frames');
      await server.close();
    } finally {
      w.stop();
    }
  });
}

for (const window of [1024, 4096]) {
  test(`receive and send buffers of ${window} B (well under a 16 KiB TLS record): 512 kB each way with a slow reader, no deadlock`, async (t) => {
    // Fixed sizes: receive auto-tuning would grow the tiny buffer this test is about.
    const small = { receiveBufferSize: window, sendBufferSize: window, windowScaling: false, receiveAutoTune: false };
    const w = world({ clientTcp: small, serverTcp: small, impair: { loss: 0.01 } });
    try {
      const download = pattern(512_000, 9);
      const server = await w.tServer.listen({ port: 443, secure: { key: certs.server.key, cert: certs.server.cert } }, digestServer(download));
      const s = await w.clock.drive(w.tClient.connect({ host: 'example.test', port: 443, secure: true }));
      const upload = pattern(512_000, 8);
      const r = await w.clock.drive(exchange(s, upload, { slowReader: true }));
      t.is(r.digest, sha256(upload));
      t.is(sha256(r.download), sha256(download));
      await server.close();
    } finally {
      w.stop();
    }
  });
}
