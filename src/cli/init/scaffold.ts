import { lstatSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { UserError } from '../../util/errors.js';
import { err, ok, type Result } from '../../util/result.js';
import { SCHEMA_LINE, templateFiles, type TemplateName } from './templates.js';

/**
 * Writes a template's files into `dir` (made if missing). Nothing is overwritten: when any file the
 * template would write exists, nothing is written and the error names it (exit 2). The pipeline.yaml
 * written starts with the line that points editors at its JSON Schema.
 */
export async function scaffold(packageRoot: string, name: TemplateName, dir: string, shown: (file: string) => string): Promise<Result<{ created: string[] }, UserError>> {
  const files = templateFiles(packageRoot, name);
  const at = (dest: string): string => path.join(dir, ...dest.split('/'));
  if (exists(dir) && !statSync(dir).isDirectory()) return err({ kind: 'usage', message: `${shown(dir)} is a file, not a directory`, hint: 'cf init DIR: a new or empty directory' });
  const taken = files.map((f) => f.dest).filter((d) => exists(at(d)));
  if (taken.length) {
    const list = taken.slice(0, 3).map((d) => shown(at(d))).join(', ') + (taken.length > 3 ? ` and ${taken.length - 3} more` : '');
    return err({ kind: 'usage', message: `${list} already exist${taken.length === 1 ? 's' : ''}: cf init writes only new files, and wrote nothing`, hint: 'cf init DIR: a new or empty directory (or move those files away)' });
  }
  // Read everything first: a package missing a file (schema/ not built) writes nothing either.
  const contents: string[] = [];
  for (const f of files) {
    if (f.source === null) {
      contents.push(f.text ?? '');
      continue;
    }
    try {
      const text = await readFile(path.join(packageRoot, f.source), 'utf8');
      // The example's own schema line (its path in the repository) gives way to the copy's.
      contents.push(f.dest === 'pipeline.yaml' ? `${SCHEMA_LINE}\n${text.replace(/^# yaml-language-server: .*\n/, '')}` : text);
    } catch (e) {
      return err({ kind: 'usage', message: `cf's package has no ${f.source} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, hint: f.source.startsWith('schema/') ? 'npm run build writes it' : 'reinstall cf' });
    }
  }
  for (const [i, f] of files.entries()) {
    await mkdir(path.dirname(at(f.dest)), { recursive: true });
    // wx: a file that appeared since the check is not overwritten either.
    await writeFile(at(f.dest), contents[i]!, { flag: 'wx' });
  }
  return ok({ created: files.map((f) => f.dest) });
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
