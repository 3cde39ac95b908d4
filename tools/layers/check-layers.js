#!/usr/bin/env node
// The layer rule, checked on nx's project graph (project tags from project.json)
// and on every import in the sources, including relative paths that leave a project.
// Exits 1 and names each offending import when a project uses one it may not.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function parseArgs(argv) {
  const args = { root: path.resolve(__dirname, '..', '..') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') args.root = path.resolve(argv[++i]);
    else throw new Error(`check-layers: unknown argument ${argv[i]}`);
  }
  return args;
}

function nxGraph(root) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pnet-graph-')), 'graph.json');
  const nxBin = path.join(root, 'node_modules', 'nx', 'dist', 'bin', 'nx.js');
  const r = spawnSync(process.execPath, [nxBin, 'graph', `--file=${out}`], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
  });
  if (r.status !== 0 || !fs.existsSync(out)) {
    throw new Error(`check-layers: nx graph failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  const graph = JSON.parse(fs.readFileSync(out, 'utf8')).graph;
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return graph;
}

function listSources(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'build') continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(p));
    else if (/\.(ts|tsx|js|cjs|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT_RE = /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|require\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

/** Edges found by reading the sources: [{source, target, file, line, spec}]. */
function scanImports(root, projects) {
  const byName = new Map(projects.map((p) => [p.name, p]));
  const edges = [];
  for (const p of projects) {
    const dir = path.join(root, p.root);
    for (const file of listSources(dir)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] || m[2] || m[3] || m[4];
        let target = null;
        if (spec.startsWith('.')) {
          const abs = path.resolve(path.dirname(file), spec);
          const owner = projects.find((q) => abs === path.join(root, q.root) || abs.startsWith(path.join(root, q.root) + path.sep));
          if (owner) target = owner.name;
          else if (!abs.startsWith(dir + path.sep)) target = `(outside any project: ${path.relative(root, abs)})`;
        } else {
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          if (byName.has(pkg)) target = pkg;
        }
        if (target && target !== p.name) {
          const line = text.slice(0, m.index).split('\n').length;
          const isTest = file.startsWith(path.join(dir, 'test') + path.sep);
          edges.push({ source: p.name, target, file: path.relative(root, file), line, spec, isTest });
        }
      }
    }
  }
  return edges;
}

function check(root) {
  const rules = JSON.parse(fs.readFileSync(path.join(root, 'tools', 'layers', 'layers.json'), 'utf8')).allow;
  const graph = nxGraph(root);
  const projects = Object.values(graph.nodes).map((n) => ({ name: n.name, root: n.data.root, tags: n.data.tags || [] }));
  const byName = new Map(projects.map((p) => [p.name, p]));
  const violations = [];
  // Tests may use any layer below their own (e.g. the nic's test-host harness), never one above.
  const below = (tag, seen = new Set()) => {
    for (const t of rules[tag] || []) if (!seen.has(t)) { seen.add(t); below(t, seen); }
    return seen;
  };
  const allowed = (src, tgt, isTest = false) => {
    const s = byName.get(src);
    const t = byName.get(tgt);
    if (!s || !t) return false;
    const layerTags = s.tags.filter((tag) => tag.startsWith('layer:'));
    if (layerTags.length !== 1) return false;
    const may = isTest ? [...below(layerTags[0])] : rules[layerTags[0]] || [];
    return t.tags.some((tag) => may.includes(tag));
  };
  for (const p of projects) {
    const layerTags = p.tags.filter((tag) => tag.startsWith('layer:'));
    if (layerTags.length !== 1 || !(layerTags[0] in rules)) {
      violations.push(`${p.name}: needs exactly one known layer tag in project.json (has ${JSON.stringify(p.tags)})`);
    }
  }
  const seen = new Set();
  for (const deps of Object.values(graph.dependencies)) {
    for (const d of deps) {
      if (!byName.has(d.target) || allowed(d.source, d.target)) continue;
      seen.add(`${d.source}->${d.target}`);
      violations.push(`${d.source} depends on ${d.target} (nx project graph, ${d.type}${d.sourceFile ? `, ${d.sourceFile}` : ''})`);
    }
  }
  for (const e of scanImports(root, projects)) {
    if (byName.has(e.target) && allowed(e.source, e.target, e.isTest)) continue;
    violations.push(`${e.file}:${e.line}: ${e.source} imports '${e.spec}' (${e.target})`);
  }
  return { projects, violations };
}

module.exports = { check };

if (require.main === module) {
  const { root } = parseArgs(process.argv.slice(2));
  const { projects, violations } = check(root);
  if (violations.length) {
    console.error(`layer rule broken (imports point down only: nic <- tcpip <- tls <- http <- libsystem):`);
    for (const v of violations) console.error(`  ${v}`);
    process.exit(1);
  }
  console.log(`layer rule holds for ${projects.length} projects`);
}
