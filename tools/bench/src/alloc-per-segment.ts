/**
 * Where the bulk scenario allocates JS garbage, in bytes per data segment: V8's sampling heap
 * profiler with the objects the collector already freed (a transfer of `MiB` after a 32 MiB
 * warm-up), grouped by the allocating function and its two callers. Sampled: +-10 % run to run.
 * The two stacks are made before sampling starts (their rings are set-up, not per segment). The
 * total is split by the innermost frame outside Node's own code: the stack (packages/, the figure
 * to keep near 0), what is handed to the application (receive pieces, byte-ring.ts `PIECE`, and
 * the views of them: data that outlives the frame) and the rest (the bench's driver, `net`-like
 * stream machinery of Node entered from tools/). Segments: MiB / (MTU - 52). The start of a
 * connection (code not yet optimised) weighs on a short run: 64 MiB at MTU 1500 is steady.
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/alloc-per-segment.ts [mtu=1500] [MiB=64]
 */
import { Session } from 'node:inspector';
import { bulk, pnetSide } from './tcp';
const post = (s: Session, m: string, p: object = {}): Promise<any> => new Promise((res, rej) => s.post(m, p, (e, r) => (e ? rej(e) : res(r))));
async function main(): Promise<void> {
  const mtu = Number(process.argv[2] ?? 1500);
  const mib = Number(process.argv[3] ?? 64);
  const s0 = pnetSide(mtu); await bulk(s0, 32 * 2 ** 20); s0.close();
  const s = pnetSide(mtu);
  const ses = new Session(); ses.connect();
  await post(ses, 'HeapProfiler.enable');
  await post(ses, 'HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await bulk(s, mib * 2 ** 20);
  const { profile } = await post(ses, 'HeapProfiler.stopSampling');
  s.close();
  const self = new Map<string, number>();
  // Buckets by the innermost frame outside Node's own code: the stack (packages/), the bench's
  // driver (tools/), and what the application is handed (receive pieces, views and copies of
  // received bytes: data that outlives the frame).
  const buckets = { stack: 0, bench: 0, handed: 0 };
  /** The stack's share by the file of its innermost frame (socket.ts: Node's stream machinery it calls). */
  const byFile = new Map<string, number>();
  const walk = (n: any, stack: string[], urls: string[]): void => {
    const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    const st = [...stack, name];
    const us = [...urls, n.callFrame.url];
    if (n.selfSize > 0) {
      const k = st.slice(-3).join(' < ');
      self.set(k, (self.get(k) ?? 0) + n.selfSize);
      const own = us.filter((u) => u.includes('/packages/') || u.includes('/tools/'));
      const inner = own.length > 0 ? own[own.length - 1] : '';
      if (st.some((f) => /^(writePieces|view|chunk) tcp\/byte-ring/.test(f)) && /^(FastBuffer|createUnsafeBuffer|allocate|allocUnsafe|subarray|ArrayBuffer|Uint8Array) /.test(name)) buckets.handed += n.selfSize;
      else if (/^(FastBuffer|createUnsafeBuffer|allocate|allocUnsafe) /.test(name) && inner.endsWith('tcp/connection.ts') && st.some((f) => f.startsWith('acceptData '))) buckets.handed += n.selfSize; // writePieces inlined
      else if (inner.includes('/packages/')) {
        buckets.stack += n.selfSize;
        const f = inner.split('/packages/')[1];
        byFile.set(f, (byFile.get(f) ?? 0) + n.selfSize);
      }
      else buckets.bench += n.selfSize;
    }
    for (const c of n.children) walk(c, st, us);
  };
  walk(profile.head, [], []);
  const segs = mib * 2 ** 20 / (mtu - 52);
  const per = (v: number): string => (v / segs).toFixed(1);
  const tot = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`MTU ${mtu}: ${per(tot)} B per data segment: stack ${per(buckets.stack)}, handed to the application ${per(buckets.handed)}, bench driver and Node outside the stack ${per(buckets.bench)}`);
  console.log(`stack by file: ${[...byFile].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([f, v]) => `${f} ${per(v)}`).join(', ')}`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${per(v).padStart(7)}  ${k.split(' < ').reverse().join(' < ')}`);
}
void main();
