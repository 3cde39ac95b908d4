/**
 * Our TLS client against a foreign TLS server: `openssl s_server` on a free
 * loopback port, over the kernel transport.
 */
import test from 'ava';
import type { TLSSocket } from 'node:tls';
import { nodeTransport, TransportError, waitForSession } from '../src';
import { testCertificates } from '../src/testing/certs';
import { fetchStatusPage, opensslMissing, OpensslServer, startOpensslServer } from './helpers';

const missing = opensslMissing();
const certs = testCertificates();
const maybe = missing ? test.skip : test.serial;
if (missing) test('openssl interop', (t) => { t.log(missing); t.pass(); });

async function withServer(extra: string[], fn: (s: OpensslServer) => Promise<void>, leaf = certs.server): Promise<void> {
  const server = await startOpensslServer({ cert: leaf.certFile, key: leaf.keyFile, extra });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

for (const [flag, version] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
  maybe(`handshake with openssl s_server ${flag}: ${version} negotiated, verified, data both ways`, async (t) => {
    await withServer([flag], async ({ port }) => {
      const s = await nodeTransport({ sessionCache: false }).connect({ host: 'localhost', port, secure: true, ca: certs.ca.cert });
      const tlsSocket = s as TLSSocket;
      t.is(tlsSocket.getProtocol(), version);
      t.true(tlsSocket.authorized);
      const page = await fetchStatusPage(s);
      t.regex(page, new RegExp(`Protocol\\s*:\\s*${version.replace('.', '\\.')}`));
      s.destroy();
    });
  });
}

maybe('a client pinned to TLS 1.3 against a TLS 1.2-only s_server fails with a protocol-version error', async (t) => {
  await withServer(['-tls1_2'], async ({ port }) => {
    const err = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port, secure: true, ca: certs.ca.cert, minVersion: 'TLSv1.3' }),
      { instanceOf: TransportError });
    t.is(err!.kind, 'protocol-version');
  });
});

maybe('ALPN with openssl s_server: h2 preferred by the server, http/1.1 when that is all we offer', async (t) => {
  await withServer(['-alpn', 'h2,http/1.1'], async ({ port }) => {
    const base = { host: 'localhost', port, secure: true, ca: certs.ca.cert } as const;
    const a = await nodeTransport().connect({ ...base, ALPNProtocols: ['http/1.1'] });
    t.is((a as TLSSocket).alpnProtocol, 'http/1.1');
    a.destroy();
    const b = await nodeTransport().connect({ ...base, ALPNProtocols: ['h2', 'http/1.1'] });
    t.is((b as TLSSocket).alpnProtocol, 'h2');
    b.destroy();
  });
});

for (const [flag, version] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
  maybe(`session resumption with openssl s_server ${flag}: isSessionReused() and s_server says Reused`, async (t) => {
    await withServer([flag], async ({ port }) => {
      const transport = nodeTransport({ sessionCache: false });
      const base = { host: 'localhost', port, secure: true, ca: certs.ca.cert } as const;
      const first = await transport.connect(base);
      t.false((first as TLSSocket).isSessionReused());
      t.is((first as TLSSocket).getProtocol(), version);
      const page1 = await fetchStatusPage(first);
      t.regex(page1, /\bNew\b/);
      const session = await waitForSession(first);
      first.destroy();
      const second = await transport.connect({ ...base, session });
      t.true((second as TLSSocket).isSessionReused());
      const page2 = await fetchStatusPage(second);
      t.regex(page2, /\bReused\b/);
      second.destroy();
    });
  });
}

maybe('client certificate against openssl s_server -Verify: accepted with ours, refused without', async (t) => {
  await withServer(['-tls1_2', '-Verify', '1', '-CAfile', certs.ca.certFile], async ({ port }) => {
    const base = { host: 'localhost', port, secure: true, ca: certs.ca.cert } as const;
    const ok = await nodeTransport().connect({ ...base, cert: certs.client.cert, key: certs.client.key });
    const page = await fetchStatusPage(ok);
    t.regex(page, /Protocol\s*:\s*TLSv1\.2/);
    ok.destroy();
    const err = await t.throwsAsync(nodeTransport().connect(base), { instanceOf: TransportError });
    t.true(err!.tls);
    t.regex(err!.code, /^ERR_SSL_/);
  });
});

maybe('a bad certificate served by openssl s_server is refused with the same clear error', async (t) => {
  await withServer([], async ({ port }) => {
    const err = await t.throwsAsync(nodeTransport().connect({ host: 'localhost', port, secure: true, ca: certs.ca.cert }), { instanceOf: TransportError });
    t.is(err!.code, 'CERT_HAS_EXPIRED');
    t.is(err!.kind, 'certificate-expired');
  }, certs.expired);
});
