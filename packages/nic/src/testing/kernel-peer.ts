/**
 * A kernel-side TCP peer for tests and benchmarks over a TAP: a python3 script, run inside a
 * TestHost's namespace, that accepts one connection and either reads until EOF (`sink`) or sends
 * `size` bytes and shuts down its side (`source`). It prints `listening` once bound, then
 * `done <bytes> <sha256>` at the end. Hashing costs the peer CPU, so a benchmark turns it off
 * (`hash: false`: a zero digest and a block of zeros instead of random bytes).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const SCRIPT = String.raw`
import hashlib, os, socket, sys
mode, host, port, size, hashing = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == 'hash'
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port)); s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
h = hashlib.sha256(); n = 0
if mode == 'sink':
    buf = bytearray(1 << 20); view = memoryview(buf)
    while True:
        k = c.recv_into(buf)
        if k == 0: break
        if hashing: h.update(view[:k])
        n += k
else:
    # Random bytes in a block whose length is not a power of two: a misplaced chunk changes the hash.
    block = memoryview(os.urandom(1000003) if hashing else bytes(1 << 20))
    while n < size:
        k = min(size - n, len(block)); c.sendall(block[:k])
        if hashing: h.update(block[:k])
        n += k
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536): pass
print('done', n, h.hexdigest() if hashing else '0' * 64, flush=True)
c.close()
`;

export interface KernelPeerArgs {
  /** `sink`: the peer reads; `source`: the peer sends `size` bytes. */
  mode: 'sink' | 'source';
  /** The address to listen on (inside the namespace). */
  host: string;
  port: number;
  size: number;
  /** SHA-256 of every byte moved (default true). */
  hash?: boolean;
}

/** Writes the peer script into `dir` (a TestHost's scratch directory) and returns its path. */
export function writeKernelPeer(dir: string): string {
  const file = path.join(dir, 'kernel-peer.py');
  fs.writeFileSync(file, SCRIPT);
  return file;
}

/** The argv that runs the script at `file` (for `TestHost.spawn`). */
export function kernelPeerArgv(file: string, a: KernelPeerArgs): string[] {
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new RangeError(`kernel peer: bad port ${a.port}`);
  if (!Number.isSafeInteger(a.size) || a.size < 0) throw new RangeError(`kernel peer: bad size ${a.size}`);
  return ['python3', file, a.mode, a.host, String(a.port), String(a.size), a.hash === false ? 'nohash' : 'hash'];
}

/** Parses the peer's `done` line: bytes moved and the SHA-256 (hex). */
export const KERNEL_PEER_DONE = /done (\d+) ([0-9a-f]{64})/;
