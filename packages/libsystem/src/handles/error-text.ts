/**
 * Turns an error from a lower layer into the short text a handle reports in
 * `status()` and `[null, err]`, in Phoenix's words where Phoenix has them
 * ("Connection refused", "Connection reset by peer", "No route to host").
 */
export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string } | null | undefined;
  switch (e?.code) {
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
  }
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  return String(err);
}
