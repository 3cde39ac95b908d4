import test from 'ava';
import fc from 'fast-check';
import { finishChecksum, internetChecksum, pseudoHeaderSum, sumWords } from '../src/wire/checksum';

/** RFC 1071 done the plain way: 16-bit big-endian words, end-around carry after every add. */
function reference(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  for (let i = 0; i < length; i += 2) {
    const hi = buf[offset + i];
    const lo = i + 1 < length ? buf[offset + i + 1] : 0;
    sum += (hi << 8) | lo;
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

/** A buffer of `bytes` placed at `shift` bytes into a larger ArrayBuffer, so its start is unaligned at will. */
function placed(bytes: Uint8Array, shift: number, shared = false): Uint8Array {
  const backing = shared ? new SharedArrayBuffer(bytes.length + shift + 5) : new ArrayBuffer(bytes.length + shift + 5);
  const b = new Uint8Array(backing, shift, bytes.length);
  b.set(bytes);
  return b;
}

test('sumWords agrees with the plain RFC 1071 sum for any length, offset and alignment', (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 3000 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })), fc.nat(7), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0x3fffd }), fc.boolean(),
    (bytes, shift, a, b, initial, shared) => {
      const buf = placed(bytes, shift, shared);
      const offset = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const length = (bytes.length - offset) === 0 ? 0 : b % (bytes.length - offset + 1);
      return finishChecksum(sumWords(buf, offset, length, initial)) === reference(buf, offset, length, initial);
    }), { numRuns: 2000 });
  t.pass();
});

test('finishChecksum folds any unfolded sum up to 2^53 exactly (mod 0xffff, zero only for zero)', (t) => {
  const expected = (x: bigint): number => {
    if (x === 0n) return 0xffff;
    const r = x % 0xffffn;
    return ~(r === 0n ? 0xffff : Number(r)) & 0xffff;
  };
  const edges = [0, 1, 0xfffe, 0xffff, 0x10000, 0x1fffe, 0xffffffff, 0x100000000, 0xfffeffff0001, 2 ** 53 - 1, 2 ** 52, 0xffff * 2 ** 32];
  for (const x of edges) t.is(finishChecksum(x), expected(BigInt(x)), `${x}`);
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), (x) => finishChecksum(Number(x)) === expected(x)), { numRuns: 5000 });
});

test('sumWords: sums that fold to 0xffff and to 0 keep their distinction', (t) => {
  for (const length of [1, 2, 63, 64, 65, 130, 1500, 9001]) {
    for (const shift of [0, 1, 2, 3]) {
      const zeros = placed(new Uint8Array(length), shift);
      t.is(finishChecksum(sumWords(zeros, 0, length)), 0xffff, `zeros ${length}@${shift}`);
      t.is(finishChecksum(sumWords(zeros, 0, length)), reference(zeros, 0, length));
      const ones = placed(new Uint8Array(length).fill(0xff), shift);
      t.is(finishChecksum(sumWords(ones, 0, length)), reference(ones, 0, length), `0xff ${length}@${shift}`);
    }
  }
});

test('sumWords: Node Buffers, a pseudo-header and a checksum that verifies to zero', (t) => {
  const data = Buffer.alloc(1481);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  const ph = pseudoHeaderSum(0x0a000001, 0x0a000002, 6, data.length);
  t.is(finishChecksum(sumWords(data, 0, data.length, ph)), reference(data, 0, data.length, ph));
  // Store the checksum in the data (bytes 16-17, a TCP header's place) and verify it sums to zero.
  data[16] = 0; data[17] = 0;
  const c = finishChecksum(sumWords(data, 0, data.length, ph));
  data[16] = c >>> 8; data[17] = c & 0xff;
  t.is(finishChecksum(sumWords(data, 0, data.length, ph)), 0);
  data[700] ^= 0x10;
  t.not(finishChecksum(sumWords(data, 0, data.length, ph)), 0, 'a flipped bit is caught');
  t.is(internetChecksum(data, 3, 1000), reference(data, 3, 1000));
});

test('sumWords stays exact where an unfolded sum of 32-bit words would not (16 MiB)', (t) => {
  const n = (16 << 20) + 3;
  const buf = placed(new Uint8Array(n), 1);
  let x = 1;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; buf[i] = 0x80 | (x >>> 24); }
  t.is(finishChecksum(sumWords(buf, 1, n - 1)), reference(buf, 1, n - 1));
});
