#!/usr/bin/env node
// Builds the optional TAP addon (packages/nic/native/build/Release/pnet_tap.node) with node-gyp
// against the headers of the Node that runs this script. It never downloads anything: headers
// come from --nodedir (derived from process.execPath, or $npm_config_nodedir, or /usr, /usr/local).
// It always exits 0: without the addon everything still works except TapNic, whose open() says why.
//
//   node packages/nic/native/build.js [--force] [--quiet]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const output = path.join(here, 'build', 'Release', 'pnet_tap.node');
const args = process.argv.slice(2);
const force = args.includes('--force');
const quiet = args.includes('--quiet');

function say(msg) {
  console.log(`[pnet tap addon] ${msg}`);
}

function giveUp(why) {
  say(`not built: ${why}`);
  say('everything else works; TapNic.open() will throw and say why; tests that need a TAP skip (or fail with CI=true).');
  process.exit(0);
}

function nodedirCandidates() {
  const list = [];
  // process.execPath is <prefix>/bin/node; the headers of this very Node live in <prefix>/include/node.
  list.push(path.dirname(path.dirname(fs.realpathSync(process.execPath))));
  if (process.env.npm_config_nodedir) list.push(process.env.npm_config_nodedir);
  list.push('/usr', '/usr/local');
  return [...new Set(list)];
}

function findNodedir() {
  for (const dir of nodedirCandidates()) {
    const inc = path.join(dir, 'include', 'node');
    if (fs.existsSync(path.join(inc, 'node_api.h')) && fs.existsSync(path.join(inc, 'common.gypi')) && fs.existsSync(path.join(inc, 'uv.h'))) {
      return dir;
    }
  }
  return null;
}

function findNodeGyp() {
  const tries = [here, path.join(here, '..'), path.join(here, '..', '..', '..')];
  for (const from of tries) {
    try {
      return require.resolve('node-gyp/bin/node-gyp.js', { paths: [from] });
    } catch {
      // try the next place
    }
  }
  return null;
}

function upToDate() {
  if (!fs.existsSync(output)) return false;
  const built = fs.statSync(output).mtimeMs;
  return ['tap.c', 'binding.gyp'].every((f) => fs.statSync(path.join(here, f)).mtimeMs <= built);
}

if (process.platform !== 'linux') giveUp(`TAP devices need Linux (this is ${process.platform})`);
if (!force && upToDate()) {
  if (!quiet) say(`up to date: ${path.relative(process.cwd(), output) || output}`);
  process.exit(0);
}
const nodedir = findNodedir();
if (!nodedir) giveUp(`Node headers not found (looked for include/node/node_api.h under ${nodedirCandidates().join(', ')}); set npm_config_nodedir`);
const nodeGyp = findNodeGyp();
if (!nodeGyp) giveUp('node-gyp is not installed (it is a root devDependency: run pnpm install)');

const env = {
  ...process.env,
  npm_config_nodedir: nodedir,
  // Keep node-gyp away from the network and from ~/.cache: with a nodedir it needs neither.
  npm_config_devdir: path.join(here, 'build', 'devdir'),
  npm_config_offline: 'true',
};
// Build in a staging directory and move the result into place with one rename: processes
// running meanwhile (tests, benchmarks) never see the addon missing or half written.
const stage = path.join(here, 'build', 'stage');
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });
for (const f of ['tap.c', 'binding.gyp']) fs.copyFileSync(path.join(here, f), path.join(stage, f));
const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--release', '--jobs=max'], {
  cwd: stage,
  env,
  encoding: 'utf8',
});
if (r.error) giveUp(`could not run node-gyp: ${r.error.message}`);
const staged = path.join(stage, 'build', 'Release', 'pnet_tap.node');
if (r.status !== 0 || !fs.existsSync(staged)) {
  const log = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-25).join('\n');
  console.log(log);
  giveUp(`node-gyp failed (exit ${r.status}); is a C compiler, make and python3 installed?`);
}
fs.mkdirSync(path.dirname(output), { recursive: true });
fs.copyFileSync(staged, `${output}.tmp`);
fs.renameSync(`${output}.tmp`, output);
fs.rmSync(stage, { recursive: true, force: true });
say(`built ${output} (headers from ${nodedir}/include/node)`);
