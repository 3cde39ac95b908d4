import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..', '..', '..');
const checker = path.join(repo, 'tools', 'layers', 'check-layers.js');

/** A throwaway copy of the workspace's project layout (manifests and one source file each). */
function scratchWorkspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pnet-layers-'));
  for (const f of ['nx.json', 'package.json', 'tsconfig.base.json', 'pnpm-workspace.yaml']) {
    fs.copyFileSync(path.join(repo, f), path.join(dir, f));
  }
  fs.mkdirSync(path.join(dir, 'tools', 'layers'), { recursive: true });
  fs.copyFileSync(path.join(repo, 'tools', 'layers', 'layers.json'), path.join(dir, 'tools', 'layers', 'layers.json'));
  for (const group of ['packages', 'tools']) {
    for (const name of fs.readdirSync(path.join(repo, group))) {
      const src = path.join(repo, group, name);
      if (!fs.existsSync(path.join(src, 'project.json'))) continue;
      const dst = path.join(dir, group, name);
      fs.mkdirSync(path.join(dst, 'src'), { recursive: true });
      fs.copyFileSync(path.join(src, 'project.json'), path.join(dst, 'project.json'));
      fs.copyFileSync(path.join(src, 'package.json'), path.join(dst, 'package.json'));
      fs.writeFileSync(path.join(dst, 'src', 'index.ts'), 'export const layer = 1;\n');
    }
  }
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

function runChecker(root: string) {
  return spawnSync(process.execPath, [checker, '--root', root], { encoding: 'utf8' });
}

test('the real workspace keeps the layer rule', (t) => {
  const r = runChecker(repo);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /layer rule holds for \d+ projects/);
});

test('an upward import by package name is caught', (t) => {
  const dir = scratchWorkspace();
  try {
    t.is(runChecker(dir).status, 0, 'the clean copy passes');
    fs.writeFileSync(path.join(dir, 'packages', 'nic', 'src', 'upward.ts'), "import { layer } from '@pnet/tcpip';\nexport const x = layer;\n");
    const r = runChecker(dir);
    t.is(r.status, 1);
    t.regex(r.stderr, /packages\/nic\/src\/upward\.ts:1: @pnet\/nic imports '@pnet\/tcpip'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a relative path into another package and a skipped layer are caught', (t) => {
  const dir = scratchWorkspace();
  try {
    // http may use tls only: reaching tcpip directly skips a layer.
    fs.writeFileSync(path.join(dir, 'packages', 'http', 'src', 'skip.ts'), "export * from '../../tcpip/src/index';\n");
    const r = runChecker(dir);
    t.is(r.status, 1);
    t.regex(r.stderr, /packages\/http\/src\/skip\.ts:1: @pnet\/http imports '\.\.\/\.\.\/tcpip\/src\/index' \(@pnet\/tcpip\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a package.json dependency that points up is caught through the nx graph', (t) => {
  const dir = scratchWorkspace();
  try {
    const manifest = path.join(dir, 'packages', 'tcpip', 'package.json');
    const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    pkg.dependencies['@pnet/http'] = 'workspace:*';
    fs.writeFileSync(manifest, JSON.stringify(pkg, null, 2));
    const r = runChecker(dir);
    t.is(r.status, 1);
    t.regex(r.stderr, /@pnet\/tcpip depends on @pnet\/http \(nx project graph/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tests may use lower layers but never an upper one', (t) => {
  const dir = scratchWorkspace();
  try {
    fs.mkdirSync(path.join(dir, 'packages', 'http', 'test'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'packages', 'http', 'test', 'a.test.ts'), "import '@pnet/nic';\n");
    t.is(runChecker(dir).status, 0, 'an http test may use the nic test harness');
    fs.writeFileSync(path.join(dir, 'packages', 'http', 'test', 'b.test.ts'), "import '@pnet/libsystem';\n");
    const r = runChecker(dir);
    t.is(r.status, 1);
    t.regex(r.stderr, /packages\/http\/test\/b\.test\.ts:1: @pnet\/http imports '@pnet\/libsystem'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
