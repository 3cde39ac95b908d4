/**
 * Robustness: random and mutated segments, interleaved with user calls and time, against
 * listeners and connections in every state. The layer must never throw, never count an
 * internal error, and keep its sequence-space invariants.
 */
import test from 'ava';
import fc from 'fast-check';
import { TcpScript, SegSpec } from './tcp-harness';
import { seqLe } from '../src/tcp/seq';
import type { TcpConnection } from '../src/tcp/connection';

const flagsArb = fc.constantFrom('S', 'S.', '.', 'P.', 'F.', 'FP.', 'R', 'R.', 'SF', 'SR', 'FR.', 'SFR.', 'U.', '');
const segArb: fc.Arbitrary<SegSpec> = fc.record({
  flags: flagsArb,
  seq: fc.oneof(fc.integer({ min: -3000, max: 70_000 }), fc.integer({ min: 0, max: 0xffffffff })),
  ack: fc.oneof(fc.integer({ min: -3000, max: 70_000 }), fc.integer({ min: 0, max: 0xffffffff })),
  win: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65535 })),
  data: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }),
  mss: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  wscale: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
  ts: fc.option(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), { nil: undefined }),
}).map((r) => ({ ...r, seq: r.seq >>> 0, ack: r.ack >>> 0 }));

type Step =
  | { kind: 'seg'; seg: SegSpec }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'time'; ms: number }
  | { kind: 'write'; n: number }
  | { kind: 'read' }
  | { kind: 'shutdown' }
  | { kind: 'close' }
  | { kind: 'abort' }
  | { kind: 'icmp'; type: number; code: number; mtu: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: segArb.map((seg) => ({ kind: 'seg' as const, seg })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 130_000 }).map((ms) => ({ kind: 'time' as const, ms })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 100_000 }).map((n) => ({ kind: 'write' as const, n })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'read' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'shutdown' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom(3, 11, 12), code: fc.integer({ min: 0, max: 15 }), mtu: fc.integer({ min: 0, max: 1500 }) })
    .map((r) => ({ kind: 'icmp' as const, ...r })) },
);

function invariants(c: TcpConnection): string | null {
  if (c.state === 'CLOSED') return null;
  if (!seqLe(c.sndUna, c.sndNxt)) return 'sndUna > sndNxt';
  if (!seqLe(c.sndNxt, c.sndMax)) return 'sndNxt > sndMax';
  if (c.receiveBuffer.length > c.receiveBuffer.maxCapacity) return 'receive buffer overflow';
  if (c.sendBuffer.length > c.sendBuffer.maxCapacity) return 'send buffer overflow';
  if (c.cwnd <= 0 && c.isSynchronized()) return 'cwnd <= 0';
  return null;
}

test('random segments, user calls and time never break the layer', (t) => {
  fc.assert(fc.property(fc.boolean(), fc.boolean(), fc.array(stepArb, { minLength: 1, maxLength: 60 }), (active, ts, steps) => {
    const s = new TcpScript({ timestamps: ts, windowScaling: ts, receiveBufferSize: 20_000, sendBufferSize: 50_000 });
    let c: TcpConnection;
    if (active) c = s.connectOne();
    else c = s.acceptOne({ ts, wscale: ts ? 2 : undefined });
    const all = new Set<TcpConnection>([c]);
    for (const st of steps) {
      switch (st.kind) {
        case 'seg': s.inject(st.seg); break;
        case 'bytes': s.injectBytes(Uint8Array.from(st.bytes)); break;
        case 'time': s.advance(st.ms); break;
        case 'write': c.write(new Uint8Array(st.n)); break;
        case 'read': c.readBuffer(); break;
        case 'shutdown': c.shutdown(); break;
        case 'close': c.close(); break;
        case 'abort': c.abort(); break;
        case 'icmp': {
          const q = new Uint8Array(8);
          q.set([c.localPort >> 8, c.localPort & 255, c.remotePort >> 8, c.remotePort & 255]);
          new DataView(q.buffer).setUint32(4, c.sndUna);
          s.tcp.receiveIcmpError({ type: st.type, code: st.code, mtu: st.mtu, src: s.local, dst: s.peer, quote: q, quoteOffset: 0, quoteLength: 8 });
          break;
        }
      }
      for (const x of s.tcp.connections()) all.add(x);
      for (const x of all) {
        const bad = invariants(x);
        if (bad) throw new Error(`${bad} in ${x.state}`);
      }
      s.clear();
    }
    if ((s.tcp.stats.errors['internal-error'] ?? 0) !== 0) throw new Error('internal error counted');
    // Eventually everything goes away: run far into the future.
    c.abort();
    s.advance(10_000_000);
    for (const x of s.tcp.connections()) {
      if (x.state !== 'CLOSED' && x.state !== 'TIME-WAIT' && x.state !== 'SYN-RECEIVED') throw new Error(`left in ${x.state}`);
    }
    return true;
  }), { numRuns: Number(process.env.TCP_FUZZ_RUNS ?? 200) });
  t.pass();
});
