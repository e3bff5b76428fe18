import type { JsonSchema } from '../../config/pipeline.js';
import { isObject } from './batchSchema.js';

/*
 * What the adapters (strict.ts, loose.ts) give a runner: a batch schema in the subset of JSON Schema a
 * provider takes, and the way back from the answer it decodes to the batch's JSON array. An adapter only
 * drops or loosens what a provider cannot enforce (moved into the description, so the model still reads
 * it) or narrows the schema to a part the original allows: cf checks every answer against the item schema
 * itself, so nothing an adapter drops goes unchecked.
 */

export interface ProviderSchema {
  /** The schema to send. */
  schema: JsonSchema;
  /** It holds to the provider's strict subset (send `strict: true`); false: send it as guidance only (`strict: false`). */
  strict: boolean;
  /** The provider's answer (parsed JSON) → the batch's JSON array (items in the batch's order), for cf's own checks. */
  toItems(answer: unknown): unknown;
  /** What was adapted, where (a JSON pointer into the batch schema) and why: for logs and tests. */
  notes: string[];
}

/** Keywords moved out of a node, kept in its description: "the seed id (minLength: 1)". */
export function withMoved(node: JsonSchema, moved: Record<string, unknown>): JsonSchema {
  const keys = Object.keys(moved);
  if (!keys.length) return node;
  const said = keys.map((k) => `${k}: ${JSON.stringify(moved[k])}`).join('; ');
  const description = typeof node.description === 'string' && node.description ? `${node.description} (${said})` : `(${said})`;
  return { ...node, description };
}

/** Follows a local `$ref` (`#/$defs/x`, `#/…`) in `root`; any other node as it is. */
export function deref(node: unknown, root: JsonSchema): unknown {
  let n = node;
  for (let hops = 0; isObject(n) && typeof n.$ref === 'string' && n.$ref.startsWith('#') && hops < 32; hops++) {
    let target: unknown = root;
    for (const k of n.$ref.slice(1).split('/').slice(1)) {
      const key = k.replaceAll('~1', '/').replaceAll('~0', '~');
      target = isObject(target) ? target[key] : Array.isArray(target) ? target[Number(key)] : undefined;
    }
    if (target === undefined) return n;
    n = target;
  }
  return n;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Whether a value is of the form a schema describes (its type, const or enum; properties: an object). */
export function fits(v: unknown, node: unknown, root: JsonSchema): boolean {
  const s = deref(node, root);
  if (!isObject(s)) return s !== false;
  if ('const' in s) return JSON.stringify(s.const) === JSON.stringify(v);
  if (Array.isArray(s.enum)) return s.enum.some((x) => JSON.stringify(x) === JSON.stringify(v));
  const t = jsonType(v);
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    return types.includes(t) || (t === 'integer' && types.includes('number'));
  }
  const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches)) return branches.some((b) => fits(v, b, root));
  if (s.properties !== undefined || s.additionalProperties !== undefined) return t === 'object';
  if (s.items !== undefined || s.prefixItems !== undefined) return t === 'array';
  return true;
}

/** Whether a schema allows null (then a null in the answer is the value, not "absent"). */
function allowsNull(node: unknown, root: JsonSchema): boolean {
  return fits(null, node, root);
}

/** An object schema that is a map: no named properties, every value of one schema. */
export function isMap(s: JsonSchema): boolean {
  return s.properties === undefined && isObject(s.additionalProperties);
}

/**
 * An answer decoded against an adapted schema → the value the original schema describes: maps sent as
 * `[{key, value}]` entries become objects again, and a null given for a property that was optional (strict
 * mode makes every property required, optional ones nullable) and cannot be null is left out. Walks the
 * original schema (`root` resolves its references); what does not fit is returned as it is, for cf's
 * checks to report.
 */
export function restore(value: unknown, node: unknown, root: JsonSchema): unknown {
  const s = deref(node, root);
  if (!isObject(s)) return value;
  const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches) && s.properties === undefined && s.items === undefined) {
    const branch = branches.find((b) => fits(value, b, root));
    return branch === undefined ? value : restore(value, branch, root);
  }
  if (Array.isArray(value)) {
    if (isMap(s)) {
      if (!value.every((e) => isObject(e) && typeof e.key === 'string')) return value;
      return Object.fromEntries(value.map((e) => [(e as JsonSchema).key as string, restore((e as JsonSchema).value, s.additionalProperties, root)]));
    }
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
    return value.map((x, i) => restore(x, i < prefix.length ? prefix[i] : s.items, root));
  }
  if (isObject(value) && isObject(s.properties)) {
    const props = s.properties;
    const required = new Set(Array.isArray(s.required) ? s.required : []);
    const out: JsonSchema = {};
    for (const [k, x] of Object.entries(value)) {
      if (!(k in props)) out[k] = x;
      else if (x === null && !required.has(k) && !allowsNull(props[k], root)) continue;
      else out[k] = restore(x, props[k], root);
    }
    return out;
  }
  return value;
}
