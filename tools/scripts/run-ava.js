#!/usr/bin/env node
// Runs ava over the given file globs (all test files by default), streams its TAP output,
// and ends with one line `N passed, N failed, N skipped` that CI reads.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

function runAva(globs, { extraArgs = [] } = {}) {
  return new Promise((resolve) => {
    const root = path.resolve(__dirname, '..', '..');
    const avaBin = path.join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
    const child = spawn(process.execPath, [avaBin, '--tap', ...extraArgs, ...globs], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    });
    let passed = 0, failed = 0, skipped = 0, todo = 0, buf = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      buf += chunk.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (/^ok \d+/.test(line)) {
          if (/# SKIP/i.test(line)) skipped++;
          else if (/# TODO/i.test(line)) todo++;
          else passed++;
        } else if (/^not ok \d+/.test(line)) {
          if (/# TODO/i.test(line)) todo++;
          else failed++;
        }
      }
    });
    child.on('close', (code) => resolve({ passed, failed, skipped, todo, code: code ?? 1 }));
  });
}

module.exports = { runAva };

if (require.main === module) {
  const globs = process.argv.slice(2);
  runAva(globs).then((r) => {
    // ava exits non-zero on failures, on uncaught errors in test files, and on no tests found.
    if (r.code !== 0 && r.failed === 0) r.failed = 1;
    console.log(`${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
    process.exit(r.failed > 0 ? 1 : 0);
  });
}
