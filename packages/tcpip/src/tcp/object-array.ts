/**
 * An empty array for objects whose elements kind is already "objects". An empty `[]` starts as
 * small-integer elements until the allocation site that made it has learned better, which only
 * happens once the (cold) code creating it has run several times: the first few Stacks' hot
 * paths then met a different array map than the one they were optimised for, and deoptimised.
 */
export function objectArray<T>(): T[] {
  const a: T[] = [null as T];
  a.length = 0;
  return a;
}
