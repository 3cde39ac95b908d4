/**
 * Turns an error from a lower layer into the short text a handle reports in
 * `status()` and `[null, err]`, in Phoenix's words where Phoenix has them
 * ("Connection refused", "Connection reset by peer", "No route to host").
 */
export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: unknown } | null | undefined;
  // A layer's own error often wraps the socket's (HttpError 'HTTP_CONNECTION_FAILED' with cause ECONNREFUSED).
  const known = phoenixText(e?.code) ?? phoenixText((e?.cause as { code?: string } | undefined)?.code);
  if (known) return known;
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  return String(err);
}

function phoenixText(code: string | undefined): string | null {
  switch (code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'Connection reset by peer';
    case 'ETIMEDOUT':
      return 'Connection timed out';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'Unknown host';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'No route to host';
    case 'EADDRINUSE':
      return 'Port already open';
    case 'HTTP_TOO_MANY_REDIRECTS':
      return 'Too many redirects';
    case 'HTTP_CONNECT_TIMEOUT':
    case 'HTTP_FIRST_BYTE_TIMEOUT':
    case 'HTTP_IDLE_TIMEOUT':
      return 'Timed out';
  }
  return null;
}
