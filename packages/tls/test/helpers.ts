/** Shared pieces of the TLS tests: free ports, openssl s_server peers, byte collection. */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';

export function opensslAvailable(): boolean {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Why a test that needs the openssl CLI cannot run, or null. With CI=true a missing peer is a failure, not a skip. */
export function opensslMissing(): string | null {
  if (opensslAvailable()) return null;
  if (process.env.CI === 'true') throw new Error('openssl CLI is required in CI (apt-get install openssl)');
  return 'SKIPPED: the openssl CLI is not installed; interop tests against openssl s_server need it';
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface OpensslServer {
  port: number;
  output(): string;
  close(): Promise<void>;
}

/**
 * `openssl s_server -www` on a free loopback port: answers `GET /` with a status page
 * naming the protocol, cipher and whether the session was reused.
 */
export async function startOpensslServer(args: {
  cert: string; key: string; extra?: string[];
}): Promise<OpensslServer> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', args.cert, '-key', args.key,
      '-www', '-naccept', '1000', ...(args.extra ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const ready = await new Promise<boolean>((resolve) => {
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('ACCEPT')) resolve(true);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', () => resolve(false));
    });
    if (ready) return { port, output: () => out, close: () => stopChild(child) };
    if (!/in use|bind/i.test(out)) throw new Error(`openssl s_server did not start: ${out}`);
  }
  throw new Error('openssl s_server: no free port after 5 attempts');
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Everything the stream yields until it ends. */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Reads until `predicate(text so far)` holds. */
export function readUntil(stream: Duplex, predicate: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString('latin1');
      if (predicate(text)) { done(); resolve(text); }
    };
    const onEnd = () => { done(); resolve(text); };
    const onError = (e: Error) => { done(); reject(e); };
    function done() {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
    }
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

/** Sends `GET /` to an `openssl s_server -www` and returns its status page. */
export async function fetchStatusPage(stream: Duplex): Promise<string> {
  stream.write('GET / HTTP/1.0\r\n\r\n');
  return readUntil(stream, (t) => t.includes('</HTML>') || t.includes('</html>'));
}

/** Waits for a TLS client's next 'session' event (TLS 1.3 tickets come after the handshake). */
export function nextSession(socket: Duplex): Promise<Buffer> {
  return new Promise((resolve) => socket.once('session', resolve));
}
