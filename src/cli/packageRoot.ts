import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * cf's package directory: what it ships beside its code (templates/, schema/, the example course). Found
 * by walking up from this module, which is src/cli/ when run from the sources (tests) and
 * dist/bundle/chunks/ (or dist/bundle/) when bundled, to the first directory holding package.json and
 * templates/. Null when cf runs from elsewhere (a bundle copied out of its package).
 */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates'))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}
