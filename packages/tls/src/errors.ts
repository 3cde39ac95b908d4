import type { PeerCertificate } from 'node:tls';
import type { TransportErrorKind, TransportErrorLike } from './transport';

/**
 * The one error type both transports reject with, plain or secure: a plain
 * sentence naming the cause, Node's/OpenSSL's `code` kept as it was, and a
 * `kind` to branch on.
 */
export class TransportError extends Error implements TransportErrorLike {
  override name = 'TransportError';
  code: string;
  kind: TransportErrorKind;
  host?: string;
  port?: number;
  tls: boolean;
  peerCertificate?: PeerCertificate;

  constructor(message: string, init: {
    code: string; kind: TransportErrorKind; host?: string; port?: number; tls?: boolean;
    peerCertificate?: PeerCertificate; cause?: unknown;
  }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.kind = init.kind;
    this.host = init.host;
    this.port = init.port;
    this.tls = init.tls ?? false;
    if (init.peerCertificate) this.peerCertificate = init.peerCertificate;
  }
}

interface Cause { kind: TransportErrorKind; text: string }

/** Certificate verification failures, by the code Node gives them (OpenSSL's X509_V_ERR names, or Node's own). */
const CERTIFICATE: Record<string, Cause> = {
  CERT_HAS_EXPIRED: { kind: 'certificate-expired', text: '{peer} certificate has expired' },
  CERT_NOT_YET_VALID: { kind: 'certificate-not-yet-valid', text: '{peer} certificate is not yet valid' },
  ERR_TLS_CERT_ALTNAME_INVALID: { kind: 'hostname-mismatch', text: 'hostname mismatch: {peer} certificate is not valid for this name' },
  DEPTH_ZERO_SELF_SIGNED_CERT: { kind: 'self-signed', text: '{peer} certificate is self-signed and not trusted' },
  SELF_SIGNED_CERT_IN_CHAIN: { kind: 'unknown-ca', text: 'unknown CA: {peer} certificate chain ends in a root that is not trusted' },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { kind: 'unknown-ca', text: 'unknown CA: {peer} certificate was issued by a CA that is not trusted' },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { kind: 'unknown-ca', text: 'unknown CA: the issuer of {peer} certificate is not trusted' },
  UNABLE_TO_GET_ISSUER_CERT: { kind: 'unknown-ca', text: 'unknown CA: the issuer of {peer} certificate is not trusted' },
  CERT_UNTRUSTED: { kind: 'unknown-ca', text: 'unknown CA: {peer} certificate is not trusted' },
  CERT_SIGNATURE_FAILURE: { kind: 'certificate-invalid', text: '{peer} certificate signature does not verify' },
  CERT_REVOKED: { kind: 'certificate-invalid', text: '{peer} certificate has been revoked' },
  CERT_REJECTED: { kind: 'certificate-invalid', text: '{peer} certificate is rejected for this use' },
  INVALID_CA: { kind: 'certificate-invalid', text: 'a certificate in the chain is not a valid CA' },
  INVALID_PURPOSE: { kind: 'certificate-invalid', text: '{peer} certificate is not for TLS server use' },
  CERT_CHAIN_TOO_LONG: { kind: 'certificate-invalid', text: '{peer} certificate chain is too long' },
  PATH_LENGTH_EXCEEDED: { kind: 'certificate-invalid', text: '{peer} certificate chain exceeds a CA path length' },
  ERROR_IN_CERT_NOT_BEFORE_FIELD: { kind: 'certificate-invalid', text: '{peer} certificate has a malformed validity start' },
  ERROR_IN_CERT_NOT_AFTER_FIELD: { kind: 'certificate-invalid', text: '{peer} certificate has a malformed validity end' },
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: { kind: 'certificate-invalid', text: 'the issuer public key cannot be decoded' },
};

/** TLS alerts and handshake failures (Node's ERR_SSL_* codes). */
const HANDSHAKE: Record<string, Cause> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: { kind: 'certificate-required', text: 'the server requires a client certificate' },
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: { kind: 'certificate-required', text: 'the client sent no certificate but one is required' },
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: { kind: 'handshake-failed', text: 'the peer refused the handshake (no common cipher, or a required client certificate is missing)' },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: { kind: 'certificate-rejected-by-peer', text: 'the peer rejected our certificate' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: { kind: 'certificate-rejected-by-peer', text: 'the peer rejected our certificate' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: { kind: 'certificate-rejected-by-peer', text: 'the peer says our certificate has expired' },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: { kind: 'certificate-rejected-by-peer', text: 'the peer does not trust the CA of our certificate (or of its own, in its alert)' },
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: { kind: 'protocol-version', text: 'no TLS version in common with the peer' },
  ERR_SSL_UNSUPPORTED_PROTOCOL: { kind: 'protocol-version', text: 'no TLS version in common with the peer' },
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: { kind: 'protocol-version', text: 'no TLS version is enabled' },
  ERR_SSL_WRONG_VERSION_NUMBER: { kind: 'protocol-version', text: 'the peer did not answer with TLS (a plain-text port?) or with a TLS version in common' },
  ERR_SSL_HTTP_REQUEST: { kind: 'protocol-version', text: 'the peer sent plain HTTP to a TLS port' },
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: { kind: 'no-application-protocol', text: 'no ALPN protocol in common with the peer' },
  ERR_SSL_NO_APPLICATION_PROTOCOL: { kind: 'no-application-protocol', text: 'no ALPN protocol in common with the peer' },
  ERR_SSL_NO_SHARED_CIPHER: { kind: 'handshake-failed', text: 'no cipher suite in common with the peer' },
  ERR_TLS_HANDSHAKE_TIMEOUT: { kind: 'timeout', text: 'the TLS handshake timed out' },
  ERR_TLS_DH_PARAM_SIZE: { kind: 'handshake-failed', text: 'the server offered a Diffie-Hellman group that is too small' },
};

const NETWORK: Record<string, Cause> = {
  ECONNREFUSED: { kind: 'refused', text: 'connection refused' },
  ECONNRESET: { kind: 'reset', text: 'connection reset by the peer' },
  EPIPE: { kind: 'reset', text: 'connection closed by the peer' },
  ECONNABORTED: { kind: 'reset', text: 'connection aborted' },
  ETIMEDOUT: { kind: 'timeout', text: 'connection timed out' },
  EHOSTUNREACH: { kind: 'unreachable', text: 'host unreachable' },
  ENETUNREACH: { kind: 'unreachable', text: 'network unreachable' },
  EADDRNOTAVAIL: { kind: 'unreachable', text: 'no local address to reach the host' },
  ENOTFOUND: { kind: 'name-not-found', text: 'name not found' },
  EAI_AGAIN: { kind: 'name-not-found', text: 'name lookup failed (temporary)' },
  ABORT_ERR: { kind: 'aborted', text: 'connect aborted' },
  EADDRINUSE: { kind: 'network', text: 'address already in use' },
  EACCES: { kind: 'network', text: 'permission denied' },
};

function certificateSummary(cert: PeerCertificate | undefined): string {
  if (!cert || !cert.subject) return '';
  const parts: string[] = [];
  if (cert.subject.CN) parts.push(`subject CN=${cert.subject.CN}`);
  if (cert.subjectaltname) parts.push(`names ${cert.subjectaltname}`);
  if (cert.issuer?.CN) parts.push(`issuer CN=${cert.issuer.CN}`);
  if (cert.valid_from) parts.push(`valid ${cert.valid_from} to ${cert.valid_to}`);
  return parts.length ? `; ${parts.join(', ')}` : '';
}

function endpoint(host?: string, port?: number, side: 'client' | 'server' = 'client'): string {
  return host === undefined ? '' : ` ${side === 'server' ? 'from' : 'to'} ${host}${port === undefined ? '' : `:${port}`}`;
}

/**
 * Turns anything a connect or accept can throw into a TransportError with a
 * clear message. `during` says which step failed (for errors without a
 * recognised code). Already-mapped errors pass through.
 */
export function toTransportError(
  err: unknown,
  ctx: { host?: string; port?: number; tls: boolean; peerCertificate?: PeerCertificate; servername?: string; side?: 'client' | 'server' },
): TransportError {
  if (err instanceof TransportError) return err;
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & { code?: string; reason?: string; cert?: PeerCertificate };
  const code = typeof e.code === 'string' ? e.code : ctx.tls ? 'ERR_TLS_HANDSHAKE' : 'ERR_NETWORK';
  const where = `${ctx.tls ? 'TLS connection' : 'connection'}${endpoint(ctx.host, ctx.port, ctx.side)}`;
  const cert = ctx.peerCertificate ?? e.cert;
  const certCause = CERTIFICATE[code];
  if (certCause) {
    let detail = '';
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      detail = `: ${e.reason ?? e.message}`;
    }
    const name = ctx.servername && ctx.servername !== ctx.host ? ` (server name ${ctx.servername})` : '';
    const peer = ctx.side === 'server' ? 'the client' : 'the server';
    return new TransportError(`${where}${name} refused: ${certCause.text.replace('{peer}', peer)}${detail} [${code}]${certificateSummary(cert)}`, {
      code, kind: certCause.kind, host: ctx.host, port: ctx.port, tls: true, peerCertificate: cert, cause: e,
    });
  }
  const tlsCause = HANDSHAKE[code];
  if (tlsCause) {
    return new TransportError(`${where} failed: ${tlsCause.text} [${code}]`, {
      code, kind: tlsCause.kind, host: ctx.host, port: ctx.port, tls: true, cause: e,
    });
  }
  const net = NETWORK[code];
  if (net) {
    // Node says "Client network socket disconnected before secure TLS connection was established".
    let text = ctx.tls && net.kind === 'reset' ? 'the peer closed the connection during the TLS handshake' : net.text;
    // Keep what a non-Node source (pnet's resolver, its TCP) said, unless it only repeats the code.
    if (e.message && !e.message.includes(code) && !/^Client network socket disconnected/.test(e.message)) text += ` (${e.message})`;
    return new TransportError(`${where} failed: ${text} [${code}]`, {
      code, kind: net.kind, host: ctx.host, port: ctx.port, tls: ctx.tls, cause: e,
    });
  }
  const isTls = ctx.tls || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_');
  return new TransportError(`${where} failed: ${e.message} [${code}]`, {
    code, kind: isTls ? 'handshake-failed' : 'network', host: ctx.host, port: ctx.port, tls: isTls, cause: e,
  });
}

export function invalidArgument(message: string, cause?: unknown): TransportError {
  return new TransportError(message, { code: 'ERR_INVALID_ARG_VALUE', kind: 'invalid-argument', cause });
}
