import type { RequestHandler, ServerRequest, ServerResponse } from './server';
import { STATUS_TEXT } from './server';
import { collect } from '../common/io';

/**
 * httpbin-like routes for the embedded world's example.test:
 * `/get`, `/headers`, `/status/{code}`, `/redirect/{n}`, `/bytes/{n}`,
 * `/stream/{n}` (chunked, one JSON object per line), `/post`, `/put`,
 * `/delete`, `/patch` and `/anything[/...]` (echo method, headers and body as JSON).
 */
export interface HttpbinOptions {
  /** Largest request body read (bigger ones get 413). Default 1 MiB. */
  maxBodySize?: number;
  /** Largest `/bytes/{n}`. Default 100 KiB (as httpbin). */
  maxBytes?: number;
  /** Largest `/stream/{n}`. Default 100. */
  maxStream?: number;
  /** The scheme to show in echoed URLs (a TLS listener passes 'https'). Default 'http'. */
  scheme?: 'http' | 'https';
}

export function httpbin(options: HttpbinOptions = {}): RequestHandler {
  const maxBody = options.maxBodySize ?? 1024 * 1024;
  const maxBytes = options.maxBytes ?? 100 * 1024;
  const maxStream = options.maxStream ?? 100;
  const scheme = options.scheme ?? 'http';

  return async (req, res) => {
    const path = req.url.pathname;
    const method = req.method.toUpperCase();
    let m: RegExpExecArray | null;
    const fullUrl = `${scheme}://${req.headers.get('host') ?? req.url.host}${req.target.startsWith('/') ? req.target : req.url.pathname + req.url.search}`;
    const base = () => ({ args: args(req), headers: headerObject(req), origin: req.remoteAddress ?? '', url: fullUrl });

    if (path === '/' || path === '') {
      return text(res, 200, 'pnet httpbin: /get /headers /status/{code} /redirect/{n} /bytes/{n} /stream/{n} /post /put /delete /patch /anything\n');
    }
    if (path === '/get') {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
      return json(res, 200, base());
    }
    if (path === '/headers') return json(res, 200, { headers: headerObject(req) });
    if (path === '/post' || path === '/put' || path === '/delete' || path === '/patch') {
      const want = path.slice(1).toUpperCase();
      if (method !== want) return methodNotAllowed(res, want);
      const body = await readBody(req, res, maxBody);
      if (!body) return;
      return json(res, 200, { ...base(), ...describeBody(req, body) });
    }
    if (path === '/anything' || path.startsWith('/anything/')) {
      const body = await readBody(req, res, maxBody);
      if (!body) return;
      return json(res, 200, { method: req.method, ...base(), ...describeBody(req, body) });
    }
    if ((m = /^\/status\/(\d{3})$/.exec(path))) {
      const code = Number(m[1]);
      if (code < 100 || code > 599) return text(res, 400, 'invalid status code\n');
      if (code < 200) {
        // An interim status cannot be a final answer; report what was asked instead.
        return text(res, 400, 'interim (1xx) status codes cannot be returned\n');
      }
      if ([301, 302, 303, 305, 307, 308].includes(code)) res.setHeader('Location', '/redirect/1');
      res.statusCode = code;
      if (code === 401) res.setHeader('WWW-Authenticate', 'Basic realm="Fake Realm"');
      return void res.end();
    }
    if ((m = /^\/(?:relative-)?redirect\/(\d{1,4})$/.exec(path))) {
      const n = Number(m[1]);
      if (n < 1) return text(res, 400, 'n must be at least 1\n');
      res.statusCode = 302;
      res.setHeader('Location', n === 1 ? '/get' : `/redirect/${n - 1}`);
      return void res.end();
    }
    if ((m = /^\/bytes\/(\d{1,9})$/.exec(path))) {
      const n = Math.min(Number(m[1]), maxBytes);
      const seedParam = req.url.searchParams.get('seed');
      const seed = seedParam !== null && /^\d{1,10}$/.test(seedParam) ? Number(seedParam) : 0;
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/octet-stream');
      return void res.end(pseudoRandomBytes(n, seed));
    }
    if ((m = /^\/stream\/(\d{1,6})$/.exec(path))) {
      const n = Math.min(Number(m[1]), maxStream);
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json');
      for (let id = 0; id < n; id++) {
        if (!res.write(JSON.stringify({ id, ...base() }) + '\n')) await new Promise<void>((r) => res.once('drain', r));
      }
      return void res.end();
    }
    return text(res, 404, `${STATUS_TEXT[404]}\n`);
  };
}

function args(req: ServerRequest): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of req.url.searchParams) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Header fields as received (names in their case; repeated fields joined with ","). */
function headerObject(req: ServerRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, v] of req.headers) {
    const existing = Object.keys(out).find((k) => k.toLowerCase() === n.toLowerCase());
    if (existing) out[existing] += `,${v}`;
    else out[n] = v;
  }
  return out;
}

async function readBody(req: ServerRequest, res: ServerResponse, limit: number): Promise<Buffer | null> {
  try {
    return await collect(req.body, limit);
  } catch (err) {
    if ((err as { code?: string }).code === 'HTTP_BODY_TOO_LARGE') {
      res.shouldClose = true;
      text(res, 413, `request body exceeds ${limit} bytes\n`);
    } else {
      res.destroy();
    }
    return null;
  }
}

function describeBody(req: ServerRequest, body: Buffer): { data: string; json: unknown; form: Record<string, string | string[]>; files: Record<string, never> } {
  let data: string;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  try {
    data = utf8.decode(body);
  } catch {
    data = `data:application/octet-stream;base64,${body.toString('base64')}`;
  }
  let json: unknown = null;
  const type = (req.headers.get('content-type') ?? '').toLowerCase();
  const form: Record<string, string | string[]> = {};
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(data)) {
      const prev = form[k];
      form[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  } else {
    try {
      json = data.length ? JSON.parse(data) : null;
    } catch {
      json = null;
    }
  }
  return { data, json, form, files: {} };
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(value, null, 2) + '\n');
}

function text(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(body);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  text(res, 405, `${STATUS_TEXT[405]}\n`);
}

/** Deterministic bytes (xorshift32 from a seed), so tests can check them. */
export function pseudoRandomBytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
