export type {
  ConnectOptions, ListenOptions, ServerSecureOptions, StreamServer, StreamTransport, TransportErrorKind, TransportErrorLike,
} from './transport';
export { TransportError } from './errors';
export { isSecureStream, SessionCache, sessionOf, waitForSession } from './secure';
export { toTransportError } from './errors';
export { createStreamTransport } from './stream-transport';
export type { PnetStreamTransport, RawStreams, TransportOptions } from './stream-transport';
export { nodeTransport } from './node-transport';
export type { NodeTransportOptions } from './node-transport';
export { stackTransport } from './stack-transport';
export type { StackForTransport, StackTcpServer, StackTransportOptions, TransportClock } from './stack-transport';
// Run-time test certificates (CA, leaves, the bad cases) for tests of this and upper layers, and the embedded world's boot.
export {
  createAuthority, createIntermediate, DEFAULT_TEST_NAMES, issueCertificate, parseCertificate, selfSignedCertificate, testCertificates,
} from './testing/certs';
export type { CertificateAndKey, CertificateFiles, CertificateOptions, KeyType, TestAuthority, TestCertificates } from './testing/certs';
