/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per
 * function, leaving out start-up (ts-node compiling, the module loader), (name, file:line), the biggest first. Used to write down where the
 * time of the slow benchmark rows goes (docs/BENCHMARKS.md).
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof -r ts-node/register/transpile-only tools/bench/src/main.ts --quick --only=tcp
 *   npx ts-node --transpile-only tools/bench/src/profile-summary.ts /tmp/prof/<file>.cpuprofile [top=30]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] }

export function selfTimes(profile: Profile): { fn: string; share: number }[] {
  const hits = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const h = n.hitCount ?? 0;
    if (h === 0) continue;
    const cf = n.callFrame;
    // Start-up noise: ts-node compiling our sources, the module loader.
    if (/typescript|ts-node|source-map|node:internal\/modules|node:vm/.test(cf.url) || /^(ContextifyScript|readFileUtf8|compileFunction)$/.test(cf.functionName)) continue;
    const file = cf.url ? path.relative(process.cwd(), cf.url.replace(/^file:\/\//, '')) : '';
    const key = `${cf.functionName || '(anonymous)'} ${file ? `${file}:${cf.lineNumber + 1}` : ''}`.trim();
    hits.set(key, (hits.get(key) ?? 0) + h);
    total += h;
  }
  return [...hits.entries()].map(([fn, h]) => ({ fn, share: h / total })).sort((a, b) => b.share - a.share);
}

if (require.main === module) {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 30);
  if (!file) { console.error('usage: profile-summary <file.cpuprofile> [top]'); process.exit(2); }
  const rows = selfTimes(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile);
  for (const r of rows.slice(0, top)) console.log(`${(r.share * 100).toFixed(1).padStart(5)} %  ${r.fn}`);
}
