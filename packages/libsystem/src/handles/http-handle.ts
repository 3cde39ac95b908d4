import type { HttpClientBackend, HttpResponse } from '../backends/backends';
import { BodyReader } from './body-reader';
import { errorText } from './error-text';
import { Handle, HandleContext } from './handle';
import { Encoding, parseReadModes, ReadModeArg, ReadResult, toBytes } from './read-modes';

export interface HttpHandleOptions {
  url: string;
  method?: string;
  headers: Record<string, string>;
  encoding: Encoding;
  redirect: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 16;

/** Header values as Phoenix returns them: one string per name (repeated headers joined with `, `). */
export function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/**
 * An HTTP request and its response (Phoenix's `HTTPHandle`). It starts
 * `ready`; `write(...body)` sends the request (`connecting`); the response
 * head makes it `open` (any status code, 4xx and 5xx included) and a failure
 * makes it `error`. `read` waits for body data.
 */
export class HTTPHandle extends Handle {
  private readonly abortController = new AbortController();
  private reader: BodyReader | null = null;
  private code = 0;
  private headers: Record<string, string> = {};

  constructor(ctx: HandleContext, private readonly backend: HttpClientBackend | undefined, private readonly options: HttpHandleOptions) {
    super(ctx, 'ready');
  }

  /** Sends the request, with the arguments joined as the body (none: no body). Only in `ready`. */
  write(...data: Array<string | Uint8Array | number>): void {
    this.ensureState('write to', 'ready');
    const body = data.length > 0 ? Buffer.concat(data.map(toBytes)) : undefined;
    const method = (this.options.method ?? (body !== undefined ? 'POST' : 'GET')).toUpperCase();
    this.setStatus('connecting');
    // Phoenix left a request refused before sending in `ready` with no event, so `get` waited forever;
    // here every failure, early or late, is an `error` status with its event.
    if (!this.backend) {
      this.setStatus('error', 'HTTP is not available on this system');
      return;
    }
    this.exchange(this.backend, method, body).then(
      (res) => this.opened(res),
      (err) => {
        if (!this.closedByUser) this.setStatus('error', errorText(err));
      },
    );
  }

  private async exchange(backend: HttpClientBackend, method: string, body: Buffer | undefined): Promise<HttpResponse> {
    let url = new URL(this.options.url);
    const headers = { ...this.options.headers };
    for (let hop = 0; ; hop++) {
      const secure = url.protocol === 'https:';
      const res = await backend.request({
        url: url.href,
        secure,
        host: url.hostname,
        port: url.port ? Number(url.port) : secure ? 443 : 80,
        target: (url.pathname || '/') + url.search,
        method,
        headers,
        body,
        signal: this.abortController.signal,
      });
      const location = findHeader(res.headers, 'location');
      if (!this.options.redirect || !REDIRECTS.has(res.status) || location === undefined) return res;
      res.body.resume();
      res.body.destroy();
      if (hop >= MAX_REDIRECTS) throw new Error('Too many redirects');
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new Error('Invalid redirect');
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
        for (const k of Object.keys(headers)) if (/^content-(length|type)$/i.test(k)) delete headers[k];
      }
      if (next.origin !== url.origin) {
        for (const k of Object.keys(headers)) if (/^(authorization|cookie)$/i.test(k)) delete headers[k];
      }
      url = next;
    }
  }

  private opened(res: HttpResponse): void {
    if (this.closedByUser) {
      res.body.destroy();
      return;
    }
    this.code = res.status;
    this.headers = flattenHeaders(res.headers);
    this.reader = new BodyReader(res.body, (text) => {
      if (!this.closedByUser) this.setStatus('error', text);
    });
    this.setStatus('open');
  }

  /**
   * Reads the body: `*a`, `*l` (default), `*L`, `*n` or a byte count; one
   * mode gives a value, several a tuple; `null` at the end. Waits for data.
   */
  async read(...modes: ReadModeArg[]): Promise<ReadResult> {
    this.ensureState('read from', 'open');
    const parsed = parseReadModes(modes);
    return this.reader!.read(parsed, this.options.encoding, () => this.ensureUsable('read from'));
  }

  responseCode(): number {
    this.ensureState('read from', 'open');
    return this.code;
  }

  responseHeaders(): Record<string, string> {
    this.ensureState('read from', 'open');
    return { ...this.headers };
  }

  protected release(): void {
    this.abortController.abort();
    this.reader?.abort();
  }
}

function findHeader(headers: Record<string, unknown>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? String(v[0]) : (v as string | undefined);
  return undefined;
}
