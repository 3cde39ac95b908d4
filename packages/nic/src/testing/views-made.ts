/**
 * For tests of the data path's "no view per frame" rule: counts the views made through
 * `subarray` (Uint8Array's and Buffer's own) while `f` runs.
 */
export function viewsMadeBy(f: () => void): number {
  let views = 0;
  const u8 = Uint8Array.prototype.subarray;
  const buf = Buffer.prototype.subarray;
  Uint8Array.prototype.subarray = function (this: Uint8Array, ...a: [number?, number?]) { views++; return u8.apply(this, a); };
  Buffer.prototype.subarray = function (this: Buffer, ...a: [number?, number?]) { views++; return buf.apply(this, a); } as typeof buf;
  try { f(); } finally { Uint8Array.prototype.subarray = u8; Buffer.prototype.subarray = buf; }
  return views;
}
