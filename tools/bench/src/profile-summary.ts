/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per
 * function, leaving out start-up (ts-node compiling, the module loader), (name, file:line), the biggest first. Used to write down where the
 * time of the slow benchmark rows goes (docs/BENCHMARKS.md).
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof -r ./tools/cli/bin/ts-cache.js tools/bench/src/main.ts --quick --only=tcp
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/profile-summary.ts /tmp/prof/<file>.cpuprofile [top=30]
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
    // Start-up noise: ts-node or ts-cache compiling our sources, the module loader.
    if (/typescript|ts-node|ts-cache|source-map|node:internal\/modules|node:vm/.test(cf.url) || /^(ContextifyScript|readFileUtf8|compileFunction)$/.test(cf.functionName)) continue;
    const file = cf.url ? path.relative(process.cwd(), cf.url.replace(/^file:\/\//, '')) : '';
    const key = `${cf.functionName || '(anonymous)'} ${file ? `${file}:${cf.lineNumber + 1}` : ''}`.trim();
    hits.set(key, (hits.get(key) ?? 0) + h);
    total += h;
  }
  return [...hits.entries()].map(([fn, h]) => ({ fn, share: h / total })).sort((a, b) => b.share - a.share);
}

/** Buckets for a one-line answer to "where does the time go" (first match wins). */
const CATEGORIES: [string, RegExp][] = [
  // wasm-function[..]: the checksum's SIMD module, the only WebAssembly we run.
  ['checksums', /wire\/checksum\.ts|^(sumWords|sumWordsJs|scratchSum|swap16|tcpChecksum|writeTcpChecksum|transportChecksumOk|internetChecksum|finishChecksum|pseudoHeaderSum|udpChecksum|checksum) |^wasm-function\[/],
  ['copies', /^(copyOut|writeAt|copyPrefix|push|reserve|store|readBuffer \S|createUnsafeBuffer|set length|allocUnsafe|append) |^(copyOut|writeAt|store)$/],
  ['garbage collection', /^\(garbage collector\)/],
  ['idle (waiting for I/O)', /^\(idle\)/],
  ['TAP syscalls', /tap-nic\.ts|tap-reader\.ts/],
  ['OpenSSL and TLS', /_tls_wrap|tls\/src|^(readBuffer|writeBuffer|getPeerCertificate|addCACert|init|start|setCiphers|wrap|destroySSL|encrypt|decrypt)$/],
  ['Node streams and events', /node:internal\/streams|node:events|node:domain|task_queues|js_stream_socket|stream_base_commons|^runMicrotasks/],
  ['HTTP', /packages\/http\//],
  ['simulated link and clock', /packages\/nic\/src\/(sim|clock)\//],
  ['TCP', /packages\/tcpip\/src\/tcp\//],
  ['IP, Ethernet, ARP, NIC', /packages\/tcpip\/src\/(ip|iface|wire)\/|packages\/nic\//],
];

export function categories(rows: { fn: string; share: number }[]): { category: string; share: number }[] {
  const out = new Map<string, number>();
  for (const r of rows) {
    const c = CATEGORIES.find(([, re]) => re.test(r.fn))?.[0] ?? 'other';
    out.set(c, (out.get(c) ?? 0) + r.share);
  }
  return [...out.entries()].map(([category, share]) => ({ category, share })).sort((a, b) => b.share - a.share);
}

if (require.main === module) {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 30);
  if (!file) { console.error('usage: profile-summary <file.cpuprofile> [top]'); process.exit(2); }
  const rows = selfTimes(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile);
  for (const r of rows.slice(0, top)) console.log(`${(r.share * 100).toFixed(1).padStart(5)} %  ${r.fn}`);
  console.log(categories(rows).map((c) => `${c.category} ${(c.share * 100).toFixed(0)} %`).join(', '));
}
