/**
 * The transport over the kernel's TCP on 127.0.0.1: our TLS client against our
 * TLS server (Node's tls on both ends), plain streams, and every failure shape.
 */
import test from 'ava';
import fc from 'fast-check';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { isSecureStream, ListenOptions, nodeTransport, SessionCache, StreamServer, TransportError, waitForSession } from '../src';
import { createAuthority, createIntermediate, issueCertificate, testCertificates } from '../src/testing/certs';
import { readAll, readUntil } from './helpers';

const certs = testCertificates();

/** A server that echoes each stream back, on a free loopback port. */
async function echoServer(secure?: ListenOptions['secure'], extra: Partial<ListenOptions> = {}): Promise<StreamServer & { accepted: Duplex[] }> {
  const accepted: Duplex[] = [];
  const server = await nodeTransport().listen({ port: 0, host: '127.0.0.1', secure, ...extra }, (s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  return Object.assign(server, { accepted });
}

async function roundTrip(stream: Duplex, payload: Buffer): Promise<Buffer> {
  const back = readAll(stream);
  stream.end(payload);
  return back;
}

test('plain streams: connect, echo, same bytes back', async (t) => {
  const server = await echoServer();
  try {
    const s = await nodeTransport().connect({ host: '127.0.0.1', port: server.port });
    t.false(isSecureStream(s));
    const payload = Buffer.from('hello over plain TCP');
    t.deepEqual(await roundTrip(s, payload), payload);
  } finally {
    await server.close();
  }
});

test('secure stream: default handshake is TLS 1.3, verified against the given CA, 1 MB echoes intact', async (t) => {
  const server = await echoServer({ key: certs.server.key, cert: certs.server.cert });
  try {
    const s = await nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert });
    t.true(isSecureStream(s));
    const tlsSocket = s as TLSSocket;
    t.is(tlsSocket.getProtocol(), 'TLSv1.3');
    t.true(tlsSocket.authorized);
    t.is(tlsSocket.getPeerCertificate().subject.CN, 'localhost');
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
    t.deepEqual(await roundTrip(s, payload), payload);
  } finally {
    await server.close();
  }
});

test('an IP address host is checked against the certificate IP names (and sends no SNI)', async (t) => {
  let seenServername = null as string | false | null | undefined;
  const server = await nodeTransport().listen({ port: 0, host: '127.0.0.1', secure: { key: certs.server.key, cert: certs.server.cert } }, (s) => {
    seenServername = (s as TLSSocket & { servername?: string | false | null }).servername;
    s.end();
  });
  try {
    const s = await nodeTransport().connect({ host: '127.0.0.1', port: server.port, secure: true, ca: certs.ca.cert });
    t.true((s as TLSSocket).authorized);
    await readAll(s);
    t.falsy(seenServername);
  } finally {
    await server.close();
  }
});

test('SNI: the server sees the servername and picks the certificate for it', async (t) => {
  const other = testCertificates({ names: ['echo.test'] });
  let seen = null as string | false | null | undefined;
  const server = await nodeTransport().listen({
    port: 0, host: '127.0.0.1',
    secure: { key: certs.wrongHost.key, cert: certs.wrongHost.cert, sni: { 'echo.test': { key: other.server.key, cert: other.server.cert } } },
  }, (s) => { seen = (s as TLSSocket & { servername?: string | false | null }).servername; s.end(); });
  try {
    const s = await nodeTransport().connect({ host: '127.0.0.1', servername: 'echo.test', port: server.port, secure: true, ca: other.ca.cert });
    t.is((s as TLSSocket).getPeerCertificate().subject.CN, 'echo.test');
    await readAll(s);
    t.is(seen, 'echo.test');
  } finally {
    await server.close();
  }
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`${version} only: client pinned to ${version} negotiates it with Node's server`, async (t) => {
    const server = await echoServer({ key: certs.server.key, cert: certs.server.cert });
    try {
      const s = await nodeTransport().connect({
        host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, minVersion: version, maxVersion: version,
      });
      t.is((s as TLSSocket).getProtocol(), version);
      t.deepEqual(await roundTrip(s, Buffer.from('x')), Buffer.from('x'));
    } finally {
      await server.close();
    }
  });
}

test('no TLS version in common: a clear protocol-version error', async (t) => {
  const server = await echoServer({ key: certs.server.key, cert: certs.server.cert, maxVersion: 'TLSv1.2' });
  try {
    const err = await t.throwsAsync(nodeTransport().connect({
      host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, minVersion: 'TLSv1.3',
    }), { instanceOf: TransportError });
    t.is(err!.kind, 'protocol-version');
    t.regex(err!.message, /no TLS version in common/);
    t.regex(err!.code, /^ERR_SSL_/);
  } finally {
    await server.close();
  }
});

test('ALPN: the server picks from what the client offers; both ends see it', async (t) => {
  let serverSide = null as string | false | null;
  const server = await nodeTransport().listen({
    port: 0, host: '127.0.0.1', secure: { key: certs.server.key, cert: certs.server.cert, ALPNProtocols: ['h2', 'http/1.1'] },
  }, (s) => { serverSide = (s as TLSSocket).alpnProtocol; s.end(); });
  try {
    const s = await nodeTransport().connect({
      host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, ALPNProtocols: ['http/1.1'],
    });
    t.is((s as TLSSocket).alpnProtocol, 'http/1.1');
    await readAll(s);
    t.is(serverSide, 'http/1.1');
  } finally {
    await server.close();
  }
});

test('ALPN with nothing in common is refused with a clear error', async (t) => {
  const server = await echoServer({ key: certs.server.key, cert: certs.server.cert, ALPNProtocols: ['h2'] });
  try {
    const err = await t.throwsAsync(nodeTransport().connect({
      host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, ALPNProtocols: ['http/1.1'],
    }), { instanceOf: TransportError });
    t.is(err!.kind, 'no-application-protocol');
    t.regex(err!.message, /no ALPN protocol in common/);
  } finally {
    await server.close();
  }
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`session resumption over ${version}: a session from the first connection is reused by the second`, async (t) => {
    const server = await echoServer({ key: certs.server.key, cert: certs.server.cert });
    const transport = nodeTransport({ sessionCache: false });
    const opts = { host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, maxVersion: version } as const;
    try {
      const first = await transport.connect(opts);
      t.false((first as TLSSocket).isSessionReused());
      const session = waitForSession(first);
      first.write('ping');
      await readUntil(first, (x) => x === 'ping');
      const saved = await session;
      first.end();
      const second = await transport.connect({ ...opts, session: saved });
      t.true((second as TLSSocket).isSessionReused());
      t.deepEqual(await roundTrip(second, Buffer.from('again')), Buffer.from('again'));
      // Without the session there is a full handshake again.
      const third = await transport.connect(opts);
      t.false((third as TLSSocket).isSessionReused());
      third.destroy();
    } finally {
      await server.close();
    }
  });
}

test('the transport session cache resumes automatically, but never across names or trust settings', async (t) => {
  const server = await echoServer({ key: certs.server.key, cert: certs.server.cert });
  const transport = nodeTransport();
  const opts = { host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert } as const;
  try {
    const first = await transport.connect(opts);
    const ticket = waitForSession(first);
    t.deepEqual(await roundTrip(first, Buffer.from('a')), Buffer.from('a'));
    await ticket;
    t.true(transport.sessions!.size >= 1);
    const second = await transport.connect(opts);
    t.true((second as TLSSocket).isSessionReused());
    second.destroy();
    // Another verification setting: no session offered, full handshake.
    const other = await transport.connect({ ...opts, rejectUnauthorized: false });
    t.false((other as TLSSocket).isSessionReused());
    other.destroy();
    const byIp = await transport.connect({ ...opts, host: '127.0.0.1' });
    t.false((byIp as TLSSocket).isSessionReused());
    byIp.destroy();
  } finally {
    await server.close();
  }
});

const badCases = [
  { name: 'expired', pick: () => certs.expired, code: 'CERT_HAS_EXPIRED', kind: 'certificate-expired', text: /has expired/ },
  { name: 'not yet valid', pick: () => certs.notYetValid, code: 'CERT_NOT_YET_VALID', kind: 'certificate-not-yet-valid', text: /not yet valid/ },
  { name: 'wrong host', pick: () => certs.wrongHost, code: 'ERR_TLS_CERT_ALTNAME_INVALID', kind: 'hostname-mismatch', text: /hostname mismatch.*localhost/ },
  { name: 'self-signed', pick: () => certs.selfSigned, code: 'DEPTH_ZERO_SELF_SIGNED_CERT', kind: 'self-signed', text: /self-signed/ },
  { name: 'unknown CA', pick: () => certs.unknownCa, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', kind: 'unknown-ca', text: /unknown CA/ },
] as const;

for (const c of badCases) {
  test(`bad certificate (${c.name}): refused by default with its own clear error`, async (t) => {
    const leaf = c.pick();
    const server = await echoServer({ key: leaf.key, cert: leaf.cert });
    try {
      const err = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert }),
        { instanceOf: TransportError });
      t.is(err!.code, c.code);
      t.is(err!.kind, c.kind);
      t.true(err!.tls);
      t.regex(err!.message, c.text);
      t.regex(err!.message, new RegExp(`localhost:${server.port}`));
      t.truthy(err!.peerCertificate, 'the refused certificate is attached for diagnosis');
    } finally {
      await server.close();
    }
  });

  test(`bad certificate (${c.name}): accepted only with the explicit rejectUnauthorized: false`, async (t) => {
    const leaf = c.pick();
    const server = await echoServer({ key: leaf.key, cert: leaf.cert });
    try {
      const s = await nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, rejectUnauthorized: false });
      const tlsSocket = s as TLSSocket;
      t.false(tlsSocket.authorized);
      t.is(tlsSocket.authorizationError as unknown as string, c.code);
      t.deepEqual(await roundTrip(s, Buffer.from('still works')), Buffer.from('still works'));
    } finally {
      await server.close();
    }
  });
}

test('unknown CA when the server sends its whole chain: the untrusted root is named as such', async (t) => {
  const server = await echoServer({ key: certs.unknownCa.key, cert: certs.unknownCa.cert + certs.untrustedCa.cert });
  try {
    const err = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert }),
      { instanceOf: TransportError });
    t.is(err!.code, 'SELF_SIGNED_CERT_IN_CHAIN');
    t.is(err!.kind, 'unknown-ca');
    t.regex(err!.message, /unknown CA: the server certificate chain ends in a root that is not trusted/);
  } finally {
    await server.close();
  }
});

test('verification stays on when rejectUnauthorized is undefined or NODE_TLS_REJECT_UNAUTHORIZED=0', async (t) => {
  const server = await echoServer({ key: certs.selfSigned.key, cert: certs.selfSigned.cert });
  const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  try {
    const e1 = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, rejectUnauthorized: undefined }));
    t.is((e1 as TransportError).kind, 'self-signed');
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const e2 = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port: server.port, secure: true }));
    t.is((e2 as TransportError).kind, 'self-signed');
  } finally {
    if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
    await server.close();
  }
});

test("the transport's own CA bundle is used when a connect passes none; without it the test CA is unknown", async (t) => {
  const server = await echoServer({ key: certs.server.key, cert: certs.server.cert });
  try {
    const s = await nodeTransport({ ca: certs.ca.cert }).connect({ host: 'localhost', port: server.port, secure: true });
    t.true((s as TLSSocket).authorized);
    s.destroy();
    const err = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port: server.port, secure: true }));
    t.is((err as TransportError).kind, 'unknown-ca');
  } finally {
    await server.close();
  }
});

test('client certificates: the server sees and verifies the client certificate', async (t) => {
  const seen: Array<{ cn: string; authorized: boolean }> = [];
  const server = await nodeTransport().listen({
    port: 0, host: '127.0.0.1', secure: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert, requestCert: true },
  }, (s) => {
    const tlsSocket = s as TLSSocket;
    seen.push({ cn: tlsSocket.getPeerCertificate().subject.CN, authorized: tlsSocket.authorized });
    s.on('error', () => {});
    s.pipe(s);
  });
  try {
    const s = await nodeTransport().connect({
      host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key,
    });
    t.deepEqual(await roundTrip(s, Buffer.from('mutual')), Buffer.from('mutual'));
    t.deepEqual(seen, [{ cn: 'pnet test client', authorized: true }]);
  } finally {
    await server.close();
  }
});

test('client certificates: missing or untrusted ones are refused (TLS 1.2 at connect, TLS 1.3 on the first read)', async (t) => {
  const serverErrors: TransportError[] = [];
  let accepted = 0;
  const server = await nodeTransport().listen({
    port: 0, host: '127.0.0.1',
    secure: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert, requestCert: true },
    onError: (e) => serverErrors.push(e as TransportError),
  }, (s) => { accepted++; s.end(); });
  const base = { host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert } as const;
  try {
    const e12 = await t.throwsAsync(nodeTransport().connect({ ...base, maxVersion: 'TLSv1.2' }), { instanceOf: TransportError });
    t.is(e12!.kind, 'handshake-failed');
    t.regex(e12!.message, /client certificate is missing/);
    // In TLS 1.3 the client finishes first; the server's verdict arrives as an alert on the stream.
    const s13 = await nodeTransport().connect(base);
    const e13 = await t.throwsAsync(readAll(s13));
    t.is((e13 as Error & { code?: string }).code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    // An untrusted client certificate: the server drops the stream before handing it out.
    const untrusted = await nodeTransport().connect({ ...base, cert: certs.untrustedClient.cert, key: certs.untrustedClient.key });
    untrusted.write('anyone there?');
    t.deepEqual(await readAll(untrusted).catch(() => Buffer.alloc(0)), Buffer.alloc(0));
    t.is(accepted, 0);
    t.deepEqual(serverErrors.map((e) => e.kind), ['certificate-required', 'certificate-required', 'unknown-ca']);
    t.regex(serverErrors[2].message, /^TLS connection from 127\.0\.0\.1:\d+ refused: unknown CA: the client certificate/);
    t.true(serverErrors.every((e) => e instanceof TransportError && e.tls));
  } finally {
    await server.close();
  }
});

test('same error shape for plain and secure: refused port', async (t) => {
  const server = await echoServer();
  const port = server.port;
  await server.close();
  for (const secure of [false, true]) {
    const err = await t.throwsAsync(nodeTransport().connect({ host: '127.0.0.1', port, secure }), { instanceOf: TransportError });
    t.is(err!.code, 'ECONNREFUSED');
    t.is(err!.kind, 'refused');
    t.false(err!.tls);
    t.regex(err!.message, new RegExp(`127\\.0\\.0\\.1:${port} failed: connection refused`));
  }
});

test('a plain-text peer on a TLS connect is reported as not speaking TLS', async (t) => {
  const plain = net.createServer((s) => { s.on('error', () => {}); s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  try {
    const port = (plain.address() as net.AddressInfo).port;
    const err = await t.throwsAsync(nodeTransport().connect({ host: '127.0.0.1', port, secure: true }), { instanceOf: TransportError });
    t.true(err!.tls);
    t.is(err!.code, 'ERR_SSL_WRONG_VERSION_NUMBER');
    t.regex(err!.message, /did not answer with TLS/);
  } finally {
    plain.close();
  }
});

/** A clock whose timers fire only when the test says so (no wall-time race). */
class ManualClock {
  timers = new Map<number, () => void>();
  private next = 1;
  now(): number { return 0; }
  schedule(_at: number, fn: (arg: number) => void): number { const h = this.next++; this.timers.set(h, () => fn(0)); return h; }
  cancel(h: number): void { this.timers.delete(h); }
  fireAll(): void { const fns = [...this.timers.values()]; this.timers.clear(); fns.forEach((f) => f()); }
}

test('a TLS connect to a silent peer times out during the TLS handshake; abort works the same way', async (t) => {
  let helloSeen!: () => void;
  const hello = new Promise<void>((r) => { helloSeen = r; });
  const silent = net.createServer((s) => { s.on('error', () => {}); s.once('data', () => helloSeen()); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const clock = new ManualClock();
    const pending = nodeTransport({ clock }).connect({ host: '127.0.0.1', port, secure: true, timeout: 200 });
    t.is(clock.timers.size, 1);
    await hello; // the ClientHello is out: we are in the TLS handshake
    clock.fireAll();
    const err = await t.throwsAsync(pending, { instanceOf: TransportError });
    t.is(err!.code, 'ETIMEDOUT');
    t.is(err!.kind, 'timeout');
    t.regex(err!.message, /timed out after 200 ms \(during TLS handshake\)/);
    const controller = new AbortController();
    const aborted = nodeTransport().connect({ host: '127.0.0.1', port, secure: true, signal: controller.signal });
    setImmediate(() => controller.abort());
    const e2 = await t.throwsAsync(aborted, { instanceOf: TransportError });
    t.is(e2!.code, 'ABORT_ERR');
    t.is(e2!.kind, 'aborted');
  } finally {
    silent.close();
  }
});

test('server side: a client that never speaks TLS is dropped after the handshake timeout and reported', async (t) => {
  const errors: TransportError[] = [];
  let reported!: () => void;
  const gotError = new Promise<void>((r) => { reported = r; });
  const server = await nodeTransport({ handshakeTimeout: 100 }).listen({
    port: 0, host: '127.0.0.1', secure: { key: certs.server.key, cert: certs.server.cert },
    onError: (e) => { errors.push(e as TransportError); reported(); },
  }, () => t.fail('no connection should be handed out'));
  try {
    const raw = net.connect({ host: '127.0.0.1', port: server.port });
    raw.on('error', () => {});
    const closed = new Promise<void>((r) => raw.once('close', () => r()));
    await gotError;
    await closed;
    t.is(errors[0].code, 'ERR_TLS_HANDSHAKE_TIMEOUT');
    t.is(errors[0].kind, 'timeout');
  } finally {
    await server.close();
  }
});

test('bad arguments are refused with a clear error', async (t) => {
  const tr = nodeTransport();
  const cases: Array<[unknown, RegExp]> = [
    [{ host: '', port: 443 }, /host must be a non-empty string/],
    [{ host: 'a', port: 0 }, /port must be an integer 1\.\.65535/],
    [{ host: 'a', port: 70000 }, /port must be an integer/],
    [{ host: 'a', port: 1, timeout: -1 }, /timeout must be a positive/],
    [{ host: 'a', port: 1, secure: true, cert: 'x' }, /needs both cert and key/],
    [{ host: 'a', port: 1, servername: 'b' }, /servername only applies with secure: true/],
    [{ host: 'a', port: 1, secure: true, rejectUnauthorized: 'no' }, /rejectUnauthorized must be a boolean/],
  ];
  for (const [opts, re] of cases) {
    const err = await t.throwsAsync(tr.connect(opts as never), { instanceOf: TransportError, message: re });
    t.is(err!.kind, 'invalid-argument');
  }
  await t.throwsAsync(tr.connect({ host: 'a', port: 1, secure: true, ca: 'not a certificate' }), { message: /ca must be PEM certificates/ });
  t.throws(() => nodeTransport({ ca: 'nope' }), { message: /transport ca must be PEM certificates/ });
  // Unusable key material is refused before any byte is sent.
  const server = await echoServer();
  try {
    const bad = await t.throwsAsync(tr.connect({ host: '127.0.0.1', port: server.port, secure: true, cert: 'junk', key: 'junk' }), { instanceOf: TransportError });
    t.is(bad!.kind, 'invalid-argument');
    t.regex(bad!.message, /TLS settings refused/);
  } finally {
    await server.close();
  }
  await t.throwsAsync(tr.listen({ port: 0, host: '127.0.0.1', secure: { key: 'junk', cert: 'junk' } }, () => {}), { message: /listen: secure key\/cert refused/ });
  await t.throwsAsync(tr.listen({ port: -1 }, () => {}), { message: /port must be an integer 0\.\.65535/ });
  await t.throwsAsync(tr.listen({ port: 0, secure: { key: '', cert: '' } }, () => {}), { message: /needs a key and a cert/ });
});

test('close() stops accepting but leaves open connections alone', async (t) => {
  const server = await echoServer({ key: certs.server.key, cert: certs.server.cert });
  const s = await nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert });
  await server.close();
  const err = await t.throwsAsync(nodeTransport().connect({ host: '127.0.0.1', port: server.port }));
  t.is((err as TransportError).kind, 'refused');
  t.deepEqual(await roundTrip(s, Buffer.from('after close')), Buffer.from('after close'));
});

test('client certificates with rejectUnauthorized: false on the server: let in, marked unauthorized with the reason', async (t) => {
  const seen: Array<{ authorized: boolean; error: unknown }> = [];
  const server = await nodeTransport().listen({
    port: 0, host: '127.0.0.1',
    secure: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert, requestCert: true, rejectUnauthorized: false },
  }, (s) => {
    const tlsSocket = s as TLSSocket;
    seen.push({ authorized: tlsSocket.authorized, error: tlsSocket.authorizationError });
    s.end();
  });
  try {
    for (const c of [certs.untrustedClient, certs.client]) {
      const s = await nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert, cert: c.cert, key: c.key });
      await readAll(s);
    }
    t.deepEqual(seen, [{ authorized: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, { authorized: true, error: null }]);
  } finally {
    await server.close();
  }
});

test('SessionCache keeps the most recently used sessions up to its capacity', (t) => {
  const cache = new SessionCache(2);
  cache.set('a', Buffer.from('1'));
  cache.set('b', Buffer.from('2'));
  t.deepEqual(cache.get('a'), Buffer.from('1')); // a is now the most recent
  cache.set('c', Buffer.from('3')); // evicts b
  t.is(cache.get('b'), undefined);
  t.deepEqual(cache.get('a'), Buffer.from('1'));
  t.deepEqual(cache.get('c'), Buffer.from('3'));
  t.is(cache.size, 2);
  cache.delete('a');
  t.is(cache.size, 1);
});

test('garbage from the wire never takes the TLS server down: each bad client is reported, good ones keep being served', async (t) => {
  const errors: TransportError[] = [];
  let served = 0;
  const server = await nodeTransport().listen({
    port: 0, host: '127.0.0.1', secure: { key: certs.server.key, cert: certs.server.cert },
    onError: (e) => errors.push(e as TransportError),
  }, (s) => { served++; s.end('ok'); });
  const sendGarbage = (bytes: Uint8Array) => new Promise<void>((resolve) => {
    const raw = net.connect({ host: '127.0.0.1', port: server.port }, () => raw.end(bytes));
    raw.on('error', () => {});
    raw.resume();
    raw.once('close', () => resolve());
  });
  try {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.boolean(), async (bytes, looksLikeTls) => {
      // Half the cases start like a TLS handshake record, so the garbage reaches deeper into the parser.
      if (looksLikeTls) bytes.set([0x16, 0x03, 0x01].slice(0, bytes.length));
      await sendGarbage(bytes);
    }), { numRuns: 25, seed: 4242 });
    const s = await nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert });
    t.is((await readAll(s)).toString(), 'ok');
    t.is(served, 1);
    t.true(errors.length > 0);
    t.true(errors.every((e) => e instanceof TransportError && e.tls));
  } finally {
    await server.close();
  }
});

test('chains through an intermediate: verified when it leads to a trusted root, unknown CA when its root is missing', async (t) => {
  const root = createAuthority({ commonName: 'pnet chain root' });
  const intermediate = createIntermediate(root);
  const leaf = issueCertificate(intermediate, { names: ['localhost'] });
  const server = await echoServer({ key: leaf.key, cert: leaf.cert + intermediate.cert });
  try {
    const s = await nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: root.cert });
    t.true((s as TLSSocket).authorized);
    t.is((s as TLSSocket).getPeerCertificate(true).issuerCertificate.subject.CN, 'pnet chain root intermediate');
    s.destroy();
    const err = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port: server.port, secure: true, ca: certs.ca.cert }),
      { instanceOf: TransportError });
    t.is(err!.code, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    t.is(err!.kind, 'unknown-ca');
    t.regex(err!.message, /unknown CA: the issuer of the server certificate is not trusted/);
  } finally {
    await server.close();
  }
});
