/**
 * Every benchmark module runs end to end with tiny sizes (`--tiny`: one run,
 * smallest transfers) and returns well-formed rows. No figure is judged: speed
 * is for `pnpm bench`, and this machine may be loaded. The TAP module needs
 * root; without it it returns no rows (and says why), which is checked too.
 */
import test from 'ava';
import { hostSupport } from '@pnet/nic';
import { modules, runModules, table } from '../src/main';

test('every module runs with tiny sizes and returns well-formed rows', async (t) => {
  t.timeout(600_000, 'hang guard only (not a speed assertion)');
  const seen: string[] = [];
  const rows = await runModules({ quick: true, tiny: true }, undefined, undefined, (name, s) => { if (s !== undefined) seen.push(name); });
  t.deepEqual(seen, modules.map((m) => m.name), 'every module ran');
  const names = new Set<string>();
  for (const r of rows) {
    t.false(names.has(r.name), `duplicate row ${r.name}`);
    names.add(r.name);
    t.true(r.name.length > 0 && r.unit.length > 0 && r.anchor.length > 0, r.name);
    t.true(Number.isFinite(r.value), `${r.name}: value ${r.value}`);
    t.true(Number.isFinite(r.anchorValue), `${r.name}: anchor value ${r.anchorValue}`);
    // Heap deltas of a few hundred connections measured inside the test process are noise (they may even be
    // negative); rates and times must be positive.
    if (r.unit !== 'bytes') t.true(r.value > 0 && r.anchorValue > 0, `${r.name}: ${r.value} vs ${r.anchorValue}`);
    if (r.anchorValue !== 0) t.is(r.ratio, r.value / r.anchorValue, r.name);
  }
  const expect = [/^ring /, /^SimLink /, /^TCP bulk .*MTU 1500/, /^TCP connections/, /^HTTP\/1\.1 .*keep-alive/,
    /^HTTP\/1\.1 .*new connection/, /^TLS 1\.3 full handshakes/, /^HTTPS download/, /^heap per idle TCP endpoint/, /^virtual time: /];
  for (const re of expect) t.true(rows.some((r) => re.test(r.name)), `a row matching ${re}`);
  const tap = rows.filter((r) => /TAP/.test(r.name));
  if (hostSupport({ tap: true, commands: ['ping', 'python3', 'iperf3'] }).ok) {
    t.true(tap.some((r) => /pnet -> kernel/.test(r.name)) && tap.some((r) => /kernel -> pnet/.test(r.name)), 'TCP over TAP both ways');
  } else {
    t.is(tap.length, 0, 'no TAP rows without root');
  }
  t.true(rows.filter((r) => /lower is better/.test(r.name)).every((r) => r.unit === 'bytes'), 'costs say lower is better');
  t.is(table(rows).split('\n').length, rows.length + 2);
});
