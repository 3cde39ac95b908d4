/**
 * Copying a range of bytes between two typed arrays without making an object per copy.
 *
 * `dst.set(src.subarray(from, from + n), at)` makes a view object for each copy (Node 20's
 * Buffer#copy makes the same one inside), garbage per frame on the data path: about 80 bytes for
 * every copy of a segment's payload. Node's own buffer binding has `copyArrayBuffer(dst, dstOffset,
 * src, srcOffset, n)` (what its web streams copy with), a memcpy between two ArrayBuffers given
 * by absolute offsets: the views every caller already holds give those offsets, so nothing is made.
 * The binding checks its arguments only by assertion (a wrong one aborts the process, a range past
 * the end is not checked at all), so every argument is checked here first.
 *
 * Where the binding is missing (not Node, a Node without it) or asking for it would warn
 * (`--pending-deprecation`: process.binding is deprecated), the view is made as before.
 */

type CopyArrayBuffer = (dst: ArrayBufferLike, dstOffset: number, src: ArrayBufferLike, srcOffset: number, n: number) => void;

interface NodeProcess {
  binding?(name: string): { copyArrayBuffer?: unknown };
  execArgv?: string[];
  env?: Record<string, string | undefined>;
}

/** Up to this many bytes a loop is cheaper than a call into the binding (or a view). */
const LOOP_COPY_MAX = 64;

function findCopyArrayBuffer(): CopyArrayBuffer | null {
  const p = (globalThis as { process?: NodeProcess }).process;
  if (p === undefined || typeof p.binding !== 'function') return null;
  const pending = (s: string | undefined): boolean => s !== undefined && s.includes('--pending-deprecation');
  if ((p.execArgv ?? []).some(pending) || pending(p.env?.NODE_OPTIONS) || p.env?.NODE_PENDING_DEPRECATION === '1') return null;
  if (p.env?.PNET_NO_NATIVE_COPY === '1') return null;
  let f: unknown;
  try {
    f = p.binding('buffer').copyArrayBuffer;
  } catch {
    return null;
  }
  if (typeof f !== 'function') return null;
  // Check the argument order on a few bytes (well-typed arguments: nothing here can abort).
  const copy = f as CopyArrayBuffer;
  const a = new Uint8Array(new ArrayBuffer(8));
  const b = new Uint8Array(new ArrayBuffer(8));
  for (let i = 0; i < 8; i++) b[i] = i + 1;
  try {
    copy(a.buffer, 1, b.buffer, 2, 3);
  } catch {
    return null;
  }
  return a[0] === 0 && a[1] === 3 && a[2] === 4 && a[3] === 5 && a[4] === 0 ? copy : null;
}

const native = findCopyArrayBuffer();

/** Whether `copyBytes` copies without a view (Node's binding was found); the rest of the time it makes one. */
export const copyBytesWithoutView = native !== null;

/** A non-negative integer below 2^32 (what the binding asserts its offsets are). */
function isOffset(x: number): boolean {
  return x >>> 0 === x;
}

/**
 * dst[at, at + n) = src[from, from + n): the two ranges must not overlap. Throws a RangeError when
 * a range does not lie within its array.
 */
export function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, at: number, n: number): void {
  if (!(isOffset(from) && isOffset(at) && isOffset(n) && n <= src.length - from && n <= dst.length - at)) {
    throw new RangeError(`copyBytes: [${from}, +${n}) of ${src.length} bytes to [${at}, +${n}) of ${dst.length}`);
  }
  if (n <= LOOP_COPY_MAX) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
    return;
  }
  const sb = src.buffer;
  const db = dst.buffer;
  // One buffer (a caller's mistake, or two views of one wasm memory): `set` is safe either way.
  if (native !== null && sb !== db) native(db, dst.byteOffset + at, sb, src.byteOffset + from, n);
  else dst.set(src.subarray(from, from + n), at);
}
