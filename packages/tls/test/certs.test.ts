/** The run-time test certificates: what they contain, and that openssl agrees with each verdict. */
import test from 'ava';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createAuthority, issueCertificate, parseCertificate, testCertificates } from '../src/testing/certs';
import { namedBits, oid, time } from '../src/testing/der';
import { opensslMissing } from './helpers';

const certs = testCertificates();

test('DER pieces: OID, named bits and both time forms encode as X.690 says', (t) => {
  t.is(oid('1.2.840.113549.1.1.11').toString('hex'), '06092a864886f70d01010b');
  t.is(oid('2.5.29.17').toString('hex'), '0603551d11');
  t.is(namedBits([0, 5, 6]).toString('hex'), '03020186'); // CA key usage, one unused bit
  t.is(namedBits([0]).toString('hex'), '03020780');
  t.is(time(new Date(Date.UTC(2026, 10, 27, 19, 5, 9))).toString('latin1'), '\x17\x0d261127190509Z');
  t.is(time(new Date(Date.UTC(2051, 0, 2, 3, 4, 5))).toString('latin1'), '\x18\x0f20510102030405Z');
});

test('the standard set: names, issuers, validity and CA flags', (t) => {
  const ca = parseCertificate(certs.ca.cert);
  const server = parseCertificate(certs.server.cert);
  t.true(ca.ca);
  t.false(server.ca);
  t.true(server.checkIssued(ca));
  t.true(server.verify(ca.publicKey));
  t.is(server.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, DNS:example.test, DNS:echo.test');
  for (const name of ['example.test', 'echo.test', 'localhost']) t.is(server.checkHost(name), name);
  t.is(server.checkIP('127.0.0.1'), '127.0.0.1');
  const now = Date.now();
  t.true(Date.parse(parseCertificate(certs.expired.cert).validTo) < now);
  t.true(Date.parse(parseCertificate(certs.notYetValid.cert).validFrom) > now);
  t.is(parseCertificate(certs.wrongHost.cert).checkHost('localhost'), undefined);
  const selfSigned = parseCertificate(certs.selfSigned.cert);
  t.true(selfSigned.verify(selfSigned.publicKey));
  t.false(parseCertificate(certs.unknownCa.cert).checkIssued(ca));
  t.true(parseCertificate(certs.unknownCa.cert).checkIssued(parseCertificate(certs.untrustedCa.cert)));
  t.is(parseCertificate(certs.client.cert).subject, 'O=pnet test\nCN=pnet test client');
});

test('the set is made once per process and its files match the PEM in memory', (t) => {
  t.is(testCertificates(), certs);
  t.is(fs.readFileSync(certs.server.certFile, 'utf8'), certs.server.cert);
  t.is(fs.readFileSync(certs.server.keyFile, 'utf8'), certs.server.key);
  t.is(fs.statSync(certs.server.keyFile).mode & 0o077, 0, 'private keys are not world-readable');
});

test('any DNS names end up in subjectAltName exactly', (t) => {
  const ca = createAuthority();
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
  fc.assert(fc.property(fc.array(fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.')), { minLength: 1, maxLength: 4 }), (names) => {
    const leaf = new X509Certificate(issueCertificate(ca, { names }).cert);
    return leaf.subjectAltName === names.map((n) => `DNS:${n}`).join(', ') && leaf.verify(new X509Certificate(ca.cert).publicKey);
  }), { numRuns: 30 });
  t.pass();
});

test('names that are neither DNS names nor IPv4 addresses are refused', (t) => {
  t.throws(() => issueCertificate(createAuthority(), { names: ['bad name'] }), { message: /DNS name or an IPv4 address/ });
});

const missing = opensslMissing();
(missing ? test.skip : test)('openssl verify agrees with every case of the set', (t) => {
  const verify = (file: string) => spawnSync('openssl', ['verify', '-CAfile', certs.ca.certFile, file], { encoding: 'utf8' });
  const expect: Array<[string, RegExp | null]> = [
    [certs.server.certFile, null],
    [certs.client.certFile, null],
    [certs.wrongHost.certFile, null], // a good chain; only the name is wrong
    [certs.expired.certFile, /certificate has expired/],
    [certs.notYetValid.certFile, /certificate is not yet valid/],
    [certs.selfSigned.certFile, /self-signed certificate/],
    [certs.unknownCa.certFile, /unable to get local issuer certificate/],
  ];
  for (const [file, failure] of expect) {
    const r = verify(file);
    if (failure === null) t.is(r.status, 0, `${file}: ${r.stdout}${r.stderr}`);
    else {
      t.not(r.status, 0, file);
      t.regex(r.stdout + r.stderr, failure);
    }
  }
  const host = spawnSync('openssl', ['x509', '-in', certs.server.certFile, '-noout', '-checkhost', 'example.test'], { encoding: 'utf8' });
  t.regex(host.stdout, /does match certificate/);
});
