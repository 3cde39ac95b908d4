/**
 * Header fields as an ordered list of [name, value] pairs, names in the case
 * they were given or received. Lookups are case-insensitive.
 */
export type HeaderInit = Headers | Iterable<readonly [string, string]> | Record<string, string | number | readonly string[] | undefined>;

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text, space and tab; never CR, LF or NUL.
const VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

export function isFieldValue(s: string): boolean {
  return VALUE_RE.test(s);
}

export class Headers implements Iterable<[string, string]> {
  /** The fields in order, names as given. */
  readonly raw: Array<[string, string]> = [];

  constructor(init?: HeaderInit) {
    if (init === undefined) return;
    if (init instanceof Headers) {
      for (const [n, v] of init.raw) this.raw.push([n, v]);
    } else if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const pair of init as Iterable<readonly [string, string]>) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError('headers: each entry must be a [name, value] pair');
        this.append(pair[0], pair[1]);
      }
    } else if (typeof init === 'object' && init !== null) {
      for (const [n, v] of Object.entries(init)) {
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const one of v) this.append(n, one);
        else this.append(n, String(v));
      }
    } else {
      throw new TypeError('headers: expected an object, an array of pairs or a Headers');
    }
  }

  /** Adds a field, checking that name and value are well formed (bad API input throws). */
  append(name: string, value: string | number): this {
    const v = String(value);
    if (typeof name !== 'string' || !isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (!isFieldValue(v)) throw new TypeError(`invalid value for header ${name}: ${JSON.stringify(v)}`);
    this.raw.push([name, v.trim()]);
    return this;
  }

  /** Appends without validation (for fields parsed off the wire, already checked). */
  appendUnchecked(name: string, value: string): void {
    this.raw.push([name, value]);
  }

  /** Replaces every field of this name by one (keeping the position of the first, and its case if `name` is lowercase). */
  set(name: string, value: string | number): this {
    const lower = name.toLowerCase();
    const i = this.raw.findIndex(([n]) => n.toLowerCase() === lower);
    if (i < 0) return this.append(name, value);
    const probe = new Headers().append(name, value).raw[0];
    this.raw[i] = probe;
    for (let j = this.raw.length - 1; j > i; j--) if (this.raw[j][0].toLowerCase() === lower) this.raw.splice(j, 1);
    return this;
  }

  delete(name: string): boolean {
    const lower = name.toLowerCase();
    const before = this.raw.length;
    for (let j = this.raw.length - 1; j >= 0; j--) if (this.raw[j][0].toLowerCase() === lower) this.raw.splice(j, 1);
    return this.raw.length !== before;
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.raw.some(([n]) => n.toLowerCase() === lower);
  }

  /** Every value of this field, in order. */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (const [n, v] of this.raw) if (n.toLowerCase() === lower) out.push(v);
    return out;
  }

  /** The values of this field joined with ", ", or undefined when absent. */
  get(name: string): string | undefined {
    const all = this.getAll(name);
    return all.length ? all.join(', ') : undefined;
  }

  /** The comma-separated list elements of a field, lowercased and trimmed (e.g. Connection, Transfer-Encoding). */
  tokens(name: string): string[] {
    const out: string[] = [];
    for (const v of this.getAll(name)) for (const t of v.split(',')) {
      const s = t.trim().toLowerCase();
      if (s) out.push(s);
    }
    return out;
  }

  /** Lowercased names to values joined with ", " (set-cookie joined too; use getAll for it). */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, v] of this.raw) {
      const k = n.toLowerCase();
      out[k] = k in out ? `${out[k]}, ${v}` : v;
    }
    return out;
  }

  get size(): number {
    return this.raw.length;
  }

  [Symbol.iterator](): Iterator<[string, string]> {
    return this.raw[Symbol.iterator]();
  }
}
