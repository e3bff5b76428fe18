import { LineCounter, parseDocument } from 'yaml';
import type { SchemaProblem } from '../exec/schema/problems.js';
import type { UserError } from '../util/errors.js';
import { lineOf } from '../util/fsx.js';
import { err, ok, type Result } from '../util/result.js';
import { formatKeyPath, Locator } from './diagnostics.js';
import type { JsonSchema } from './pipeline.js';

/*
 * A schema's text as cf reads it, and where in that text a problem is: the YAML parser (JSON is YAML) gives
 * the line and column of a JSON pointer in either. Loaded only when a schema file is read or is wrong
 * (itemSchemas.ts).
 */

const HINT = 'a schema file holds the JSON Schema (draft 2020-12) of ONE output item, as JSON or YAML';

/** A schema file's text → the schema (an object), or where it is not valid JSON or YAML. */
export function parseSchemaText(text: string, file: string, json: boolean): Result<JsonSchema, UserError> {
  let value: unknown;
  if (json) {
    try {
      value = JSON.parse(text);
    } catch (e) {
      const message = (e as Error).message;
      const at = Number(/position (\d+)/.exec(message)?.[1] ?? NaN);
      return err({ kind: 'config', file, ...(Number.isNaN(at) ? {} : { line: lineOf(text, at) }), message: `not valid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}`, hint: HINT });
    }
  } else {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    const e = doc.errors[0];
    if (e) {
      const pos = e.linePos?.[0];
      return err({ kind: 'config', file, line: pos?.line, column: pos?.col, message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, hint: HINT });
    }
    value = doc.toJS();
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return err({ kind: 'config', file, line: 1, message: `expected a JSON Schema object, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`, hint: HINT });
  }
  return ok(value as JsonSchema);
}

/**
 * A problem of a schema where it is written: `file` (a schema file, or pipeline.yaml with the schema at key
 * path `base`), located by its JSON pointer (JSON is YAML: one parser gives lines and columns for both).
 */
export function problemAt(problem: SchemaProblem, file: string, text: string, base: PropertyKey[]): UserError {
  const keys: PropertyKey[] = problem.pointer
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  const lines = new LineCounter();
  const at = [...base, ...keys];
  const locator = new Locator(parseDocument(text, { lineCounter: lines }), lines);
  const where = problem.key && keys.length ? locator.at(at.slice(0, -1), String(at.at(-1))) : locator.at(at);
  return {
    kind: 'config',
    file,
    ...where,
    ...(at.length ? { path: formatKeyPath(at) } : {}),
    message: `not a valid item schema: ${problem.message}`,
    hint: 'cf checks every output item against it with ajv (JSON Schema draft 2020-12; unknown keywords are errors)',
  };
}
