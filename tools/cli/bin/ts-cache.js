// Loads .ts files by transpiling them with TypeScript (no type check, like
// `ts-node --transpile-only`) and keeps the output in a cache directory keyed
// by the source's hash, so a command run again starts in a fraction of the
// time (TypeScript itself is only loaded when something is not cached).
// The CLI and the benchmarks run through it; tests use ts-node. Unlike ts-node it does
// not load `repl`, which loads `domain`: with `domain` loaded every EventEmitter takes
// Node's slower domain-aware init and emit, which no deployed program pays.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const cacheDir = process.env.PNET_TS_CACHE || path.join(os.tmpdir(), `pnet-ts-cache-${typeof process.getuid === 'function' ? process.getuid() : 'u'}`);
const compilerOptions = {
  module: 'commonjs', target: 'es2022', esModuleInterop: true, sourceMap: false, inlineSourceMap: true, inlineSources: false,
  resolveJsonModule: true, useDefineForClassFields: true,
};
let ts = null;
const VERSION = '1';

function transpile(source, filename) {
  const key = crypto.createHash('sha256').update(VERSION).update('\0').update(filename).update('\0').update(source).digest('hex');
  const file = path.join(cacheDir, `${key}.js`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    // not cached yet
  }
  if (!ts) {
    ts = require('typescript');
    for (const [k, v] of Object.entries({ module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 })) compilerOptions[k] = v;
  }
  const out = ts.transpileModule(source, { compilerOptions, fileName: filename }).outputText;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, out);
    fs.renameSync(tmp, file);
  } catch {
    // A read-only temp dir only costs speed.
  }
  return out;
}

/** Installs the loader for .ts files; `force` replaces one already there (e.g. ts-node's, for the files still to load). */
function install(force = false) {
  if (require.extensions['.ts'] && !force) return;
  process.setSourceMapsEnabled?.(true);
  require.extensions['.ts'] = (module, filename) => {
    module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
  };
}

install();
module.exports = { install };
