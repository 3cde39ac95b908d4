import { expectArg, expectField, luaType } from '../lua/lua-errors';
import type { Encoding } from '../handles/read-modes';

/** `connect`'s argument: a URL, or Phoenix's option table. */
export type ConnectOptions = string | ConnectOptionTable;

export interface ConnectOptionTable {
  url: string;
  /** HTTP method; default GET, or POST when `write` gives a body. */
  method?: string;
  headers?: Record<string, string>;
  /** `binary` reads give Buffers, `text` strings. Default: `binary` for HTTP, TCP and UDP; `text` for WebSocket. */
  encoding?: Encoding;
  /** Follow HTTP redirects (default true). */
  redirect?: boolean;
}

export interface CheckedOptions {
  url: string;
  method?: string;
  headers: Record<string, string>;
  encoding?: Encoding;
  redirect: boolean;
}

/**
 * Checks `options` as Phoenix's functions do, and returns a copy (Phoenix's
 * `head`, `options`, `post`... wrote `method` into the caller's table).
 */
export function checkConnectOptions(fn: string, options: unknown): CheckedOptions {
  expectArg(fn, 1, options, 'string', 'table');
  if (typeof options === 'string') return { url: options, headers: {}, redirect: true };
  const o = options as ConnectOptionTable;
  expectField(o, 'url', 'string');
  expectField(o, 'method', 'string', 'nil');
  expectField(o, 'headers', 'table', 'nil');
  expectField(o, 'encoding', 'string', 'nil');
  expectField(o, 'redirect', 'boolean', 'nil');
  if (o.encoding != null && o.encoding !== 'binary' && o.encoding !== 'text') {
    throw new Error(`bad field 'encoding' (invalid option '${o.encoding}')`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`bad field 'headers' (expected string values, got ${luaType(v)} for '${k}')`);
    headers[k] = String(v);
  }
  const out: CheckedOptions = { url: o.url, headers, redirect: o.redirect ?? true };
  if (o.method != null) out.method = o.method;
  if (o.encoding != null) out.encoding = o.encoding;
  return out;
}

/** Phoenix's `^https?://` test for the HTTP helpers (case-insensitive here, as schemes are). */
export function requireHttpScheme(url: string): void {
  if (!/^https?:\/\//i.test(url)) throw new Error('Invalid scheme');
}
