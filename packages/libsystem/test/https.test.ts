import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpServer, httpbin } from '@pnet/http';
import { nodeTransport } from '@pnet/tls';
import type { StreamServer } from '@pnet/tls';
import { boot, streamBackends } from '../src';
import { nodeHttpClient } from './helpers/node-backends';

/** https:// through the TLS engineer's nodeTransport, a self-signed certificate for 127.0.0.1 made by openssl. */
let key: Buffer;
let cert: Buffer;
let server: StreamServer;
let web: HttpServer;
let dir: string;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'libsystem-https-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  key = readFileSync(join(dir, 'key.pem'));
  cert = readFileSync(join(dir, 'cert.pem'));
  web = new HttpServer(httpbin({ scheme: 'https' }));
  server = await web.listen(nodeTransport(), { port: 0, host: '127.0.0.1', secure: { key, cert } });
});
test.after.always(async () => {
  await web?.close();
  rmSync(dir, { recursive: true, force: true });
});

for (const [label, make] of [
  ['@pnet/http', () => streamBackends(nodeTransport({ ca: cert }))],
  ['node:http', () => ({ http: nodeHttpClient(nodeTransport({ ca: cert })) })],
] as const) {
  test(`${label}: get over https with a trusted CA`, async (t) => {
    const sys = await boot({ backends: make() });
    t.teardown(() => sys.shutdown());
    const [h, err] = await sys.network.get(`https://127.0.0.1:${server.port}/get?tls=1`);
    t.is(err, undefined);
    t.is(h!.responseCode(), 200);
    const body = JSON.parse(String(await h!.read('*a')));
    t.is(body.args.tls, '1');
    t.regex(body.url, /^https:/);
    h!.close();
  });
}

test('https to a server whose certificate is not trusted is [null, err]', async (t) => {
  const sys = await boot({ backends: streamBackends(nodeTransport()) });
  t.teardown(() => sys.shutdown());
  const [h, err] = await sys.network.get(`https://127.0.0.1:${server.port}/get`);
  t.is(h, null);
  t.is(typeof err, 'string');
  t.true(err!.length > 0);
});
