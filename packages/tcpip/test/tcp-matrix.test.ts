/**
 * The TCP simulation matrix (test/tcp-matrix.ts) against its snapshot: virtual time is
 * deterministic, so every figure must match exactly. A change to TCP that moves a figure shows up
 * here; when the move is intended, rerun with UPDATE_SNAPSHOTS=1 and commit the new snapshot
 * (and docs/TCP-MATRIX.md, which `node -r ts-node/register/transpile-only packages/tcpip/test/tcp-matrix-report.ts` prints).
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Matrix, runMatrix } from './tcp-matrix';
import { report } from './tcp-matrix-report';

const SNAPSHOT = join(__dirname, 'snapshots', 'tcp-matrix.json');
const DOC = join(__dirname, '..', '..', '..', 'docs', 'TCP-MATRIX.md');

test('matrix: throughput and retransmissions per buffer x loss x RTT x congestion control, and the bottleneck runs, match the snapshot', (t) => {
  const matrix = runMatrix();
  const text = JSON.stringify(matrix, null, 1) + '\n';
  if (process.env.UPDATE_SNAPSHOTS === '1') {
    writeFileSync(SNAPSHOT, text);
    t.log(`wrote ${SNAPSHOT}`);
  }
  if (!existsSync(SNAPSHOT)) { t.fail(`no snapshot at ${SNAPSHOT}: run with UPDATE_SNAPSHOTS=1`); return; }
  const stored = JSON.parse(readFileSync(SNAPSHOT, 'utf8'));
  t.deepEqual(matrix, stored);
  // Sanity independent of the snapshot: loss-free transfers complete without retransmissions.
  for (const c of matrix.pairs) if (c.lossPct === 0) t.is(c.retransmits, 0, `${c.cc} ${c.bufferKiB} KiB ${c.rttMs} ms`);
  // ... and every cell moved data.
  for (const c of matrix.pairs) t.true(c.delivered > 0, `${c.cc} ${c.bufferKiB} KiB ${c.lossPct} % ${c.rttMs} ms`);
  // The smoltcp-method cells: loss-free ones without retransmissions, every one moved data.
  for (const c of matrix.smoltcp) {
    if (c.lossPct === 0) t.is(c.retransmits, 0, `smoltcp method ${c.cc}`);
    t.true(c.delivered > 0, `smoltcp method ${c.cc} ${c.lossPct} %`);
  }
});

test('docs/TCP-MATRIX.md is the report of the stored snapshot', (t) => {
  const stored = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Matrix;
  if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(DOC, report(stored));
  t.is(readFileSync(DOC, 'utf8'), report(stored));
});
