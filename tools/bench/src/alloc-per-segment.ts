/**
 * Where the bulk scenario allocates JS garbage, in bytes per data segment: V8's sampling heap
 * profiler with the objects the collector already freed (a transfer of `MiB` after a 32 MiB
 * warm-up), grouped by the allocating function and its two callers. Sampled: +-10 % run to run.
 * The two stacks are made before sampling starts (their rings are set-up, not per segment); the
 * receive pieces (byte-ring.ts `PIECE`, data handed to the application, which outlives the frame)
 * are counted apart from the rest. Segments: MiB / (MTU - 52) (IPv4 + TCP headers + timestamps).
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/alloc-per-segment.ts [mtu=1500] [MiB=16]
 */
import { Session } from 'node:inspector';
import { bulk, pnetSide } from './tcp';
const post = (s: Session, m: string, p: object = {}): Promise<any> => new Promise((res, rej) => s.post(m, p, (e, r) => (e ? rej(e) : res(r))));
async function main(): Promise<void> {
  const mtu = Number(process.argv[2] ?? 1500);
  const mib = Number(process.argv[3] ?? 16);
  const s0 = pnetSide(mtu); await bulk(s0, 32 * 2 ** 20); s0.close();
  const s = pnetSide(mtu);
  const ses = new Session(); ses.connect();
  await post(ses, 'HeapProfiler.enable');
  await post(ses, 'HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await bulk(s, mib * 2 ** 20);
  const { profile } = await post(ses, 'HeapProfiler.stopSampling');
  s.close();
  const self = new Map<string, number>();
  let pieces = 0;
  const walk = (n: any, stack: string[]): void => {
    const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    const st = [...stack, name];
    if (n.selfSize > 0) {
      // A new piece: Buffer.allocUnsafe under writePieces (the spare 4 KiB first pieces are not new).
      if (st.some((f) => f.startsWith('writePieces ')) && st.some((f) => f.startsWith('allocUnsafe '))) pieces += n.selfSize;
      else { const k = st.slice(-3).join(' < '); self.set(k, (self.get(k) ?? 0) + n.selfSize); }
    }
    for (const c of n.children) walk(c, st);
  };
  walk(profile.head, []);
  const segs = mib * 2 ** 20 / (mtu - 52);
  const tot = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`MTU ${mtu}: total ${(tot / segs).toFixed(0)} B per data segment, besides ${(pieces / segs).toFixed(1)} B of receive pieces`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(v / segs).toFixed(1).padStart(7)}  ${k.split(' < ').reverse().join(' < ')}`);
}
void main();
