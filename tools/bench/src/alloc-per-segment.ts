/**
 * Where the MTU-1500 bulk scenario allocates JS garbage, in bytes per data segment: V8's sampling
 * heap profiler with the objects the collector already freed (a 16 MiB transfer after a 32 MiB
 * warm-up), grouped by the allocating function and its two callers. Sampled: +-10 % run to run.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/alloc-per-segment.ts
 */
import { Session } from 'node:inspector';
import { bulk, pnetSide } from './tcp';
const post = (s: Session, m: string, p: object = {}): Promise<any> => new Promise((res, rej) => s.post(m, p, (e, r) => (e ? rej(e) : res(r))));
async function main(): Promise<void> {
  const s0 = pnetSide(1500); await bulk(s0, 32 * 2 ** 20); s0.close();
  const ses = new Session(); ses.connect();
  await post(ses, 'HeapProfiler.enable');
  await post(ses, 'HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const mib = 16;
  const s = pnetSide(1500); await bulk(s, mib * 2 ** 20); s.close();
  const { profile } = await post(ses, 'HeapProfiler.stopSampling');
  const self = new Map<string, number>();
  const walk = (n: any, stack: string[]): void => {
    const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    const st = [...stack, name];
    if (n.selfSize > 0) { const k = st.slice(-3).join(' < '); self.set(k, (self.get(k) ?? 0) + n.selfSize); }
    for (const c of n.children) walk(c, st);
  };
  walk(profile.head, []);
  const segs = mib * 2 ** 20 / 1448;
  const tot = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`total ${(tot / segs).toFixed(0)} B per data segment`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(v / segs).toFixed(1).padStart(7)}  ${k.split(' < ').reverse().join(' < ')}`);
}
void main();
