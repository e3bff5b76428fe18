import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { checkItemSchema } from '../exec/schema/compile.js';
import type { UserError } from '../util/errors.js';
import { hashCanonical } from '../util/hash.js';
import { err, ok, type Result } from '../util/result.js';
import { CF_BUILD } from '../version.js';
import type { JsonSchema, Pipeline } from './pipeline.js';
import type { StatCache } from './statCache.js';

/*
 * The phases' item schemas as the pipeline names them (phaseConfig.ts): a file is read with the inputs, every
 * time they are (cf build, status, explain, and every rebuild of cf watch, which keeps its parsed
 * pipeline.yaml), so an edited schema file is seen as an edited intelligence file is. A file is parsed and
 * checked only when its content is new to the stat cache (which keeps the checked schema with the file's
 * hash, for this build of cf): an unchanged schema costs a stat, and loads neither YAML nor ajv. A schema
 * that is not valid JSON or YAML, or not a valid JSON Schema, is reported in its own file, at the line of
 * what is wrong; an inline one in pipeline.yaml (checkInlineSchemas, when pipeline.yaml is parsed).
 */

/** What the stat cache keeps with a schema file: the schema as checked by this build of cf. */
const CHECKED = `item-schema:${CF_BUILD}`;

/** The pipeline with every schema file read and checked (the same object when none changed). */
export async function readSchemaFiles(p: Pipeline, cache: StatCache): Promise<Result<Pipeline, UserError>> {
  let phases = p.phases;
  for (const [i, phase] of p.phases.entries()) {
    const s = phase.schema;
    if (!s || !('file' in s.from)) continue;
    const rel = s.from.file;
    const abs = path.resolve(p.dir, rel);
    const content = await cache.hashFile(abs);
    if (!content) {
      const at = `phases[${i}].schema`;
      return err({ kind: 'config', file: p.file, ...p.locations?.[at], path: at, message: `schema file ${rel} does not exist`, hint: `paths are relative to ${p.file}'s directory` });
    }
    if (content.hash === s.fileHash) continue;
    let checked = cache.derived<{ schema: JsonSchema; hash: string }>(abs, CHECKED);
    if (!checked) {
      const text = content.text ?? (await readFile(abs, 'utf8'));
      const shown = path.relative(process.cwd(), abs) || abs;
      const { parseSchemaText, problemAt } = await import('./schemaText.js');
      const schema = parseSchemaText(text, shown, /\.json$/i.test(rel));
      if (!schema.ok) return schema;
      const hash = hashCanonical(schema.value);
      const compiled = await checkItemSchema(schema.value, hash);
      if (!compiled.ok) return err(problemAt(compiled.problems[0]!, shown, text, []));
      checked = { schema: schema.value, hash };
      cache.setDerived(abs, CHECKED, checked);
    }
    if (phases === p.phases) phases = [...p.phases];
    phases[i] = { ...phase, schema: { from: s.from, schema: checked.schema, hash: checked.hash, fileHash: content.hash } };
  }
  return ok(phases === p.phases ? p : { ...p, phases });
}

/**
 * The inline schemas of a pipeline.yaml being parsed, checked: the first problem at its line in
 * pipeline.yaml (`file`: as shown, `text`: pipeline.yaml's).
 */
export async function checkInlineSchemas(p: Pipeline, file: string, text: string): Promise<Result<Pipeline, UserError>> {
  for (const [i, phase] of p.phases.entries()) {
    const s = phase.schema;
    if (!s || !('inline' in s.from)) continue;
    const compiled = await checkItemSchema(s.schema, s.hash);
    if (!compiled.ok) return err((await import('./schemaText.js')).problemAt(compiled.problems[0]!, file, text, ['phases', i, 'schema']));
  }
  return ok(p);
}
