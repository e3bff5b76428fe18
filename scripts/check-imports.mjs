#!/usr/bin/env node
// The import rules of cf's layers: the generic core (src/config, src/engine, src/store, src/exec,
// src/events) imports nothing from src/domains/ (a domain is a plug-in, registered by the composition
// root: src/app, src/cli and tests may import it), nor from the composition root or the command line
// above it (src/app, src/cli); and no module of src/ imports itself back through others (no cycles).
// Run by `npm test` before the tests; exit 1 on a breach.
//
// Imports are read with TypeScript's own pre-processor: static imports, `import type`, re-exports and
// dynamic import() alike.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const CORE = ['config', 'engine', 'store', 'exec', 'events'];
const FORBIDDEN = 'domains';
/** Above the core: the composition root, the dashboard and the command line. */
const ABOVE = ['app', 'serve', 'cli'];

function sources(dir) {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return [];
  }
  if (!st.isDirectory()) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /\.(ts|mts|cts|js|mjs)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f))
    .sort();
}

/** The relative imports of one source file, resolved to source paths (`./x.js` → x.ts). */
function importsOf(file) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .filter((imp) => imp.fileName.startsWith('.'))
    .map((imp) => path.resolve(path.dirname(file), imp.fileName).replace(/\.(m|c)?js$/, '.$1ts'));
}

/** Import cycles among the modules of src/ (type-only imports count too): each as the files around it. */
export function importCycles(root) {
  const src = path.join(root, 'src');
  const files = sources(src);
  const known = new Set(files);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => known.has(t))]));
  const cycles = [];
  const state = new Map(); // 1: on the path, 2: done
  const stack = [];
  const visit = (f) => {
    state.set(f, 1);
    stack.push(f);
    for (const t of graph.get(f)) {
      if (state.get(t) === 1) cycles.push(stack.slice(stack.indexOf(t)).map((x) => path.relative(src, x)));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return { files: files.length, cycles };
}

/** Every import of src/domains/ (or of src/app, src/cli) from a core file under `root`: {file, line, spec} (paths relative to root). */
export function coreImportsOfDomains(root) {
  const src = path.join(root, 'src');
  const breaches = [];
  let files = 0;
  for (const layer of CORE) {
    for (const file of sources(path.join(src, layer))) {
      files++;
      const text = readFileSync(file, 'utf8');
      const { importedFiles } = ts.preProcessFile(text, true, true);
      for (const imp of importedFiles) {
        if (!imp.fileName.startsWith('.')) continue;
        const target = path.relative(src, path.resolve(path.dirname(file), imp.fileName));
        const layer = target.split(path.sep)[0];
        if (layer !== FORBIDDEN && !ABOVE.includes(layer)) continue;
        const line = text.slice(0, imp.pos).split('\n').length;
        breaches.push({ file: path.relative(root, file), line, spec: imp.fileName });
      }
    }
  }
  return { files, breaches };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const { files, breaches } = coreImportsOfDomains(root);
  const loops = importCycles(root);
  for (const b of breaches) process.stderr.write(`${b.file}:${b.line}: imports ${b.spec}\n`);
  if (breaches.length) {
    process.stderr.write(
      `check-imports: ${breaches.length} import${breaches.length === 1 ? '' : 's'} of src/${FORBIDDEN}/ or src/{${ABOVE.join(',')}}/ from core (src/${CORE.join(', src/')}); ` +
        'plug a domain in through the registry (src/config/registry.ts), registered by the composition root (src/app); ' +
        'the core is given what it needs from above (a seam), never imports it\n',
    );
    process.exitCode = 1;
  }
  for (const c of loops.cycles) process.stderr.write(`check-imports: import cycle: src/${[...c, c[0]].join(' > ')}\n`);
  if (loops.cycles.length) {
    process.stderr.write('check-imports: break each cycle by moving what both sides use into a module of its own\n');
    process.exitCode = 1;
  }
  if (!process.exitCode) {
    process.stdout.write(
      `check-imports: ${files} core files (src/${CORE.join(', src/')}), none imports src/${FORBIDDEN}/, src/${ABOVE.join('/, src/')}/; ${loops.files} files of src/, no import cycle\n`,
    );
  }
}
