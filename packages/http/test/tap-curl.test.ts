/**
 * curl in a network namespace's kernel against our HTTP server on pnet's own
 * TCP/IP stack over a TAP device (TEST-NET 192.0.2.0/24 only): GET, a POST
 * whose body the server hashes, a chunked response, several URLs over one
 * kept-alive connection, and HEAD. Every capture of the TAP is clean in
 * tshark. Needs root: skips loudly without (fails with CI=true).
 */
import test, { ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stackTransport } from '@pnet/tls';
// Tests may use lower layers; @pnet/nic and @pnet/tcpip are not dependencies of this package, so reach them by path.
import { PcapWriter, RealClock, Rng, TestHost, captureProblems, requireRoot } from '../../nic/src';
import { Stack } from '../../tcpip/src';
import { HttpServer, httpbin, type RequestHandler } from '../src';

const rootTest = requireRoot(test, { commands: ['curl', 'tshark'] });

/** Hang guard, not a speed assertion: a broken exchange fails instead of hanging. */
const GUARD_MS = 150_000;
const UPLOAD = 2 * 1024 * 1024;

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang guard: ${what} did not finish in ${GUARD_MS} ms`)), GUARD_MS);
  })]).finally(() => clearTimeout(timer));
}

/** httpbin, plus /upload: answers the SHA-256 and length of the request body (httpbin caps bodies at 1 MiB). */
const bin = httpbin();
const handler: RequestHandler = async (req, res) => {
  if (req.url.pathname !== '/upload') return bin(req, res);
  const h = createHash('sha256');
  let length = 0;
  for await (const c of req.body) { h.update(c as Buffer); length += (c as Buffer).length; }
  res.setHeader('Content-Type', 'text/plain');
  res.end(`${h.digest('hex')} ${length}\n`);
};

interface Rig { host: TestHost; server: HttpServer; pcap: PcapWriter; pcapPath: string; base: string }

/** A Stack on the test host's TapNic (captured from the first frame), our server listening on it at port 80. */
async function rig(t: ExecutionContext, label: string): Promise<Rig> {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label, tap: { clock } });
  const pcapPath = path.join(host.dir, `${label}.pcap`);
  const pcap = new PcapWriter({ path: pcapPath });
  pcap.tapNic(host.nic!);
  const stack = new Stack({ clock, rng: new Rng(label.length * 613 + 11), name: label });
  stack.addInterface(host.nic!, { ip: host.peerAddress, netmask: 24 });
  stack.start();
  const server = new HttpServer(handler);
  await server.listen(stackTransport(stack), { port: 80, host: host.peerAddress });
  t.teardown(async () => { await server.close(); stack.tcp.stop(); stack.close(); try { pcap.close(); } catch { /* closed already */ } });
  return { host, server, pcap, pcapPath, base: `http://${host.peerAddress}` };
}

/** curl inside the namespace; -v goes to stderr (connection reuse is reported there). */
async function curl(r: Rig, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return guard(r.host.exec(['curl', '-sS', '-v', '--max-time', '140', ...args]), `curl ${args.join(' ')}`);
}

/** The capture opens in tshark with no malformed packet, no expert error, and good IP and TCP checksums. */
function tsharkClean(t: ExecutionContext, r: Rig): void {
  r.pcap.close();
  t.deepEqual(captureProblems(r.pcapPath, { checksums: true }), [], 'no malformed frames, no expert errors, no bad checksums');
}

rootTest.serial('curl → our server on pnet over TAP: GET, POST with a 2 MB body, chunked response, HEAD', async (t) => {
  const r = await rig(t, 'http-curl');
  const { base } = r;

  const get = await curl(r, ['-H', 'X-From-Curl: yes', `${base}/get?x=1`]);
  const got = JSON.parse(get.stdout);
  t.deepEqual(got.args, { x: '1' });
  t.is(got.headers['X-From-Curl'], 'yes');
  t.is(got.url, `${base}/get?x=1`);
  t.is(got.origin, r.host.address, 'the server saw the kernel side as the peer');
  t.regex(get.stderr, /^< HTTP\/1\.1 200 OK\r?$/m);

  const small = await curl(r, ['-H', 'Content-Type: application/json', '--data-binary', '{"a":[1,2]}', `${base}/post`]);
  t.deepEqual(JSON.parse(small.stdout).json, { a: [1, 2] });

  const body = randomBytes(UPLOAD);
  const file = path.join(r.host.dir, 'upload.bin');
  fs.writeFileSync(file, body);
  const up = await curl(r, ['-H', 'Content-Type: application/octet-stream', '--data-binary', `@${file}`, `${base}/upload`]);
  t.is(up.stdout, `${createHash('sha256').update(body).digest('hex')} ${UPLOAD}\n`);

  const stream = await curl(r, [`${base}/stream/20`]);
  t.regex(stream.stderr, /^< Transfer-Encoding: chunked\r?$/im);
  const lines = stream.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number });
  t.deepEqual(lines.map((l) => l.id), Array.from({ length: 20 }, (_, i) => i));

  const head = await curl(r, ['-I', `${base}/bytes/1000`]);
  t.regex(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  t.regex(head.stdout, /^Content-Length: 1000\r$/im);
  t.notRegex(head.stderr, /Excess found|left intact.*\d+ bytes/i);
  t.is(r.server.stats.badRequests, 0);
  tsharkClean(t, r);
});

rootTest.serial('curl → our server on pnet over TAP: four URLs over one kept-alive connection', async (t) => {
  const r = await rig(t, 'http-curl-ka');
  const { base } = r;
  const before = r.server.stats.connections;
  const urls = [`${base}/get`, `${base}/bytes/5000`, `${base}/stream/3`, `${base}/status/204`];
  const out = await curl(r, ['-w', '%{http_code} %{size_download} %{num_connects}\\n', ...urls.flatMap((u) => ['-o', '/dev/null', u])]);
  t.is((out.stderr.match(/Re-using existing connection/g) ?? []).length, 3, out.stderr);
  t.is((out.stderr.match(/Connected to /g) ?? []).length, 1);
  // Per transfer: status, body size, and num_connects (1 for the first, 0 for the reused ones).
  const transfers = out.stdout.trim().split('\n');
  t.is(transfers.length, 4);
  t.deepEqual(transfers.map((l) => l.split(' ')[0]), ['200', '200', '200', '204']);
  t.is(transfers[1].split(' ')[1], '5000');
  t.deepEqual(transfers.map((l) => l.split(' ')[2]), ['1', '0', '0', '0']);
  t.is(r.server.stats.connections - before, 1, 'our server accepted one connection');
  t.is(r.server.stats.requests, 4);
  tsharkClean(t, r);
});
