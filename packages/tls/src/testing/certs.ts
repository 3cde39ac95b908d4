/**
 * Test certificates made at run time: a CA, leaves for given names, and the bad
 * cases a TLS client must refuse (expired, not yet valid, wrong host,
 * self-signed, unknown CA). No private key is ever committed.
 *
 * node:crypto makes the keys and the signatures; `der.ts` lays out the X.509
 * structure around them. That takes about a millisecond per certificate with
 * P-256 keys, needs no openssl binary (the embedded world can mint its CA and
 * leaf at every boot), and the openssl CLI checks the output in the tests.
 */
import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { isIPv4 } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  bitStringBytes, boolean, explicit, namedBits, nullValue, octetString, oid, sequence, set, smallInteger, time, tlv,
  toPem, unsignedInteger, utf8String,
} from './der';

export type KeyType = 'ec' | 'rsa';

/** A certificate with its private key, both PEM. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

/** A CA that can issue certificates. */
export interface TestAuthority extends CertificateAndKey {
  readonly commonName: string;
  /** @internal */ readonly privateKey: KeyObject;
  /** @internal */ readonly keyId: Buffer;
}

export interface CertificateOptions {
  /** DNS names and IPv4 addresses for subjectAltName (also the CN, first one). */
  names?: string[];
  commonName?: string;
  notBefore?: Date;
  notAfter?: Date;
  keyType?: KeyType;
}

const DAY = 86_400_000;

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

function newKey(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  return type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function name(commonName: string): Buffer {
  return sequence(
    set(sequence(oid(OID.organization), utf8String('pnet test'))),
    set(sequence(oid(OID.commonName), utf8String(commonName))),
  );
}

function signatureAlgorithm(signer: KeyObject): Buffer {
  return signer.asymmetricKeyType === 'rsa'
    ? sequence(oid(OID.sha256WithRsa), nullValue())
    : sequence(oid(OID.ecdsaWithSha256));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function subjectAltName(names: string[]): Buffer {
  return sequence(...names.map((n) => {
    if (isIPv4(n)) return tlv(0x87, Buffer.from(n.split('.').map(Number)));
    if (!/^[A-Za-z0-9*]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(n)) {
      throw new TypeError(`certificate name must be a DNS name or an IPv4 address: ${JSON.stringify(n)}`);
    }
    return tlv(0x82, Buffer.from(n, 'ascii'));
  }));
}

interface Draft {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signer: KeyObject;
  issuerKeyId: Buffer;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  names: string[];
}

function build(d: Draft): { der: Buffer; keyId: Buffer } {
  const spki = d.publicKey.export({ type: 'spki', format: 'der' });
  // RFC 5280 4.2.1.2 allows any unique method for the key identifier; a hash of the whole SPKI is one.
  const keyId = createHash('sha1').update(spki).digest();
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const rsa = d.publicKey.asymmetricKeyType === 'rsa';
  const exts = [
    extension(OID.basicConstraints, true, d.isCa ? sequence(boolean(true)) : sequence()),
    // digitalSignature(0), keyEncipherment(2) for RSA leaves, keyCertSign(5) + cRLSign(6) for CAs.
    extension(OID.keyUsage, true, namedBits(d.isCa ? [0, 5, 6] : rsa ? [0, 2] : [0])),
    extension(OID.subjectKeyId, false, octetString(keyId)),
    extension(OID.authorityKeyId, false, sequence(tlv(0x80, d.issuerKeyId))),
  ];
  if (!d.isCa) {
    exts.push(extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))));
    if (d.names.length > 0) exts.push(extension(OID.subjectAltName, false, subjectAltName(d.names)));
  }
  const algorithm = signatureAlgorithm(d.signer);
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    algorithm,
    name(d.issuer),
    sequence(time(d.notBefore), time(d.notAfter)),
    name(d.subject),
    spki,
    explicit(3, sequence(...exts)),
  );
  const signature = sign('sha256', tbs, d.signer);
  return { der: sequence(tbs, algorithm, bitStringBytes(signature)), keyId };
}

function pemKey(k: KeyObject): string {
  return k.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function defaultValidity(o: CertificateOptions): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: o.notBefore ?? new Date(now - DAY), notAfter: o.notAfter ?? new Date(now + 365 * DAY) };
}

/** A new self-signed CA. */
export function createAuthority(options: CertificateOptions = {}): TestAuthority {
  const commonName = options.commonName ?? 'pnet test CA';
  const { privateKey, publicKey } = newKey(options.keyType ?? 'ec');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ownKeyId = createHash('sha1').update(spki).digest();
  const { der, keyId } = build({
    subject: commonName, issuer: commonName, publicKey, signer: privateKey, issuerKeyId: ownKeyId,
    ...defaultValidity(options), isCa: true, names: [],
  });
  return { commonName, cert: toPem('CERTIFICATE', der), key: pemKey(privateKey), privateKey, keyId };
}

/** An intermediate CA signed by `parent` (servers then send leaf + intermediate as their chain). */
export function createIntermediate(parent: TestAuthority, options: CertificateOptions = {}): TestAuthority {
  const commonName = options.commonName ?? `${parent.commonName} intermediate`;
  const { privateKey, publicKey } = newKey(options.keyType ?? 'ec');
  const { der, keyId } = build({
    subject: commonName, issuer: parent.commonName, publicKey, signer: parent.privateKey, issuerKeyId: parent.keyId,
    ...defaultValidity(options), isCa: true, names: [],
  });
  return { commonName, cert: toPem('CERTIFICATE', der), key: pemKey(privateKey), privateKey, keyId };
}

/** A leaf certificate for `names`, signed by `ca`. */
export function issueCertificate(ca: TestAuthority, options: CertificateOptions = {}): CertificateAndKey {
  const names = options.names ?? ['localhost', '127.0.0.1'];
  const { privateKey, publicKey } = newKey(options.keyType ?? 'ec');
  const { der } = build({
    subject: options.commonName ?? names[0] ?? 'pnet test leaf', issuer: ca.commonName, publicKey,
    signer: ca.privateKey, issuerKeyId: ca.keyId, ...defaultValidity(options), isCa: false, names,
  });
  return { cert: toPem('CERTIFICATE', der), key: pemKey(privateKey) };
}

/** A self-signed leaf (not a CA) for `names`. */
export function selfSignedCertificate(options: CertificateOptions = {}): CertificateAndKey {
  const names = options.names ?? ['localhost', '127.0.0.1'];
  const { privateKey, publicKey } = newKey(options.keyType ?? 'ec');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const cn = options.commonName ?? names[0] ?? 'pnet self-signed';
  const { der } = build({
    subject: cn, issuer: cn, publicKey, signer: privateKey, issuerKeyId: createHash('sha1').update(spki).digest(),
    ...defaultValidity(options), isCa: false, names,
  });
  return { cert: toPem('CERTIFICATE', der), key: pemKey(privateKey) };
}

/** A certificate and key also written to files (for openssl, nginx, curl). */
export interface CertificateFiles extends CertificateAndKey {
  certFile: string;
  keyFile: string;
}

/** The standard test set: everything signed by `ca` unless said otherwise. */
export interface TestCertificates {
  /** The directory holding every file (deleted when the process exits). */
  dir: string;
  /** The names every good leaf carries. */
  names: string[];
  /** The trusted CA: pass `ca.cert` as the client's `ca`. */
  ca: CertificateFiles;
  /** A good server leaf for `names`. */
  server: CertificateFiles;
  /** A client certificate (CN `pnet test client`) for mutual TLS. */
  client: CertificateFiles;
  /** A client certificate from the untrusted CA. */
  untrustedClient: CertificateFiles;
  /** Bad server leaves, each for `names` unless said otherwise. */
  expired: CertificateFiles;
  notYetValid: CertificateFiles;
  /** Valid and trusted, but only for `wrong.test`. */
  wrongHost: CertificateFiles;
  /** Self-signed, not from any CA. */
  selfSigned: CertificateFiles;
  /** Signed by a CA the client does not trust. */
  unknownCa: CertificateFiles;
  /** That untrusted CA. */
  untrustedCa: CertificateFiles;
}

export const DEFAULT_TEST_NAMES = ['localhost', '127.0.0.1', 'example.test', 'echo.test'];

const cache = new Map<string, TestCertificates>();
let tempRoot: string | null = null;

function writeFiles(dir: string, base: string, ck: CertificateAndKey): CertificateFiles {
  const certFile = path.join(dir, `${base}.crt`);
  const keyFile = path.join(dir, `${base}.key`);
  fs.writeFileSync(certFile, ck.cert);
  fs.writeFileSync(keyFile, ck.key, { mode: 0o600 });
  return { cert: ck.cert, key: ck.key, certFile, keyFile };
}

function processTempDir(): string {
  if (tempRoot === null) {
    tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), `pnet-tls-certs-${process.pid}-`));
    const dir = tempRoot;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return tempRoot;
}

/**
 * The standard test set for `names` (default: localhost, 127.0.0.1,
 * example.test, echo.test), made once per process and names, with PEM files
 * in a per-process temp dir.
 */
export function testCertificates(options: { names?: string[]; keyType?: KeyType } = {}): TestCertificates {
  const names = options.names ?? DEFAULT_TEST_NAMES;
  const keyType = options.keyType ?? 'ec';
  const cacheKey = `${keyType}|${names.join(',')}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const dir = fs.mkdtempSync(path.join(processTempDir(), 'set-'));
  const now = Date.now();
  const ca = createAuthority({ commonName: 'pnet test CA', keyType });
  const untrustedCa = createAuthority({ commonName: 'pnet untrusted CA', keyType });
  const set: TestCertificates = {
    dir,
    names,
    ca: writeFiles(dir, 'ca', ca),
    server: writeFiles(dir, 'server', issueCertificate(ca, { names, keyType })),
    client: writeFiles(dir, 'client', issueCertificate(ca, { names: [], commonName: 'pnet test client', keyType })),
    untrustedClient: writeFiles(dir, 'untrusted-client',
      issueCertificate(untrustedCa, { names: [], commonName: 'pnet untrusted client', keyType })),
    expired: writeFiles(dir, 'expired',
      issueCertificate(ca, { names, keyType, notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) })),
    notYetValid: writeFiles(dir, 'not-yet-valid',
      issueCertificate(ca, { names, keyType, notBefore: new Date(now + DAY), notAfter: new Date(now + 30 * DAY) })),
    wrongHost: writeFiles(dir, 'wrong-host', issueCertificate(ca, { names: ['wrong.test'], keyType })),
    selfSigned: writeFiles(dir, 'self-signed', selfSignedCertificate({ names, keyType })),
    unknownCa: writeFiles(dir, 'unknown-ca', issueCertificate(untrustedCa, { names, keyType })),
    untrustedCa: writeFiles(dir, 'untrusted-ca', untrustedCa),
  };
  cache.set(cacheKey, set);
  return set;
}

/** Parses a PEM certificate (for assertions on subjects, names and dates). */
export function parseCertificate(pem: string | Buffer): X509Certificate {
  return new X509Certificate(pem);
}
