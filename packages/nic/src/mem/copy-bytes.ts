/**
 * Copying a range of bytes between two typed arrays without making an object per copy.
 *
 * `dst.set(src.subarray(from, from + n), at)` makes a view object for each copy (Node 20's
 * Buffer#copy makes the same one inside), garbage per frame on the data path: about 80 bytes for
 * every copy of a segment's payload. Node's own buffer binding has `copy(source, target,
 * targetStart, sourceStart, sourceEnd)`, a memmove between the two views as they are: nothing
 * is made. It also checks its arguments
 * (throws, clamps); every one is checked here first anyway, so a copy is exactly `n` bytes or a
 * RangeError. (The binding's `copyArrayBuffer` takes ArrayBuffers and absolute offsets instead,
 * but reading `buffer` and `byteOffset` of both views cost more than the view did, measured.)
 *
 * Where the binding is missing (not Node, a Node without it) or asking for it would warn
 * (`--pending-deprecation`: process.binding is deprecated), the view is made as before.
 */

type BindingCopy = (source: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

interface NodeProcess {
  binding?(name: string): { copy?: unknown };
  execArgv?: string[];
  env?: Record<string, string | undefined>;
}

/** Up to this many bytes a loop is cheaper than a call into the binding (or a view). */
const LOOP_COPY_MAX = 64;

function findCopy(): BindingCopy | null {
  const p = (globalThis as { process?: NodeProcess }).process;
  if (p === undefined || typeof p.binding !== 'function') return null;
  const pending = (s: string | undefined): boolean => s !== undefined && s.includes('--pending-deprecation');
  if ((p.execArgv ?? []).some(pending) || pending(p.env?.NODE_OPTIONS) || p.env?.NODE_PENDING_DEPRECATION === '1') return null;
  if (p.env?.PNET_NO_NATIVE_COPY === '1') return null;
  let f: unknown;
  try {
    f = p.binding('buffer').copy;
  } catch {
    return null;
  }
  if (typeof f !== 'function') return null;
  // Check the argument order and the result on a few bytes.
  const copy = f as BindingCopy;
  const a = new Uint8Array(8);
  const b = new Uint8Array(8);
  for (let i = 0; i < 8; i++) b[i] = i + 1;
  try {
    if (copy(b, a, 1, 2, 5) !== 3) return null;
  } catch {
    return null;
  }
  return a[0] === 0 && a[1] === 3 && a[2] === 4 && a[3] === 5 && a[4] === 0 ? copy : null;
}

const native = findCopy();

/** Whether `copyBytes` copies without a view (Node's binding was found); the rest of the time it makes one. */
export const copyBytesWithoutView = native !== null;

/** A non-negative integer below 2^32. */
function isOffset(x: number): boolean {
  return x >>> 0 === x;
}

/**
 * dst[at, at + n) = src[from, from + n). Overlapping ranges are moved correctly when `src` and
 * `dst` are the same array (two views of one buffer must not overlap). Throws a RangeError when
 * a range does not lie within its array.
 */
export function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, at: number, n: number): void {
  if (!(isOffset(from) && isOffset(at) && isOffset(n) && n <= src.length - from && n <= dst.length - at)) {
    throw new RangeError(`copyBytes: [${from}, +${n}) of ${src.length} bytes to [${at}, +${n}) of ${dst.length}`);
  }
  if (n <= LOOP_COPY_MAX && src !== dst) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
  } else if (native !== null) {
    native(src, dst, at, from, from + n);
  } else {
    dst.set(src.subarray(from, from + n), at);
  }
}
