/**
 * Our TLS client on pnet's stack over a TAP device, against real TLS servers
 * (openssl s_server, nginx) in a network namespace the test creates
 * (TEST-NET 192.0.2.0/24): handshakes with TLS 1.2 and 1.3, ALPN, session
 * resumption, and a 50 MB download whose SHA-256 must match the file's.
 * Needs root: skips loudly without (fails with CI=true).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { ConnectOptions, TransportError, waitForSession } from '../src';
import { BIG, bigFile, certs, guard, requireRoot, rig, TestHost } from './tap-rig';

const rootTest = requireRoot(test, { commands: ['openssl', 'nginx', 'ss'] });

/** Sends a GET and reads the response to its end: status line, and the SHA-256 and length of the body (hashed as it streams). */
function download(s: Duplex, request: string): Promise<{ status: string; sha256: string; length: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let head = Buffer.alloc(0);
    let inBody = false;
    let length = 0;
    let status = '';
    s.on('data', (c: Buffer) => {
      if (inBody) { h.update(c); length += c.length; return; }
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      inBody = true;
      const rest = head.subarray(end + 4);
      h.update(rest);
      length += rest.length;
    });
    s.once('end', () => resolve({ status, sha256: h.digest('hex'), length }));
    s.once('error', reject);
    s.write(request);
  });
}

function statusPage(s: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    s.on('data', (c: Buffer) => { text += c.toString('latin1'); });
    s.once('end', () => resolve(text));
    s.once('error', reject);
    s.write('GET / HTTP/1.0\r\n\r\n');
  });
}

async function opensslServer(host: TestHost, args: string[]) {
  const peer = host.spawn(['openssl', 's_server', '-accept', `${host.address}:4433`, '-cert', certs.server.certFile,
    '-key', certs.server.keyFile, '-naccept', '100', ...args]);
  await peer.waitForPort(4433);
  return peer;
}

for (const [flag, version] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
  rootTest.serial(`pnet over TAP ↔ openssl s_server ${flag}: handshake, ALPN, resumption`, async (t) => {
    const { host, transport } = await rig(t, `tls-ossl${version.slice(-1)}`);
    await opensslServer(host, [flag, '-www', '-alpn', 'http/1.1']);
    const opts: ConnectOptions = { host: host.address, servername: 'example.test', port: 4433, secure: true, ALPNProtocols: ['http/1.1'] };
    const first = await guard(transport.connect(opts), 'first connect');
    const tls1 = first as TLSSocket;
    t.is(tls1.getProtocol(), version);
    t.true(tls1.authorized);
    t.is(tls1.alpnProtocol, 'http/1.1');
    const page = await guard(statusPage(first), 'status page');
    t.regex(page, new RegExp(`Protocol\\s*:\\s*${version.replace('.', '\\.')}`));
    await guard(waitForSession(first), 'session');
    const second = await guard(transport.connect(opts), 'resumed connect');
    t.true((second as TLSSocket).isSessionReused());
    t.regex(await guard(statusPage(second), 'status page 2'), /\bReused\b/);
  });
}

rootTest.serial('pnet over TAP ↔ openssl s_server -WWW: 50 MB download with identical SHA-256', async (t) => {
  const { host, transport } = await rig(t, 'tls-ossl-big');
  const { sha256: sha } = bigFile(host.dir);
  await opensslServer(host, ['-WWW']);
  const s = await guard(transport.connect({ host: host.address, servername: 'example.test', port: 4433, secure: true }), 'connect');
  const r = await guard(download(s, 'GET /big.bin HTTP/1.0\r\n\r\n'), '50 MB download');
  t.regex(r.status, /^HTTP\/1\.0 200/);
  t.is(r.length, BIG);
  t.is(r.sha256, sha);
});

function nginxConfig(host: TestHost): string {
  const d = host.dir;
  return `
daemon off;
master_process off;
user root;
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/nginx-error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  server {
    listen ${host.address}:443 ssl http2;
    server_name example.test;
    ssl_certificate ${certs.server.certFile};
    ssl_certificate_key ${certs.server.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:pnet:1m;
    root ${d};
    location / { }
  }
}
`;
}

rootTest.serial('pnet over TAP ↔ nginx with TLS: 1.2 and 1.3, ALPN h2/http1.1, resumption, 50 MB with identical SHA-256', async (t) => {
  const { host, transport } = await rig(t, 'tls-nginx');
  const { sha256: sha } = bigFile(host.dir);
  const conf = path.join(host.dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConfig(host));
  const nginx = host.spawn(['nginx', '-c', conf, '-p', host.dir]);
  await nginx.waitForPort(443);
  const base = { host: host.address, servername: 'example.test', port: 443, secure: true } as const;

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const s = await guard(transport.connect({ ...base, minVersion: version, maxVersion: version }), `${version} connect`);
    t.is((s as TLSSocket).getProtocol(), version);
    s.destroy();
  }
  const h2 = await guard(transport.connect({ ...base, ALPNProtocols: ['h2', 'http/1.1'] }), 'ALPN h2');
  t.is((h2 as TLSSocket).alpnProtocol, 'h2');
  h2.destroy();
  const h1 = await guard(transport.connect({ ...base, ALPNProtocols: ['http/1.1'] }), 'ALPN http/1.1');
  t.is((h1 as TLSSocket).alpnProtocol, 'http/1.1');
  const small = await guard(download(h1, 'GET /nginx.conf HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n'), 'small GET');
  t.regex(small.status, /^HTTP\/1\.1 200/);
  const saved = await guard(waitForSession(h1), 'session');

  const resumed = await guard(transport.connect({ ...base, ALPNProtocols: ['http/1.1'], session: saved }), 'resumed connect');
  t.true((resumed as TLSSocket).isSessionReused());
  const r = await guard(download(resumed, 'GET /big.bin HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n'), '50 MB download');
  t.regex(r.status, /^HTTP\/1\.1 200/);
  t.is(r.length, BIG);
  t.is(r.sha256, sha);

  // And the errors are the same over TAP as on loopback.
  const err = await t.throwsAsync(guard(transport.connect({ ...base, servername: 'wrong.example' }), 'mismatch'), { instanceOf: TransportError });
  t.is(err!.kind, 'hostname-mismatch');
});
