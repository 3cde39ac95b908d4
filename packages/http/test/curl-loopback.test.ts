// curl (a real, independent client) against our server and httpbin routes, on loopback.
// Without curl the tests skip loudly; with CI=true a missing curl fails.
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { HttpServer, httpbin } from '../src';
import { loopbackTransport } from './helpers/loopback';

function haveCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = haveCurl();
if (!available && process.env.CI === 'true') test('curl is installed (CI)', (t) => t.fail('curl is missing but CI=true'));
const maybe = available ? test : test.skip;
if (!available) console.warn('SKIPPING curl loopback tests: curl is not installed');

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '60', ...args], { encoding: 'latin1', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`curl ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

async function start() {
  const server = new HttpServer(httpbin());
  const l = await server.listen(loopbackTransport(), { port: 0 });
  return { server, base: `http://127.0.0.1:${l.port}` };
}

maybe('curl: GET, POST, chunked upload, HEAD, status codes', async (t) => {
  const { server, base } = await start();
  try {
    const get = JSON.parse(await curl(['-H', 'X-From-Curl: yes', `${base}/get?x=1`]));
    t.deepEqual(get.args, { x: '1' });
    t.is(get.headers['X-From-Curl'], 'yes');
    const post = JSON.parse(await curl(['-H', 'Content-Type: application/json', '--data-binary', '{"a":[1,2]}', `${base}/post`]));
    t.deepEqual(post.json, { a: [1, 2] });
    const chunked = JSON.parse(await curl(['-X', 'PUT', '-H', 'Transfer-Encoding: chunked', '--data-binary', 'streamed body', `${base}/put`]));
    t.is(chunked.data, 'streamed body');
    t.is(chunked.headers['Transfer-Encoding'], 'chunked');
    const head = await curl(['-I', `${base}/bytes/10`]);
    t.regex(head, /^HTTP\/1\.1 200 OK\r\n/);
    t.regex(head, /Content-Length: 10\r\n/i);
    t.is(await curl(['-o', '/dev/null', '-w', '%{http_code}', `${base}/status/418`]), '418');
    const stream = await curl([`${base}/stream/3`]);
    t.is(stream.trim().split('\n').length, 3);
  } finally {
    await server.close();
  }
});

maybe('curl: redirects followed with -L; several URLs share one kept-alive connection', async (t) => {
  const { server, base } = await start();
  try {
    const final = JSON.parse(await curl(['-L', `${base}/redirect/3`]));
    t.is(final.url, `${base}/get`);
    const out = await curl(['-w', '\\n%{num_connects}\\n', `${base}/status/204`, `${base}/status/204`, `${base}/status/204`]);
    // num_connects is per transfer: 1 for the first, 0 for reused connections.
    const counts = out.split('\n').filter((l) => /^\d+$/.test(l));
    t.deepEqual(counts, ['1', '0', '0']);
  } finally {
    await server.close();
  }
});
