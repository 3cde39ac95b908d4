/**
 * CPU profile of our side of one benchmark (no anchor, no warm-up in the
 * profile), summarised as self time per function:
 *
 *   node -r ./tools/cli/bin/ts-cache.js tools/bench/src/profile.ts <scenario> [dir=/tmp/pnet-prof] [top=25]
 *
 * Scenarios: tcp-bulk-1500, tcp-bulk-65535, tcp-connections, http-keepalive,
 * http-close, tls-handshakes, https-download, vtime, tap-up, tap-down, tap-up-tso, tap-down-tso (root).
 */
import * as path from 'node:path';
import { Profiler } from './profiler';
import { categories, selfTimes } from './profile-summary';
import * as fs from 'node:fs';

const scenarios: Record<string, () => Promise<() => Promise<unknown>>> = {
  'tcp-bulk-1500': async () => { const t = await import('./tcp'); return () => t.bulk(t.pnetSide(1500), 64 << 20); },
  'tcp-bulk-65535': async () => { const t = await import('./tcp'); return () => t.bulk(t.pnetSide(65535), 64 << 20); },
  'tcp-connections': async () => { const t = await import('./tcp'); return () => t.connections(t.pnetSide(1500), 3000); },
  'http-keepalive': async () => { const h = await import('./http'); return () => h.pnetRate(3000, false); },
  'http-close': async () => { const h = await import('./http'); return () => h.pnetRate(2000, true); },
  'tls-handshakes': async () => { const t = await import('./tls'); return () => t.pnetHandshakes(300); },
  'https-download': async () => { const t = await import('./tls'); return () => t.pnetDownload(32 << 20); },
  'vtime': async () => { const v = await import('./vtime'); return async () => v.transfer(32 << 20); },
  'tap-up': async () => { const t = await import('./tap'); return () => t.tapTcp(true, 128 << 20, 1); },
  'tap-down': async () => { const t = await import('./tap'); return () => t.tapTcp(false, 128 << 20, 1); },
  'tap-up-tso': async () => { const t = await import('./tap'); return () => t.tapTcp(true, 256 << 20, 1, true); },
  'tap-down-tso': async () => { const t = await import('./tap'); return () => t.tapTcp(false, 256 << 20, 1, true); },
};

async function main(): Promise<void> {
  const name = process.argv[2];
  const dir = process.argv[3] ?? '/tmp/pnet-prof';
  const top = Number(process.argv[4] ?? 25);
  const make = scenarios[name];
  if (!make) throw new Error(`profile: scenario must be one of ${Object.keys(scenarios).join(', ')}`);
  const keepAlive = setInterval(() => {}, 1000); // TAP scenarios wait on unref'd handles
  const go = await make();
  // Warm-up (JIT): V8 takes a few runs to settle (see bench.ts `warmUp`); the TAP scenario warms up inside.
  if (!name.startsWith('tap')) for (let i = 0; i < 4; i++) await go();
  const profiler = new Profiler(dir);
  await profiler.start();
  const t0 = process.hrtime.bigint();
  await go();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const file = await profiler.stop(name);
  clearInterval(keepAlive);
  console.log(`${name}: ${seconds.toFixed(2)} s; profile ${path.relative(process.cwd(), file)}`);
  const rows = selfTimes(JSON.parse(fs.readFileSync(file, 'utf8')));
  for (const r of rows.slice(0, top)) console.log(`${(r.share * 100).toFixed(1).padStart(5)} %  ${r.fn}`);
  console.log(categories(rows).map((c) => `${c.category} ${(c.share * 100).toFixed(0)} %`).join(', '));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
