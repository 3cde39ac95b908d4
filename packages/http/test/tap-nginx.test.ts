/**
 * Our HTTP client on pnet's own TCP/IP stack over a TAP device, against nginx
 * inside a network namespace the test creates (TEST-NET 192.0.2.0/24 only;
 * nginx listens on the kernel side's address with its own temporary config):
 * fixed and chunked bodies, gzip decoded by the client, a 302 chain, a streamed
 * PUT and a POST of 10 MB each that nginx provably received (the SHA-256 of
 * what it wrote), keep-alive proved from nginx's access log ($connection,
 * $connection_requests), and a 100 MB download whose SHA-256 matches the file's. Every capture of the TAP
 * is clean in tshark. Needs root: skips loudly without (fails with CI=true).
 */
import test, { ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { stackTransport } from '@pnet/tls';
// Tests may use lower layers; @pnet/nic and @pnet/tcpip are not dependencies of this package, so reach them by path.
import { PcapWriter, RealClock, Rng, TestHost, captureProblems, requireRoot } from '../../nic/src';
import { Stack } from '../../tcpip/src';
import { HttpClient } from '../src';

const rootTest = requireRoot(test, { commands: ['nginx', 'tshark'] });

/** Hang guard, not a speed assertion: a broken exchange fails instead of hanging. */
const GUARD_MS = 150_000;
const MB = 1024 * 1024;
const BIG = 100 * MB;
const UPLOAD = 10 * MB;

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang guard: ${what} did not finish in ${GUARD_MS} ms`)), GUARD_MS);
  })]).finally(() => clearTimeout(timer));
}

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

interface Rig { host: TestHost; stack: Stack; client: HttpClient; pcap: PcapWriter; pcapPath: string; www: string; base: string }

/** A Stack on the test host's TapNic (captured from the first frame), our client on it, and nginx on the kernel side. */
async function rig(t: ExecutionContext, label: string, files: Record<string, Uint8Array | string> = {}): Promise<Rig> {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label, tap: { clock } });
  const pcapPath = path.join(host.dir, `${label}.pcap`);
  const pcap = new PcapWriter({ path: pcapPath });
  pcap.tapNic(host.nic!);
  const stack = new Stack({ clock, rng: new Rng(label.length * 977 + 3), name: label });
  stack.addInterface(host.nic!, { ip: host.peerAddress, netmask: 24 });
  stack.start();
  const client = new HttpClient({ transport: stackTransport(stack) });
  t.teardown(() => { client.close(); stack.tcp.stop(); stack.close(); try { pcap.close(); } catch { /* closed already */ } });

  const www = path.join(host.dir, 'www');
  fs.mkdirSync(path.join(www, 'up'), { recursive: true });
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(www, name), data);
  const conf = path.join(host.dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConfig(host.dir, host.address));
  const nginx = host.spawn(['nginx', '-p', host.dir, '-c', conf]);
  await nginx.waitForPort(80);
  return { host, stack, client, pcap, pcapPath, www, base: `http://${host.address}` };
}

function nginxConfig(d: string, address: string): string {
  return `
daemon off;
master_process off;
user root;
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 64; }
http {
  log_format pnet '$connection $connection_requests $status $request_length $body_bytes_sent $request_body_file $request';
  access_log ${d}/access.log pnet;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  keepalive_requests 1000;
  keepalive_timeout 120s;
  default_type text/plain;
  server {
    listen ${address}:80;
    root ${d}/www;
    location = /fixed { return 200 "fixed body from nginx\\n"; }
    # SSI drops Content-Length: the file goes out chunked.
    location = /chunked.txt { ssi on; ssi_types text/plain; }
    location = /text.txt { gzip on; gzip_min_length 1; gzip_types text/plain; }
    location = /r3 { return 302 /r2; }
    location = /r2 { return 302 /r1; }
    location = /r1 { return 302 /fixed; }
    # PUT lands in a file we can hash.
    location /up/ { dav_methods PUT; client_max_body_size 20m; client_body_buffer_size 1m; }
    # POST: the mirror reads the whole body before the content phase, and the body file is kept for us to hash;
    # the static module refuses POST (405), which error_page turns into a 200 with the file.
    location = /post.txt {
      client_max_body_size 20m; client_body_in_file_only on; mirror /sink; mirror_request_body on;
      error_page 405 =200 /post.txt;
    }
    location = /sink { internal; return 204; }
  }
}
`;
}

/** A line of nginx's access log; `request` is the request line as received (before any internal redirect). */
interface LogLine { connection: number; requests: number; status: number; requestLength: number; sent: number; bodyFile: string; request: string }

/** nginx's access log once it holds `count` lines (written as each request ends: waited for, not timed). */
async function accessLog(r: Rig, count: number): Promise<LogLine[]> {
  const file = path.join(r.host.dir, 'access.log');
  const read = (): LogLine[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '').split('\n').filter(Boolean).map((l) => {
    const [c, n, status, len, sent, bodyFile, ...request] = l.split(' ');
    return { connection: Number(c), requests: Number(n), status: Number(status), requestLength: Number(len), sent: Number(sent), bodyFile, request: request.join(' ') };
  });
  return guard((async () => {
    for (;;) {
      const lines = read();
      if (lines.length >= count) return lines;
      await new Promise((res) => setTimeout(res, 20));
    }
  })(), `${count} lines in nginx's access log`);
}

/**
 * The capture opens in tshark with no malformed packet, no expert error, and good IP and TCP checksums.
 * `http: false` for the captures with 10 MB and 100 MB bodies: tshark takes minutes on a loaded machine
 * to reassemble them, and dissected frame by frame its HTTP dissector misreads body bytes that happen to
 * start a segment with CR LF as a malformed "Leading CRLF". There port 80 is decoded as plain data and
 * every frame's Ethernet, IPv4 and TCP are checked; the other capture is dissected whole, with TCP
 * reassembly and HTTP.
 */
function tsharkClean(t: ExecutionContext, r: Rig, http = true): void {
  r.pcap.close();
  t.deepEqual(captureProblems(r.pcapPath, { checksums: true, extraArgs: http ? [] : ['-d', 'tcp.port==80,data'] }), [],
    'no malformed frames, no expert errors, no bad checksums');
}

/** Keep-alive, from nginx's side: the requests in order, one connection serial number, its request counter going 1, 2, 3, ... */
async function keptAlive(t: ExecutionContext, r: Rig, requests: string[]): Promise<LogLine[]> {
  const expected = requests.map((l) => `${l} HTTP/1.1`);
  const log = await accessLog(r, expected.length);
  const shown = log.map((l) => `${l.connection} ${l.requests} ${l.status} ${l.request}`).join('\n');
  t.deepEqual(log.map((l) => l.request), expected, shown);
  t.deepEqual([...new Set(log.map((l) => l.connection))], [log[0].connection], `every request on one connection:\n${shown}`);
  t.deepEqual(log.map((l) => l.requests), expected.map((_, i) => i + 1), shown);
  return log;
}

/** Deterministic text, compressible but not trivially so. */
function text(lines: number): string {
  let s = '';
  for (let i = 0; i < lines; i++) s += `line ${i} of the pnet over TAP test: ${(i * 2654435761) >>> 0}\n`;
  return s;
}

rootTest.serial('pnet over TAP → nginx: fixed, chunked, gzip, 302 chain, HEAD, all on one kept-alive connection', async (t) => {
  const chunkedText = text(20_000); // ~1 MB: many chunks
  const gzText = text(5_000);
  const r = await rig(t, 'http-nginx', { 'chunked.txt': chunkedText, 'text.txt': gzText });
  const { client, base } = r;

  const fixed = await guard(client.request(`${base}/fixed`), 'GET /fixed');
  t.is(fixed.status, 200);
  t.true(fixed.headers.get('server')?.startsWith('nginx'));
  t.is(fixed.headers.get('content-length'), '22');
  t.is(await guard(fixed.text(), 'fixed body'), 'fixed body from nginx\n');

  const chunked = await guard(client.request(`${base}/chunked.txt`), 'GET /chunked.txt');
  t.is(chunked.status, 200);
  t.is(chunked.headers.get('transfer-encoding'), 'chunked');
  t.false(chunked.headers.has('content-length'));
  t.is(await guard(chunked.text(), 'chunked body'), chunkedText);

  const gz = await guard(client.request(`${base}/text.txt`, { decompress: true }), 'GET /text.txt gzip');
  t.is(gz.status, 200);
  t.is(gz.headers.get('content-encoding'), 'gzip');
  t.true(gz.decoded);
  t.is(await guard(gz.text(), 'gzip body'), gzText);

  const moved = await guard(client.request(`${base}/r3`), 'GET /r3');
  t.is(moved.status, 200);
  t.deepEqual(moved.redirects, [`${base}/r2`, `${base}/r1`, `${base}/fixed`]);
  t.is(moved.url, `${base}/fixed`);
  t.is(await guard(moved.text(), 'redirected body'), 'fixed body from nginx\n');

  const last = await guard(client.request(`${base}/fixed`, { method: 'HEAD' }), 'HEAD /fixed');
  t.is(last.status, 200);
  t.is(await guard(last.text(), 'HEAD body'), '');

  await keptAlive(t, r, ['GET /fixed', 'GET /chunked.txt', 'GET /text.txt', 'GET /r3', 'GET /r2', 'GET /r1', 'GET /fixed', 'HEAD /fixed']);
  t.is(client.stats.redirects, 3);
  tsharkClean(t, r);
});

rootTest.serial('pnet over TAP → nginx: a streamed PUT and a POST of 10 MB each, received whole, on one kept-alive connection', async (t) => {
  const r = await rig(t, 'http-nginx-up', { 'post.txt': 'posted\n' });
  const { client, base, www } = r;

  // PUT of 10 MB streamed (chunked request body): nginx's DAV module writes a file we hash.
  const streamedSha = createHash('sha256');
  const streamed = Readable.from((function* () {
    for (let i = 0; i < UPLOAD / MB; i++) { const c = randomBytes(MB); streamedSha.update(c); yield c; }
  })());
  const put = await guard(client.request(`${base}/up/streamed.bin`, { method: 'PUT', body: streamed }), 'PUT streamed');
  t.is(put.status, 201);
  t.is(await guard(put.text(), 'PUT answer'), '');
  const written = fs.readFileSync(path.join(www, 'up', 'streamed.bin'));
  t.is(written.length, UPLOAD);
  t.is(sha256(written), streamedSha.digest('hex'));

  // POST of 10 MB given whole (Content-Length): nginx reads all of it before answering and keeps it in a file we hash.
  const posted = randomBytes(UPLOAD);
  const post = await guard(client.request(`${base}/post.txt`, { method: 'POST', body: posted }), 'POST');
  t.is(post.status, 200);
  t.is(await guard(post.text(), 'POST answer'), 'posted\n');

  const after = await guard(client.request(`${base}/fixed`), 'GET /fixed');
  t.is(await guard(after.text(), 'fixed body'), 'fixed body from nginx\n');

  const log = await keptAlive(t, r, ['PUT /up/streamed.bin', 'POST /post.txt', 'GET /fixed']);
  t.is(sha256(fs.readFileSync(log[1].bodyFile)), sha256(posted), 'the POST body nginx kept is the body we sent');
  tsharkClean(t, r, false);
});

rootTest.serial('pnet over TAP → nginx: 100 MB download, streamed, with identical SHA-256', async (t) => {
  const r = await rig(t, 'http-nginx-big');
  // Written and hashed a megabyte at a time: 100 MB is never held twice.
  const fileSha = createHash('sha256');
  const fd = fs.openSync(path.join(r.www, 'big.bin'), 'w');
  for (let i = 0; i < BIG / MB; i++) { const c = randomBytes(MB); fileSha.update(c); fs.writeSync(fd, c); }
  fs.closeSync(fd);

  const started = performance.now();
  const res = await guard(r.client.request(`${r.base}/big.bin`), 'GET /big.bin');
  t.is(res.status, 200);
  t.is(res.headers.get('content-length'), String(BIG));
  const h = createHash('sha256');
  let length = 0;
  await guard((async () => { for await (const c of res.body) { h.update(c as Buffer); length += (c as Buffer).length; } })(), '100 MB body');
  const seconds = (performance.now() - started) / 1000;
  t.is(length, BIG);
  t.is(h.digest('hex'), fileSha.digest('hex'));
  t.log(`100 MB in ${seconds.toFixed(2)} s: ${((BIG * 8) / seconds / 1e6).toFixed(0)} Mbit/s`);
  const log = await accessLog(r, 1);
  t.is(log[0].status, 200);
  t.is(log[0].sent, BIG);
  tsharkClean(t, r, false);
});
