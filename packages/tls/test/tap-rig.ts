/** A pnet Stack on a TAP device whose far side is a test namespace's kernel (shared by the TAP interop tests). */
import type { ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from '@pnet/tcpip';
// Tests may use lower layers; @pnet/nic is not a dependency of this package, so reach it by path.
import { RealClock, Rng, TestHost } from '../../nic/src';
import { stackTransport } from '../src';
import { testCertificates } from '../src/testing/certs';

export { requireRoot } from '../../nic/src';
export type { TestHost } from '../../nic/src';

/** Hang guard, not a speed assertion: a broken exchange fails instead of hanging. */
export const GUARD_MS = 150_000;
export const BIG = 50 * 1024 * 1024;
export const certs = testCertificates();

export function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang guard: ${what} did not finish in ${GUARD_MS} ms`)), GUARD_MS);
  })]).finally(() => clearTimeout(timer));
}

/** The kernel side is host.address (192.0.2.1); our stack is host.peerAddress (192.0.2.2). */
export async function rig(t: ExecutionContext, label: string) {
  const clock = new RealClock();
  const host = await TestHost.create(t, { label, tap: { clock } });
  const stack = new Stack({ clock, rng: new Rng(label.length * 131 + 7), name: label });
  stack.addInterface(host.nic!, { ip: host.peerAddress, netmask: 24 });
  stack.start();
  t.teardown(() => { stack.tcp.stop(); stack.close(); });
  const transport = stackTransport(stack, { ca: certs.ca.cert });
  return { host, stack, transport };
}

/** A file of `size` random bytes (default 50 MB) in `dir`, and its SHA-256. */
export function bigFile(dir: string, size = BIG): { file: string; sha256: string } {
  const data = randomBytes(size);
  const file = path.join(dir, 'big.bin');
  fs.writeFileSync(file, data);
  return { file, sha256: createHash('sha256').update(data).digest('hex') };
}
