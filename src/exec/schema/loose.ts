import type { JsonSchema } from '../../config/pipeline.js';
import { isObject } from './batchSchema.js';
import { deref, withMoved, type ProviderSchema } from './providerSchema.js';

/*
 * A batch schema for servers that turn JSON Schema into a grammar, as llama.cpp's server does with
 * `response_format: {type: "json_schema", json_schema: {schema}}` (common/json-schema-to-grammar.cpp; its
 * limits are listed in grammars/README.md, "JSON Schemas → GBNF"). "Unsupported features are skipped
 * silently", or fail the conversion; so:
 *
 * - `items: false` is removed: the converter reads `items` before `prefixItems` and fails on a boolean
 *   ("Unrecognized schema: false"); `prefixItems` alone is read as a tuple of exactly those elements, in
 *   order, which is what the batch schema means (minItems and maxItems are kept).
 * - "patterns must start with ^ and end with $" (else the conversion fails): an unanchored pattern is
 *   anchored with `.*`; `\d` becomes [0-9]; a pattern using other escapes (\w, \s, \b, …, copied into the
 *   grammar as they are) or lookaround ("Unsupported pattern syntax") moves into the description.
 * - "string formats lack uri, email": only date, time, date-time and uuid have grammar rules; other formats
 *   move into the description.
 * - "minimum, exclusiveMinimum, maximum, exclusiveMaximum: only supported for type: integer": on numbers
 *   they move into the description.
 * - "Can't mix properties w/ anyOf / oneOf in the same type" (issue 7703): the object's properties are
 *   merged into each branch.
 * - "Nested $refs are broken" (issue 8073): local references are inlined (a recursive one is kept).
 * - No patternProperties, uniqueItems, contains, not, if/then/else, dependentSchemas ("unlikely to be
 *   implemented"), nor propertyNames, min/maxProperties, unevaluated*: moved into the description.
 *
 * The answer is the batch's array itself: toItems gives it back as it is. Pure.
 */

const GRAMMAR_FORMATS = new Set(['date', 'time', 'date-time', 'uuid']);
const UNSUPPORTED = new Set([
  'patternProperties', 'uniqueItems', 'contains', 'minContains', 'maxContains', 'not', 'if', 'then', 'else', 'dependentSchemas',
  'dependentRequired', 'propertyNames', 'minProperties', 'maxProperties', 'unevaluatedProperties', 'unevaluatedItems',
]);
const BOUNDS = ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum'];

class Loose {
  readonly notes: string[] = [];
  private readonly inlining = new Set<string>();

  constructor(private readonly root: JsonSchema) {}

  node(s: unknown, at: string): unknown {
    if (!isObject(s)) return s;
    if (typeof s.$ref === 'string' && s.$ref.startsWith('#') && !this.inlining.has(s.$ref)) {
      const target = deref(s, this.root);
      if (target !== s) {
        this.inlining.add(s.$ref);
        const { $ref: _ref, ...rest } = s;
        const inlined = this.node({ ...(target as JsonSchema), ...rest }, at);
        this.inlining.delete(s.$ref);
        this.notes.push(`${at}: $ref ${s.$ref} inlined (nested references are broken in llama.cpp)`);
        return inlined;
      }
    }
    const union = (['anyOf', 'oneOf'] as const).find((k) => Array.isArray(s[k]));
    if (union && (s.properties !== undefined || s.required !== undefined)) {
      const { [union]: branches, ...base } = s;
      this.notes.push(`${at}: properties merged into each ${union} branch (llama.cpp cannot mix them)`);
      return this.node({ [union]: (branches as unknown[]).map((b) => (isObject(b) ? merge(base, b) : b)) }, at);
    }
    const out: JsonSchema = {};
    const moved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) {
      if (k === 'items' && v === false) {
        if (!Array.isArray(s.prefixItems)) moved[k] = v;
        continue;
      }
      if (k === 'pattern') {
        const p = grammarPattern(String(v));
        if (p === null) moved[k] = v;
        else out[k] = p;
      } else if (k === 'format' && !GRAMMAR_FORMATS.has(String(v))) moved[k] = v;
      else if (BOUNDS.includes(k) && s.type !== 'integer') moved[k] = v;
      else if (UNSUPPORTED.has(k)) moved[k] = v;
      else if (k === 'properties' || k === '$defs') out[k] = Object.fromEntries(Object.entries(v as JsonSchema).map(([n, x]) => [n, this.node(x, `${at}/${k}/${n}`)]));
      else if (k === 'items' || k === 'additionalProperties') out[k] = this.node(v, `${at}/${k}`);
      else if (k === 'prefixItems' || k === 'anyOf' || k === 'oneOf' || k === 'allOf') out[k] = (v as unknown[]).map((x, i) => this.node(x, `${at}/${k}/${i}`));
      else out[k] = v;
    }
    if (Object.keys(moved).length) this.notes.push(`${at}: ${Object.keys(moved).join(', ')} not supported by llama.cpp's grammar: moved to the description`);
    return withMoved(out, moved);
  }
}

/** The batch's schema (batchSchema.ts) → what llama.cpp's JSON-Schema-to-grammar conversion takes. */
export function looseSchema(batch: JsonSchema): ProviderSchema {
  const c = new Loose(batch);
  const schema = c.node(batch, '') as JsonSchema;
  return { schema, strict: false, toItems: (answer) => answer, notes: c.notes };
}

/** A branch of an anyOf with the object's own properties and required merged in. */
function merge(base: JsonSchema, branch: JsonSchema): JsonSchema {
  const props = { ...(isObject(base.properties) ? base.properties : {}), ...(isObject(branch.properties) ? branch.properties : {}) };
  const required = [...new Set([...(Array.isArray(base.required) ? base.required : []), ...(Array.isArray(branch.required) ? branch.required : [])])];
  return { ...base, ...branch, ...(Object.keys(props).length ? { properties: props } : {}), ...(required.length ? { required } : {}) };
}

/**
 * A pattern as llama.cpp's converter reads it: anchored at both ends, `\d` as [0-9]; null when it uses an
 * escape or a construct the converter does not translate.
 */
export function grammarPattern(p: string): string | null {
  if (/\(\?[=!<]/.test(p)) return null;
  let body = p;
  const start = body.startsWith('^');
  const end = body.endsWith('$') && !body.endsWith('\\$');
  if (start) body = body.slice(1);
  if (end) body = body.slice(0, -1);
  let out = '';
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\') {
      const next = body[i + 1] ?? '';
      if (next === 'd') out += inClass ? '0-9' : '[0-9]';
      else if (/[A-Za-z]/.test(next) && !'tnr'.includes(next)) return null;
      else out += ch + next;
      i++;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === ']') inClass = false;
    out += ch;
  }
  if (start && end) return `^${out}$`;
  return `^${start ? '' : '.*'}(?:${out})${end ? '' : '.*'}$`;
}
