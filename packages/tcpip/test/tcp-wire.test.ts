import test from 'ava';
import fc from 'fast-check';
import {
  TCP_ACK, TCP_SYN, TcpOptionSet, TcpSegmentView, formatTcpFlags, parseTcp, parseTcpOptions, tcpChecksum,
  tcpOptionsLength, writeTcpChecksum, writeTcpHeader, writeTcpOptions,
} from '../src/wire/tcp';
import { parseIpv4 } from '../src/wire/ipv4-address';

const SRC = parseIpv4('192.0.2.1');
const DST = parseIpv4('198.51.100.7');

const optionsArb = fc.record({
  mss: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  wscale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
  sackPermitted: fc.boolean(),
  ts: fc.option(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), { nil: undefined }),
  sack: fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), { maxLength: 4 }),
}).filter((o) => {
  // What fits in 40 bytes: with timestamps at most 3 SACK blocks (and no room for more with MSS+WS: 2... computed below).
  const set = toSet(o);
  return tcpOptionsLength(set) <= 40;
});

function toSet(o: { mss?: number; wscale?: number; sackPermitted: boolean; ts?: [number, number]; sack: [number, number][] }): TcpOptionSet {
  const s = new TcpOptionSet();
  if (o.mss !== undefined) s.mss = o.mss;
  if (o.wscale !== undefined) s.wscale = o.wscale;
  s.sackPermitted = o.sackPermitted;
  if (o.ts) { s.hasTimestamp = true; s.tsVal = o.ts[0]; s.tsEcr = o.ts[1]; }
  s.sackCount = o.sack.length;
  o.sack.forEach(([l, r], i) => { s.sackBlocks[2 * i] = l; s.sackBlocks[2 * i + 1] = r; });
  return s;
}

test('header + options + payload round-trip (fast-check)', (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }),
    fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 65535 }), optionsArb,
    fc.uint8Array({ maxLength: 64 }),
    (srcPort, dstPort, seq, ack, flags, window, opts, payload) => {
      const set = toSet(opts);
      const optLen = tcpOptionsLength(set);
      t.is(optLen % 4, 0);
      const len = 20 + optLen + payload.length;
      const buf = new Uint8Array(len + 3);
      writeTcpHeader(buf, 3, { srcPort, dstPort, seq, ack, flags, window }, optLen);
      t.is(writeTcpOptions(buf, 23, set), optLen);
      buf.set(payload, 23 + optLen);
      writeTcpChecksum(buf, 3, len, SRC, DST);
      t.is(tcpChecksum(buf, 3, len, SRC, DST), 0);
      const v = new TcpSegmentView();
      t.is(parseTcp(buf, 3, len, v), null);
      t.like(v, { srcPort, dstPort, seq, ack, flags, window, headerLength: 20 + optLen, payloadOffset: 23 + optLen, payloadLength: payload.length });
      t.is(v.mss, opts.mss ?? -1);
      t.is(v.wscale, opts.wscale ?? -1);
      t.is(v.sackPermitted, opts.sackPermitted);
      t.is(v.hasTimestamp, !!opts.ts);
      if (opts.ts) t.deepEqual([v.tsVal >>> 0, v.tsEcr >>> 0], opts.ts);
      t.is(v.sackCount, opts.sack.length);
      for (let i = 0; i < opts.sack.length; i++) t.deepEqual([v.sackBlocks[2 * i], v.sackBlocks[2 * i + 1]], opts.sack[i]);
    }), { numRuns: 300 });
});

test('parse never throws on arbitrary bytes, and rejects what it must', (t) => {
  const v = new TcpSegmentView();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(8), (bytes, off) => {
    const o = Math.min(off, bytes.length);
    const r = parseTcp(bytes, o, bytes.length - o, v);
    if (bytes.length - o < 20) t.is(r, 'truncated');
    else if (r === null) {
      t.true(v.headerLength >= 20 && v.headerLength <= bytes.length - o);
      t.is(v.payloadOffset + v.payloadLength, bytes.length);
    }
  }), { numRuns: 2000 });
  // Lengths that lie about the buffer.
  t.is(parseTcp(new Uint8Array(10), 0, 40, v), 'truncated');
  t.is(parseTcp(new Uint8Array(40), 30, 20, v), 'truncated');
});

test('data offset below 5 or past the segment is malformed', (t) => {
  const v = new TcpSegmentView();
  const b = new Uint8Array(20);
  b[12] = 4 << 4;
  t.is(parseTcp(b, 0, 20, v), 'bad-data-offset');
  b[12] = 6 << 4;
  t.is(parseTcp(b, 0, 20, v), 'bad-data-offset');
});

test('options: running past the header is malformed; wrong lengths of known kinds are ignored; EOL stops', (t) => {
  const o = new TcpOptionSet();
  t.is(parseTcpOptions(Uint8Array.from([2, 4, 5]), 0, 3, o.clear()), 'bad-option');
  t.is(parseTcpOptions(Uint8Array.from([2]), 0, 1, o.clear()), 'bad-option');
  t.is(parseTcpOptions(Uint8Array.from([99, 1, 0, 0]), 0, 4, o.clear()), 'bad-option', 'length < 2');
  t.is(parseTcpOptions(Uint8Array.from([2, 3, 5, 1]), 0, 4, o.clear()), null);
  t.is(o.mss, -1, 'MSS with length 3 ignored');
  t.is(parseTcpOptions(Uint8Array.from([0, 2, 4, 5, 180]), 0, 5, o.clear()), null);
  t.is(o.mss, -1, 'after EOL nothing is read');
  t.is(parseTcpOptions(Uint8Array.from([1, 1, 3, 3, 20, 0]), 0, 6, o.clear()), null);
  t.is(o.wscale, 14, 'shift counts above 14 are clamped (RFC 7323 2.3)');
  t.is(parseTcpOptions(Uint8Array.from([254, 4, 0xf9, 0x89, 4, 2]), 0, 6, o.clear()), null);
  t.true(o.sackPermitted, 'unknown experimental option skipped');
});

test('SYN option layout matches Linux (MSS, SACK-permitted, timestamps, NOP, window scale)', (t) => {
  const o = new TcpOptionSet();
  o.mss = 1460; o.sackPermitted = true; o.hasTimestamp = true; o.tsVal = 0x01020304; o.tsEcr = 0; o.wscale = 7;
  const b = new Uint8Array(40);
  const n = writeTcpOptions(b, 0, o);
  t.is(n, 20);
  t.deepEqual([...b.subarray(0, 20)], [2, 4, 5, 180, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]);
  o.sackCount = 4;
  t.throws(() => writeTcpOptions(b, 0, o), { instanceOf: RangeError });
});

test('timestamps-only options (the direct fast path): Linux layout, and a reused view keeps nothing of the segment before', (t) => {
  const o = new TcpOptionSet();
  o.hasTimestamp = true; o.tsVal = 0xfedcba98; o.tsEcr = 0x80000001;
  const buf = new Uint8Array(32);
  writeTcpHeader(buf, 0, { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_ACK, window: 5 }, 12);
  t.is(writeTcpOptions(buf, 20, o), 12);
  t.deepEqual([...buf.subarray(20, 32)], [1, 1, 8, 10, 0xfe, 0xdc, 0xba, 0x98, 0x80, 0, 0, 1]);
  const syn = new Uint8Array(60);
  const so = new TcpOptionSet();
  so.mss = 1460; so.sackPermitted = true; so.wscale = 7; so.sackCount = 1; so.sackBlocks[0] = 9; so.sackBlocks[1] = 10;
  writeTcpHeader(syn, 0, { srcPort: 1, dstPort: 2, seq: 3, ack: 0, flags: TCP_SYN, window: 5 }, tcpOptionsLength(so));
  writeTcpOptions(syn, 20, so);
  const v = new TcpSegmentView();
  t.is(parseTcp(syn, 0, 20 + tcpOptionsLength(so), v), null);
  t.like(v, { mss: 1460, wscale: 7, sackPermitted: true, sackCount: 1, hasTimestamp: false });
  t.is(parseTcp(buf, 0, 32, v), null);
  t.like(v, { mss: -1, wscale: -1, sackPermitted: false, sackCount: 0, hasTimestamp: true, tsVal: 0xfedcba98 | 0, tsEcr: 0x80000001 | 0, seq: 3, ack: 4 });
  // The same bytes behind a different kind (SACK-permitted + TS, as in a SYN) take the general walk.
  buf[20] = 4; buf[21] = 2;
  t.is(parseTcp(buf, 0, 32, v), null);
  t.like(v, { sackPermitted: true, hasTimestamp: true, tsVal: 0xfedcba98 | 0 });
});

test('flags format tcpdump style', (t) => {
  t.is(formatTcpFlags(TCP_SYN), 'S');
  t.is(formatTcpFlags(TCP_SYN | TCP_ACK), 'S.');
  t.is(formatTcpFlags(0x19), 'FP.');
  t.is(formatTcpFlags(0x04), 'R');
});
