#!/usr/bin/env node
// The import rule of cf's layers: the generic core (src/config, src/engine, src/store, src/exec,
// src/events) imports nothing from src/domains/ (a domain is a plug-in, registered by the composition
// root: src/app, src/cli and tests may import it). Run by `npm test` before the tests; exit 1 on a breach.
//
// Imports are read with TypeScript's own pre-processor: static imports, `import type`, re-exports and
// dynamic import() alike.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const CORE = ['config', 'engine', 'store', 'exec', 'events'];
const FORBIDDEN = 'domains';

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

/** Every import of src/domains/ from a core file under `root`: {file, line, spec} (paths relative to root). */
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
        if (target.split(path.sep)[0] !== FORBIDDEN) continue;
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
  for (const b of breaches) process.stderr.write(`${b.file}:${b.line}: imports ${b.spec}\n`);
  if (breaches.length) {
    process.stderr.write(
      `check-imports: ${breaches.length} import${breaches.length === 1 ? '' : 's'} of src/${FORBIDDEN}/ from core (src/${CORE.join(', src/')}); ` +
        'plug the domain in through the registry (src/config/registry.ts), registered by the composition root (src/app)\n',
    );
    process.exitCode = 1;
  } else {
    process.stdout.write(`check-imports: ${files} core files (src/${CORE.join(', src/')}), none imports src/${FORBIDDEN}/\n`);
  }
}
