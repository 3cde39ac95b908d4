/**
 * Our TLS server on pnet's stack over a TAP device, against real TLS clients
 * (curl, openssl s_client) in a network namespace the test creates: TLS 1.2
 * and 1.3, ALPN, session resumption, client certificates, and a 20 MB upload
 * from curl whose SHA-256 the server must compute identically.
 * Needs root: skips loudly without (fails with CI=true).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { ServerSecureOptions } from '../src';
import { bigFile, certs, guard, requireRoot, rig } from './tap-rig';

const rootTest = requireRoot(test, { commands: ['openssl', 'curl'] });
const UPLOAD = 20 * 1024 * 1024;

/**
 * A minimal HTTP/1.1 responder (no upper layer: tests may only use lower
 * ones): reads a request head and a Content-Length body, answers with what it
 * saw: `<sha256 of body> <body length> <TLS version> <ALPN> <client CN or ->`.
 */
function answerWhatWasSeen(s: Duplex): void {
  const tlsSocket = s as TLSSocket;
  let head = Buffer.alloc(0);
  let need = -1;
  let got = 0;
  const h = createHash('sha256');
  const reply = () => {
    const peer = tlsSocket.getPeerCertificate();
    const cn = peer && peer.subject ? peer.subject.CN : '-';
    const text = `${h.digest('hex')} ${got} ${tlsSocket.getProtocol()} ${tlsSocket.alpnProtocol || '-'} ${cn}\n`;
    s.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`);
  };
  s.on('error', () => {});
  s.on('data', (c: Buffer) => {
    if (need < 0) {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head.subarray(0, end).toString('latin1'));
      need = m ? Number(m[1]) : 0;
      c = head.subarray(end + 4);
    }
    h.update(c);
    got += c.length;
    if (got >= need) reply();
  });
}

async function serve(t: import('ava').ExecutionContext, label: string, secure: Partial<ServerSecureOptions> = {}) {
  const r = await rig(t, label);
  const server = await r.transport.listen(
    { port: 443, host: r.host.peerAddress, secure: { key: certs.server.key, cert: certs.server.cert, ...secure } },
    answerWhatWasSeen,
  );
  t.teardown(() => server.close());
  return r;
}

function curlArgs(peer: string, extra: string[]): string[] {
  return ['curl', '-sS', '--max-time', '140', '--cacert', certs.ca.certFile, '--resolve', `example.test:443:${peer}`, ...extra, 'https://example.test/'];
}

for (const [flags, version] of [[['--tlsv1.2', '--tls-max', '1.2'], 'TLSv1.2'], [['--tlsv1.3'], 'TLSv1.3']] as const) {
  rootTest.serial(`curl ${flags.join(' ')} → our server on pnet over TAP: ${version}, verified, ALPN http/1.1`, async (t) => {
    const { host } = await serve(t, `tls-curl${version.slice(-1)}`, { ALPNProtocols: ['http/1.1'] });
    const r = await guard(host.exec(curlArgs(host.peerAddress, [...flags, '--http1.1'])), 'curl');
    const [sha, length, protocol, alpn] = r.stdout.trim().split(' ');
    t.is(sha, createHash('sha256').update('').digest('hex'));
    t.is(length, '0');
    t.is(protocol, version);
    t.is(alpn, 'http/1.1');
  });
}

rootTest.serial('curl uploads 20 MB to our server on pnet over TAP; the server computes the same SHA-256', async (t) => {
  const { host } = await serve(t, 'tls-curl-up');
  const { file, sha256 } = bigFile(host.dir, UPLOAD);
  const r = await guard(host.exec(curlArgs(host.peerAddress, ['--data-binary', `@${file}`, '-H', 'Content-Type: application/octet-stream'])), 'curl upload');
  const [sha, length] = r.stdout.trim().split(' ');
  t.is(length, String(UPLOAD));
  t.is(sha, sha256);
});

for (const version of ['-tls1_2', '-tls1_3'] as const) {
  rootTest.serial(`openssl s_client ${version} resumes a session with our server on pnet over TAP`, async (t) => {
    const { host } = await serve(t, `tls-sclient${version.slice(-1)}`);
    const base = ['openssl', 's_client', '-connect', `${host.peerAddress}:443`, '-servername', 'example.test',
      '-CAfile', certs.ca.certFile, '-verify_return_error', '-ign_eof', version];
    const request = 'GET / HTTP/1.0\r\n\r\n';
    const first = await guard(host.exec([...base, '-sess_out', 'session.pem'], { input: request }), 's_client first');
    t.regex(first.stdout, /^New, TLSv1\.[23]/m);
    t.regex(first.stdout, /Verify return code: 0 \(ok\)/);
    t.regex(first.stdout, /HTTP\/1\.1 200 OK/);
    const second = await guard(host.exec([...base, '-sess_in', 'session.pem'], { input: request }), 's_client resumed');
    t.regex(second.stdout, /^Reused, TLSv1\.[23]/m);
    t.regex(second.stdout, /HTTP\/1\.1 200 OK/);
  });
}

rootTest.serial('client certificates: curl with ours is let in and named; without one it is refused', async (t) => {
  const { host } = await serve(t, 'tls-curl-mtls', { ca: certs.ca.cert, requestCert: true });
  const ok = await guard(host.exec(curlArgs(host.peerAddress, ['--cert', certs.client.certFile, '--key', certs.client.keyFile])), 'curl with cert');
  t.regex(ok.stdout, /TLSv1\.3 \S+ pnet test client$/m);
  const refused = await guard(host.exec(curlArgs(host.peerAddress, []), { check: false }), 'curl without cert');
  t.not(refused.code, 0);
  t.regex(refused.stderr, /certificate required|alert|handshake|SSL/i);
});
