import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthority, issueCertificate, type CertificateAndKey, type TestAuthority } from '@pnet/tls';

/** The world's TLS material: a CA the embedded client trusts, and one leaf for its servers. */
export interface WorldCertificates {
  ca: TestAuthority;
  /** For example.test and echo.test. */
  server: CertificateAndKey;
  /** The CA certificate as a file (for curl/openssl-style `--cacert`), in a per-process temp dir removed at exit. */
  caFile: string;
}

export const WORLD_TLS_NAMES = ['example.test', 'echo.test', 'www.example.test'];

let cached: WorldCertificates | null = null;

/**
 * Made once per process on first use (node:crypto P-256, a few ms), never
 * committed. Key material is the one thing a seed does not replay.
 */
export function worldCertificates(): WorldCertificates {
  if (cached) return cached;
  const ca = createAuthority({ commonName: 'pnet embedded world CA' });
  const server = issueCertificate(ca, { names: WORLD_TLS_NAMES });
  const dir = mkdtempSync(join(tmpdir(), 'pnet-world-'));
  const caFile = join(dir, 'world-ca.pem');
  writeFileSync(caFile, ca.cert);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  cached = { ca, server, caFile };
  return cached;
}
