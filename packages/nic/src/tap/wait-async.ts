/** Atomics.waitAsync (Node 16+; not in the ES2022 lib typings this workspace compiles against). */
export type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

const atomics = Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeout?: number): WaitAsyncResult };

export function waitAsync(array: Int32Array, index: number, value: number): WaitAsyncResult {
  return atomics.waitAsync(array, index, value);
}
