import { luaType } from '../lua/lua-errors';

/** One argument of `read`: Lua's `*a`, `*l`, `*L`, `*n` (the `*` optional), or a byte count. */
export type ReadModeArg = string | number;

export type ReadMode =
  | { kind: 'a' }
  | { kind: 'l' }
  | { kind: 'L' }
  | { kind: 'n' }
  | { kind: 'count'; count: number };

/**
 * Parses one read mode, throwing Phoenix's texts:
 * `bad argument (expected string or number, got boolean)` and
 * `bad argument (invalid mode 'x')`. Unlike Phoenix, a byte count works
 * (Phoenix called `gsub` on the number first, so every numeric read threw).
 */
export function parseReadMode(mode: unknown): ReadMode {
  if (mode === undefined || mode === null) return { kind: 'l' };
  if (typeof mode === 'number') {
    if (!Number.isInteger(mode) || mode < 0) throw new Error(`bad argument (invalid mode '${mode}')`);
    return { kind: 'count', count: mode };
  }
  if (typeof mode !== 'string') throw new Error(`bad argument (expected string or number, got ${luaType(mode)})`);
  const m = mode.startsWith('*') ? mode.slice(1) : mode;
  if (m === 'a' || m === 'l' || m === 'L' || m === 'n') return { kind: m };
  throw new Error(`bad argument (invalid mode '${m}')`);
}

/** Parses the argument list of `read`: none means one `*l`. */
export function parseReadModes(modes: readonly unknown[]): ReadMode[] {
  return modes.length === 0 ? [{ kind: 'l' }] : modes.map(parseReadMode);
}

export type Encoding = 'binary' | 'text';

/** What one mode reads: bytes (as Buffer or string by encoding), a number for `*n`, `null` at end. */
export type ReadValue = Buffer | string | number | null;

/**
 * A result of `read(...modes)`: one mode gives its value, several give a
 * tuple (Lua's multiple returns).
 */
export type ReadResult = ReadValue | ReadValue[];

export function encodeValue(bytes: Buffer | null, encoding: Encoding): Buffer | string | null {
  if (bytes === null) return null;
  return encoding === 'text' ? bytes.toString('utf8') : bytes;
}

/** Lua's `io.read`: after the first mode that fails, the rest are nil too. */
export function collect(values: ReadValue[], modeCount: number): ReadResult {
  const out: ReadValue[] = [];
  let failed = false;
  for (let i = 0; i < modeCount; i++) {
    const v = failed ? null : values[i] ?? null;
    if (v === null) failed = true;
    out.push(v);
  }
  return modeCount === 1 ? out[0] : out;
}

/** Data given to `write`: Phoenix `tostring`s each argument. */
export function toBytes(data: unknown): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') return Buffer.from(String(data), 'utf8');
  throw new Error(`bad argument (expected string, got ${luaType(data)})`);
}
