// The layering check: imports only point left along
//   base <- machine <- hypervisor <- services <- api <- { daemon, cli, web }
// (web: only api/schema, the contract; it runs in the browser)
// and no module cycle exists. base and machine stay browser-safe (no node:* and no npm imports).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** Which layers each layer may import (itself included). */
const ALLOWED = {
  base: ['base'],
  machine: ['machine', 'base'],
  hypervisor: ['hypervisor', 'machine', 'base'],
  services: ['services', 'hypervisor', 'machine', 'base'],
  api: ['api', 'services', 'hypervisor', 'machine', 'base'],
  // The daemon is the composition root: it wires everything, the command line included.
  daemon: ['daemon', 'cli', 'web', 'api', 'services', 'hypervisor', 'machine', 'base'],
  cli: ['cli', 'api', 'base'],
  web: ['web', 'api', 'base'],
};
const BROWSER_SAFE = new Set(['base', 'machine']);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name === 'assembly') continue; // AssemblyScript sources: compiled to WebAssembly, not imported
      walk(p, out);
    } else if (name.endsWith('.ts') || name.endsWith('.tsx')) out.push(p);
  }
  return out;
}

const files = walk(src, []);
const problems = [];
const graph = new Map();
const importRe =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

for (const file of files) {
  const rel = relative(src, file);
  const layer = rel.split('/')[0];
  if (!(layer in ALLOWED)) {
    problems.push(`${rel}: not inside a known layer folder`);
    continue;
  }
  const text = readFileSync(file, 'utf8');
  const deps = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec) continue;
    if (spec.startsWith('.')) {
      const js = resolve(dirname(file), spec);
      const target =
        js.endsWith('.js') && !existsSync(js.replace(/\.js$/, '.ts')) && existsSync(js.replace(/\.js$/, '.tsx'))
          ? js.replace(/\.js$/, '.tsx')
          : js.replace(/\.js$/, '.ts');
      const targetRel = relative(src, target);
      const targetLayer = targetRel.split('/')[0];
      if (targetRel.startsWith('..')) problems.push(`${rel}: imports '${spec}' from outside src/`);
      else if (!ALLOWED[layer].includes(targetLayer))
        problems.push(`${rel}: layer '${layer}' may not import '${spec}' (layer '${targetLayer}')`);
      else if (layer === 'web' && targetLayer === 'api' && !targetRel.startsWith(`api${sep}schema${sep}`))
        problems.push(`${rel}: the web console may import only api/schema from the api layer, not '${spec}'`);
      if (!rel.endsWith('.test.ts')) deps.push(target);
    } else if (BROWSER_SAFE.has(layer) && !rel.endsWith('.test.ts') && !rel.endsWith('.suite.ts')) {
      problems.push(`${rel}: layer '${layer}' must stay browser-safe but imports '${spec}'`);
    }
  }
  graph.set(file, deps);
}

// Cycle detection over non-test modules (depth-first, three colours).
const state = new Map();
const stack = [];
function visit(node) {
  state.set(node, 1);
  stack.push(node);
  for (const dep of graph.get(node) ?? []) {
    if (!graph.has(dep)) continue;
    const s = state.get(dep);
    if (s === 1) {
      const cycle = stack
        .slice(stack.indexOf(dep))
        .concat(dep)
        .map((f) => relative(src, f));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (s === undefined) visit(dep);
  }
  stack.pop();
  state.set(node, 2);
}
for (const node of graph.keys()) if (!state.has(node)) visit(node);

if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`layers: ${p}\n`);
  process.exit(1);
}
process.stdout.write(`layers: ${files.length} modules, no upward import, no cycle\n`);
