/**
 * Memory: heap bytes per idle established TCP connection endpoint, measured in
 * a child process (--expose-gc; full GCs, then v8.getHeapStatistics) so
 * nothing else in the harness is counted. Both ends of every connection live
 * in the child, so n connections are 2n endpoints; the figure is per endpoint
 * (what one host pays per connection it holds). Lower is better.
 *
 * Anchor: Node's net.Socket over the kernel's loopback, JS heap only (the
 * kernel's own socket memory is not in it), at a smaller count because every
 * kernel socket is a file descriptor (ulimit -n).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { BenchOptions, BenchRow, median, row } from './bench';

import type { MemoryMode, MemoryResult as ChildResult } from './memory-child';

export function measure(mode: MemoryMode, connections: number, inProcess = false): Promise<ChildResult> {
  // Tiny runs (the harness test) stay in this process: a child would spend most of its time compiling.
  if (inProcess) return import('./memory-child').then((m) => m.measureHere(mode, connections)).then((r) => { r.dispose(); return r; });
  const root = path.resolve(__dirname, '..', '..', '..');
  const args = ['--expose-gc', '--max-old-space-size=8192', '-r', path.join(__dirname, '..', '..', 'cli', 'bin', 'ts-cache.js'),
    path.join(__dirname, 'memory-child.ts'), mode, String(connections)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, env: process.env, maxBuffer: 1 << 20, timeout: 900_000 },
      (err, stdout, stderr) => {
        if (err) { reject(new Error(`memory-child ${mode} ${connections}: ${err.message}\n${stderr}`)); return; }
        try { resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult); } catch (e) { reject(new Error(`memory-child ${mode}: bad output ${stdout}${stderr}`)); }
      });
  });
}

/** How many kernel connections fit under the descriptor limit (two fds each, with room to spare). */
function nodeConnections(wanted: number): number {
  let limit = 1024;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    limit = Number(require('node:child_process').execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim()) || 1024;
  } catch { /* keep 1024 */ }
  return Math.max(100, Math.min(wanted, Math.floor((limit - 200) / 2 / 1000) * 1000 || 100));
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.tiny ? 200 : opts.quick ? 10_000 : 100_000;
  // One run: the heap of n identical idle connections barely moves between runs (10k and 100k agree within 3 %),
  // and a 100k run costs a minute of start-up and handshakes.
  const runs = 1;
  const nNode = nodeConnections(opts.tiny ? 200 : opts.quick ? 2000 : 9000);
  const sock: number[] = [], conn: number[] = [], kern: number[] = [];
  for (let r = 0; r < runs; r++) {
    const here = !!opts.tiny;
    kern.push((await measure('node', nNode, here)).perEndpoint);
    sock.push((await measure('pnet-socket', n, here)).perEndpoint);
    conn.push((await measure('pnet-conn', n, here)).perEndpoint);
  }
  const count = n >= 1000 ? `${n / 1000}k` : String(n);
  const anchor = `Node net.Socket over lo, JS heap only, ${nNode >= 1000 ? `${nNode / 1000}k` : nNode} connections`;
  return [
    row(`heap per idle TCP endpoint, TcpSocket, ${count} connections (lower is better)`, median(sock), 'bytes', anchor, median(kern)),
    row(`heap per idle TCP endpoint, bare TcpConnection, ${count} connections (lower is better)`, median(conn), 'bytes', anchor, median(kern)),
  ];
}
