import type { ErrorObject } from 'ajv';
import type { JsonSchema } from '../../config/pipeline.js';
import { suggestion } from '../../util/didYouMean.js';
import { LruMap } from '../../util/lru.js';
import { schemaProblems, type SchemaProblem } from './problems.js';

/*
 * JSON Schema (draft 2020-12) with ajv, loaded on first use (a build that validates nothing, cf status,
 * never loads it). One ajv for the process; a schema is compiled once per content (cached by its hash), so
 * the check at load time and every batch's validation of a build (or of a whole cf watch session) share it.
 */

/** One item checked: null when it is valid, else its problems. */
export type ItemCheck = (item: unknown) => SchemaProblem[] | null;

export type Compiled = { ok: true; check: ItemCheck } | { ok: false; problems: SchemaProblem[] };

type Ajv = InstanceType<typeof import('ajv/dist/2020.js').Ajv2020>;
let ajvInstance: Promise<Ajv> | undefined;

function ajv(): Promise<Ajv> {
  ajvInstance ??= (async () => {
    const [ajvModule, formatsModule] = await Promise.all([import('ajv/dist/2020.js'), import('ajv-formats')]);
    // Both are CommonJS, whose module.exports (the class, the plugin) also has itself as `default`: what an
    // import gives as `default` is module.exports under Node, and under the esbuild bundle.
    const Ajv2020 = ajvModule.default.default;
    const addFormats = formatsModule.default.default;
    const instance = new Ajv2020({
      // Every problem of an item, so that one retry can fix them all (capped when reported: validator.ts).
      allErrors: true,
      // The value in each error: "must be a string, not 3".
      verbose: true,
      // Unknown keywords and formats are errors (a misspelt "requried" would otherwise check nothing)...
      strict: true,
      // ...but not the style checks that are only advice (and would print to the console).
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      allowUnionTypes: true,
      // Schemas are not registered by their $id: an edited schema with the same $id compiles again.
      addUsedSchema: false,
      // Checked against the meta-schema only when read (checkItemSchema): compiling the meta-schema is most
      // of a first compile's time, which a build validating with an SSi kind's schema need not pay.
      validateSchema: false,
      logger: false,
    });
    addFormats(instance);
    return instance;
  })();
  return ajvInstance;
}

const compiled = new LruMap<string, Compiled>(64);

/**
 * A schema of one output item compiled for validation (`hash`: its canonical content's, the cache key). It
 * was checked when the pipeline was read (checkItemSchema), or is a domain's own.
 */
export async function compileItemSchema(schema: JsonSchema, hash: string): Promise<Compiled> {
  const known = compiled.get(hash);
  if (known) return known;
  const result = await compile(schema, false);
  compiled.set(hash, result);
  return result;
}

/**
 * A schema of one output item as pipeline.yaml names it, checked, and compiled; or what is wrong with it,
 * each problem at a JSON pointer into the schema: not a valid JSON Schema (its meta-schema's errors), an
 * unknown keyword or format, a $ref that resolves to nothing, or a type that no item has.
 */
export async function checkItemSchema(schema: JsonSchema, hash: string): Promise<Compiled> {
  const result = await compile(schema, true);
  compiled.set(hash, result);
  return result;
}

async function compile(schema: JsonSchema, check: boolean): Promise<Compiled> {
  const a = await ajv();
  // An output item is a JSON object (cf's built-in checks): a schema of another type refuses every one.
  const t = schema.type;
  if (t !== undefined && !(t === 'object' || (Array.isArray(t) && t.includes('object')))) {
    return { ok: false, problems: [{ pointer: '/type', message: `an output item is a JSON object: its schema's type must be "object", not ${JSON.stringify(t)}` }] };
  }
  if (check && !(a.validateSchema(schema) as boolean)) return { ok: false, problems: schemaProblems((a.errors ?? []) as ErrorObject[]) };
  let validate: ReturnType<Ajv['compile']>;
  try {
    validate = a.compile(schema);
  } catch (e) {
    return { ok: false, problems: [compileProblem(schema, (e as Error).message)] };
  }
  return { ok: true, check: (item) => (validate(item) ? null : schemaProblems(validate.errors ?? [])) };
}

/** The keywords of draft 2020-12 (and the format names ajv-formats knows), for did-you-mean. */
const KEYWORDS = [
  '$schema', '$id', '$ref', '$defs', '$anchor', '$dynamicRef', '$dynamicAnchor', '$comment', 'type', 'enum', 'const', 'properties',
  'required', 'additionalProperties', 'patternProperties', 'propertyNames', 'minProperties', 'maxProperties', 'dependentRequired',
  'dependentSchemas', 'items', 'prefixItems', 'contains', 'minContains', 'maxContains', 'minItems', 'maxItems', 'uniqueItems',
  'unevaluatedItems', 'unevaluatedProperties', 'minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'title',
  'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', 'contentEncoding', 'contentMediaType',
];

/** ajv's compile error (it names no place) → a problem at the pointer of what it names. */
function compileProblem(schema: JsonSchema, raw: string): SchemaProblem {
  const message = raw.replace(/^strict mode: /, '');
  const keyword = /unknown keyword: "([^"]+)"/.exec(message)?.[1];
  if (keyword !== undefined) {
    return { pointer: pointerOf(schema, (k) => k === keyword) ?? '', key: true, message: `unknown keyword "${keyword}"${suggestion(keyword, KEYWORDS)}` };
  }
  const format = /unknown format "([^"]+)"/.exec(message)?.[1];
  if (format !== undefined) {
    return { pointer: pointerOf(schema, (k, v) => k === 'format' && v === format) ?? '', message: `unknown format "${format}"` };
  }
  const ref = /can't resolve reference (\S+)/.exec(message)?.[1];
  if (ref !== undefined) {
    return { pointer: pointerOf(schema, (k, v) => k === '$ref' && v === ref) ?? '', message: `$ref "${ref}" points to nothing in the schema` };
  }
  return { pointer: '', message };
}

/** The JSON pointer of the first key (depth first, in document order) for which `match` holds. */
function pointerOf(value: unknown, match: (key: string, v: unknown) => boolean, at = ''): string | null {
  if (value === null || typeof value !== 'object') return null;
  for (const [k, v] of Object.entries(value)) {
    const here = `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (!Array.isArray(value) && match(k, v)) return here;
    const deeper = pointerOf(v, match, here);
    if (deeper !== null) return deeper;
  }
  return null;
}
