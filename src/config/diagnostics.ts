import { isMap, isPair, isScalar, type Document, type LineCounter } from 'yaml';
import type { z } from 'zod';
import { suggestion } from '../util/didYouMean.js';
import type { UserError } from '../util/errors.js';
import type { Result } from '../util/result.js';

/*
 * What a pipeline.yaml error says and where: the line and column of the key, its key path, and a
 * did-you-mean for an unknown key. zod's issues are turned into one UserError here.
 */

/** Reports a problem at a key path of pipeline.yaml (as parse.ts sets it up for one file). */
export type Fail = (at: PropertyKey[], message: string, hint?: string) => Result<never, UserError>;

/**
 * The keys the schema allows at a key path (walking objects, arrays, records and the forms of a union):
 * for did-you-mean on unknown keys.
 */
function allowedKeys(schema: z.core.$ZodType, at: readonly PropertyKey[]): string[] {
  return [...new Set(keysAt(schema, at))];
}

function keysAt(schema: z.core.$ZodType, at: readonly PropertyKey[]): string[] {
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
      return keysAt(def.innerType as z.core.$ZodType, at);
    case 'pipe':
      return keysAt(def.in as z.core.$ZodType, at);
    case 'union':
      return (def.options as z.core.$ZodType[]).flatMap((o) => keysAt(o, at));
    case 'array':
      return at.length === 0 ? [] : keysAt(def.element as z.core.$ZodType, at.slice(1));
    case 'object': {
      const shape = def.shape as Record<string, z.core.$ZodType>;
      if (at.length === 0) return Object.keys(shape);
      const next = shape[String(at[0])];
      return next ? keysAt(next, at.slice(1)) : [];
    }
    case 'record': {
      if (at.length > 0) return keysAt(def.valueType as z.core.$ZodType, at.slice(1));
      const keyDef = (def.keyType as z.core.$ZodType)._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
      return keyDef.type === 'enum' ? Object.keys(keyDef.entries as Record<string, unknown>) : [];
    }
    default:
      return [];
  }
}

export function formatKeyPath(at: readonly PropertyKey[]): string {
  let out = '';
  for (const p of at) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/** Locates a key path in the YAML document: the line and column of the value (or of `key` in the map at `at`). */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(at: readonly PropertyKey[], key?: string): { line?: number; column?: number } {
    let node: unknown = this.doc.getIn(at as unknown[], true);
    let trimmed = [...at];
    while (node === undefined && trimmed.length > 0) {
      trimmed = trimmed.slice(0, -1);
      node = this.doc.getIn(trimmed as unknown[], true);
    }
    if (node === undefined) node = this.doc.contents;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key)) node = pair.key;
    }
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (!range) return {};
    const pos = this.lines.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  }
}

/**
 * A value that may take several forms (a command string or argv, or an object) fails as a whole with zod's
 * bare "Invalid input". When exactly one form matches the value's type, its own issue says more: use it.
 */
function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const wrongType = (i: z.core.$ZodIssue): boolean =>
    i.path.length === 0 && (i.code === 'invalid_type' || (i.code === 'invalid_union' && i.errors.every((b) => b.every(wrongType))));
  const deeper = issue.errors.filter((branch) => branch.length > 0 && !branch.every(wrongType));
  if (deeper.length !== 1) return issue;
  const inner = deeper[0]!.find((i) => i.code === 'unrecognized_keys') ?? deeper[0]![0]!;
  return unwrapUnion({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue);
}

/** The one error a file the schema refused is reported with (`file`: as shown to the user). */
export function schemaError(schema: z.core.$ZodType, issues: readonly z.core.$ZodIssue[], file: string, loc: Locator): UserError {
  // An unknown key first: it is often the misspelling of the key reported missing.
  const issue = unwrapUnion(issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const where = loc.at(issue.path, key);
    return {
      kind: 'config',
      file,
      ...where,
      path: formatKeyPath([...issue.path, key]),
      message: `unknown key "${key}"${suggestion(key, allowedKeys(schema, issue.path))}`,
      hint: `allowed here: ${allowedKeys(schema, issue.path).join(', ')}`,
    };
  }
  const where = loc.at(issue.path);
  const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
  return {
    kind: 'config',
    file,
    ...where,
    path: formatKeyPath(issue.path) || '(top level)',
    message: missing ? 'this key is required' : issue.message,
  };
}
