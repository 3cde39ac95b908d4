#!/usr/bin/env node
// The one test command: installs what is missing, checks the layer rule, typechecks every
// project, builds the native TAP addon when it can, then runs every ava test.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const root = path.resolve(__dirname, '..', '..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };

function step(name, cmd, args) {
  console.log(`\n== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  return r.status === 0;
}

(async () => {
  let preFailed = 0;
  if (!fs.existsSync(path.join(root, 'node_modules', '.pnpm'))) {
    if (!step('install', 'pnpm', ['install', '--frozen-lockfile'])) preFailed++;
  }
  const nativeScript = path.join(root, 'packages', 'nic', 'native', 'build.js');
  if (fs.existsSync(nativeScript)) step('native addon (optional)', process.execPath, [nativeScript]);
  if (!step('layer rule', process.execPath, [path.join(root, 'tools', 'layers', 'check-layers.js')])) preFailed++;
  if (!step('typecheck', process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', 'tsconfig.json', '--noEmit'])) preFailed++;
  const { runAva } = require('./run-ava.js');
  const r = await runAva(process.argv.slice(2));
  if (r.code !== 0 && r.failed === 0) r.failed = 1;
  const failed = r.failed + preFailed;
  if (preFailed) console.log(`(${preFailed} workspace check(s) failed before the tests: see above)`);
  console.log(`${r.passed} passed, ${failed} failed, ${r.skipped} skipped`);
  process.exit(failed > 0 ? 1 : 0);
})();
