// Our client against nginx (a real, independent server) on loopback.
// Without nginx the tests skip loudly; with CI=true a missing nginx fails.
import test from 'ava';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../src';
import { loopbackTransport, settle } from './helpers/loopback';

function haveNginx(): boolean {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = haveNginx();
if (!available && process.env.CI === 'true') test('nginx is installed (CI)', (t) => t.fail('nginx is missing but CI=true'));
const maybe = available ? test.serial : test.skip;
if (!available) console.warn('SKIPPING nginx loopback tests: nginx is not installed');

const LONG = 'nginx gzip test line\n'.repeat(100); // nginx limits one config parameter to 4 KiB

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

let nginx: ChildProcess | null = null;
let dir = '';
let base = '';

test.before(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'pnet-http-nginx-'));
  const port = await freePort();
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  writeFileSync(join(dir, 'nginx.conf'), `
${user}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100;
  server {
    listen 127.0.0.1:${port};
    location = /hello { default_type text/plain; return 200 "hello from nginx\\n"; }
    location = /gz { gzip on; gzip_min_length 1; gzip_types text/plain; default_type text/plain; return 200 "${LONG.replace(/\n/g, '\\n')}"; }
    location = /moved { return 302 /hello; }
    location = /post { client_max_body_size 1m; default_type text/plain; return 200 "posted\\n"; }
  }
}
`);
  nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  base = `http://127.0.0.1:${port}`;
  // Wait until it accepts connections.
  for (let i = 0; i < 200 && nginx.exitCode === null; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not start (see ${dir}/error.log)`);
});

test.after.always(async () => {
  if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
    const exited = new Promise((r) => nginx!.once('exit', r));
    nginx.kill('SIGQUIT');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

maybe('nginx: GET, HEAD, keep-alive reuse, redirect, gzip, POST bodies', async (t) => {
  const transport = loopbackTransport();
  const client = new HttpClient({ transport });
  try {
    const a = await client.request(`${base}/hello`);
    t.is(a.status, 200);
    t.is(a.headers.get('server')?.startsWith('nginx'), true);
    t.is(await a.text(), 'hello from nginx\n');
    const head = await client.request(`${base}/hello`, { method: 'HEAD' });
    t.is(head.headers.get('content-length'), '17');
    t.is((await head.buffer()).length, 0);
    const moved = await client.request(`${base}/moved`);
    t.is(moved.url, `${base}/hello`);
    await moved.buffer();
    const gz = await client.request(`${base}/gz`, { decompress: true });
    t.is(gz.headers.get('content-encoding'), 'gzip');
    t.is(await gz.text(), LONG);
    const post = await client.request(`${base}/post`, { method: 'POST', body: 'x'.repeat(100_000) });
    t.is(await post.text(), 'posted\n');
    const chunked = await client.request(`${base}/post`, { method: 'POST', body: (async function* () { yield 'a'; await settle(1); yield 'b'; })() });
    t.is(await chunked.text(), 'posted\n');
    t.is(transport.connects, 1);
  } finally {
    client.close();
  }
});
