/**
 * Phoenix's `expect` library, in TypeScript: argument and field checks that
 * throw Phoenix's exact texts, with Lua's type names (nil, number, string,
 * table, boolean, function).
 */

export type LuaType = 'nil' | 'number' | 'string' | 'table' | 'boolean' | 'function' | 'userdata';

/**
 * A type a check accepts. `bytes` is our addition for data arguments: a
 * string or a Uint8Array, shown to the user as `string` (the Lua type it
 * stands for).
 */
export type ExpectedType = LuaType | 'bytes';

/** The Lua type name of a JavaScript value. */
export function luaType(value: unknown): LuaType {
  if (value === undefined || value === null) return 'nil';
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return 'number';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'function':
      return 'function';
    case 'object':
      return 'table';
    default:
      return 'userdata';
  }
}

function matches(value: unknown, type: ExpectedType): boolean {
  if (type === 'bytes') return typeof value === 'string' || value instanceof Uint8Array;
  if (type === 'table') return typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
  return luaType(value) === type;
}

/** `a`, `a or b`, `a, b, or c`: how Phoenix lists expected types. */
export function listTypes(types: readonly ExpectedType[]): string {
  const names = types.map((t) => (t === 'bytes' ? 'string' : t));
  if (names.length === 1) return names[0];
  if (names.length === 2) return `${names[0]} or ${names[1]}`;
  return `${names.slice(0, -1).join(', ')}, or ${names[names.length - 1]}`;
}

/** Shown for a value of a type not expected: Uint8Array is a Lua string in disguise only where `bytes` is allowed. */
function gotType(value: unknown): string {
  return value instanceof Uint8Array ? 'userdata' : luaType(value);
}

/** `expect(index, value, ...types)`: throws `bad argument #1 to 'get' (expected string or table, got number)`. */
export function expectArg<T = unknown>(fn: string, index: number, value: unknown, ...types: ExpectedType[]): T {
  for (const t of types) if (matches(value, t)) return value as T;
  throw new Error(`bad argument #${index} to '${fn}' (expected ${listTypes(types)}, got ${gotType(value)})`);
}

/** `expect.field(tbl, key, ...types)`: throws `bad field "url" (expected string, got nil)`. */
export function expectField<T = unknown>(table: object, key: string, ...types: ExpectedType[]): T {
  const value = (table as Record<string, unknown>)[key];
  for (const t of types) if (matches(value, t)) return value as T;
  throw new Error(`bad field ${JSON.stringify(key)} (expected ${listTypes(types)}, got ${gotType(value)})`);
}

/** How Lua's `%s` prints a number (math.huge is `inf`). */
export function luaNumber(n: number): string {
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (Number.isNaN(n)) return 'nan';
  return String(n);
}

/** `expect.range(num, min, max)`: `number outside of range (expected 0 to be within 1 and inf)`. */
export function expectRange(num: number, min = -Infinity, max = Infinity): number {
  if (Number.isNaN(num) || num < min || num > max) {
    throw new Error(`number outside of range (expected ${luaNumber(num)} to be within ${luaNumber(min)} and ${luaNumber(max)})`);
  }
  return num;
}

/** An error whose text is exactly Phoenix's (no prefixes, no codes). */
export function luaError(message: string): Error {
  return new Error(message);
}
