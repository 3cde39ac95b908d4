import { expectArg } from '../lua/lua-errors';

/** What `parseURI` returns: Phoenix's table, with `undefined` for absent parts. */
export interface ParsedURI {
  scheme: string;
  user?: string;
  host?: string;
  port?: number;
  path?: string;
  query?: string;
  fragment?: string;
}

// Phoenix's character classes (Lua patterns), as tests on one character.
const ALNUM = /^[A-Za-z0-9]$/;
const UNRESERVED_SUBDELIMS = "-._~%!$&'()*+,;=";
const isHostChar = (c: string) => ALNUM.test(c) || UNRESERVED_SUBDELIMS.includes(c);
const isPathChar = (c: string) => isHostChar(c) || c === '@' || c === ':' || c === '/';
const isQueryChar = (c: string) => isPathChar(c) || c === '?';

type State = 'scheme' | 'host' | 'port' | 'path' | 'query' | 'fragment';

/**
 * Parses a URI into `{scheme, user?, host?, port?, path?, query?, fragment?}`
 * the way Phoenix's kernel does: one character at a time, `//` after the
 * scheme starts an authority, `user@` before the host, digits after `:` are
 * the port. Throws `Invalid URI` on any character out of place.
 *
 * Differences from Phoenix, on purpose: a URI must have a scheme followed by
 * `:` (Phoenix returned `{scheme = "example.com"}` for `example.com`), the
 * scheme is lower-cased (schemes are case-insensitive), `%` must start a
 * two-digit hex escape, a port above 65535 is invalid, and a query or
 * fragment may follow the authority directly (`http://host?q`).
 */
export function parseURI(uri: string): ParsedURI {
  expectArg('parseURI', 1, uri, 'string');
  const info: ParsedURI = { scheme: '' };
  let state: State = 'scheme';
  let host = '';
  let port = '';
  let path = '';
  let query = '';
  let fragment = '';
  let sawHost = false;
  let sawColon = false;
  const invalid = () => new Error('Invalid URI');

  for (let i = 0; i < uri.length; i++) {
    const c = uri[i];
    if (c === '%' && !/^[0-9A-Fa-f]{2}$/.test(uri.slice(i + 1, i + 3))) throw invalid();
    switch (state) {
      case 'scheme':
        if (c === ':') {
          if (info.scheme === '') throw invalid();
          sawColon = true;
          state = 'path';
        } else if (info.scheme === '' ? /^[A-Za-z]$/.test(c) : /^[A-Za-z0-9+\-.]$/.test(c)) info.scheme += c;
        else throw invalid();
        break;
      case 'host':
        if (c === '@' && info.user === undefined) {
          info.user = host;
          host = '';
        } else if (c === ':') state = 'port';
        else if (c === '?') state = 'query';
        else if (c === '#') state = 'fragment';
        else if (c === '/') {
          state = 'path';
          path = '/';
        } else if (isHostChar(c)) host += c;
        else throw invalid();
        break;
      case 'port':
        if (c >= '0' && c <= '9') port += c;
        else if (c === '?') state = 'query';
        else if (c === '#') state = 'fragment';
        else if (c === '/') {
          state = 'path';
          path = '/';
        } else throw invalid();
        break;
      case 'path':
        if (c === '/' && path === '/' && !sawHost) {
          // `scheme://`: what follows is an authority.
          sawHost = true;
          path = '';
          state = 'host';
        } else if (c === '?') state = 'query';
        else if (c === '#') state = 'fragment';
        else if (isPathChar(c)) path += c;
        else throw invalid();
        break;
      case 'query':
        if (c === '#') state = 'fragment';
        else if (isQueryChar(c)) query += c;
        else throw invalid();
        break;
      case 'fragment':
        if (isQueryChar(c)) fragment += c;
        else throw invalid();
        break;
    }
    // Track which parts exist, as Phoenix's table fields do (an empty query is still a query).
    if (state === 'query' && info.query === undefined) info.query = '';
    if (state === 'fragment' && info.fragment === undefined) info.fragment = '';
  }
  if (!sawColon) throw invalid();
  info.scheme = info.scheme.toLowerCase();
  if (sawHost) info.host = host;
  if (port !== '') {
    const n = Number(port);
    if (n > 65535) throw invalid();
    info.port = n;
  }
  // Phoenix keeps an empty path for `mailto:` style URIs that end at the colon; an authority with no path has none.
  if (path !== '' || (!sawHost && state !== 'scheme')) info.path = path;
  if (info.query !== undefined) info.query = query;
  if (info.fragment !== undefined) info.fragment = fragment;
  return info;
}

/** Whether `uri` parses (Phoenix left this a stub that returned nothing). */
export function checkURI(uri: string): boolean {
  expectArg('checkURI', 1, uri, 'string');
  try {
    parseURI(uri);
    return true;
  } catch {
    return false;
  }
}

/**
 * Phoenix's form encoding: `\n` becomes `\r\n`; `A-Z a-z 0-9`, space, `-`,
 * `_` and `.` stay; everything else becomes `%XX` of its UTF-8 bytes; then
 * spaces become `+`. (Phoenix strings are bytes and it encoded each byte
 * above 127 as the UTF-8 of that code point; for the characters U+0080 to
 * U+00FF that is exactly what we do, and we encode the rest of Unicode too.)
 */
export function urlEncode(str: string): string {
  expectArg('urlEncode', 1, str, 'string');
  const crlf = str.replace(/\n/g, '\r\n');
  let out = '';
  for (const ch of crlf) {
    if (/^[A-Za-z0-9 \-_.]$/.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out.replace(/ /g, '+');
}
