/** Every failure of this layer is an HttpError with a stable `code`. */
export type HttpErrorCode =
  | 'HTTP_HEADER_OVERFLOW'
  | 'HTTP_INVALID_START_LINE'
  | 'HTTP_INVALID_HEADER'
  | 'HTTP_INVALID_CONTENT_LENGTH'
  | 'HTTP_INVALID_TRANSFER_ENCODING'
  | 'HTTP_INVALID_CHUNK'
  | 'HTTP_PREMATURE_CLOSE'
  | 'HTTP_UNEXPECTED_DATA'
  | 'HTTP_CONNECT_TIMEOUT'
  | 'HTTP_FIRST_BYTE_TIMEOUT'
  | 'HTTP_IDLE_TIMEOUT'
  | 'HTTP_TOO_MANY_REDIRECTS'
  | 'HTTP_BAD_REDIRECT'
  | 'HTTP_BODY_LENGTH_MISMATCH'
  | 'HTTP_CONNECTION_FAILED'
  | 'HTTP_ABORTED'
  | 'HTTP_BODY_TOO_LARGE'
  | 'HTTP_DECOMPRESSION_FAILED'
  | 'WS_HANDSHAKE_FAILED'
  | 'WS_PROTOCOL_ERROR';

export class HttpError extends Error {
  readonly code: HttpErrorCode;
  /** The underlying error, when there is one (e.g. the socket's). */
  override readonly cause?: unknown;

  constructor(code: HttpErrorCode, message: string, cause?: unknown) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }
}
