import type { JsonSchema } from '../../config/pipeline.js';
import { batchIds, isObject } from './batchSchema.js';
import { restore, withMoved, type ProviderSchema } from './providerSchema.js';

/*
 * A batch schema for OpenAI's strict structured outputs (`response_format: {type: "json_schema",
 * json_schema: {name, strict: true, schema}}`), as the Structured Outputs guide's "Supported schemas"
 * section documents them:
 *
 * - "Root objects must not be anyOf and must be an object": the batch's array becomes an object with one
 *   property per item, named by its id, in the batch's order ("outputs will be produced in the same order as
 *   the ordering of keys in the schema"): the ids, their count and their order stay constrained, which an
 *   array could not keep (prefixItems is not among the supported keywords). The item schema goes once, in
 *   $defs, without its id field (each property's name is the id), and every property refers to it: a batch
 *   of 20 items is not 20 copies of the item schema (tokens, and the grammar the provider compiles).
 *   toItems turns it back, the id put back first in each item.
 * - "All fields must be required" ("it is possible to emulate an optional parameter by using a union type
 *   with null"): an optional property becomes required and nullable; toItems drops its nulls again.
 * - "additionalProperties: false must always be set in objects": set on every object. A map (an object whose
 *   keys are data, `additionalProperties: {schema}`) cannot be written that way: it is sent as an array of
 *   `{key, value}` entries (`propertyNames`' pattern on `key`), turned back into an object by toItems. An
 *   object or array with no schema for its content (free-form) cannot be: the result is `strict: false`.
 * - Supported keywords: type, enum, const, anyOf, $ref/$defs, properties, required, additionalProperties,
 *   items; for strings pattern and format (date-time, time, date, duration, email, hostname, ipv4, ipv6,
 *   uuid); for numbers multipleOf, maximum, exclusiveMaximum, minimum, exclusiveMinimum; for arrays minItems,
 *   maxItems. "Composition: allOf, not, dependentRequired, dependentSchemas, if, then, else" are not. oneOf
 *   becomes anyOf; a tuple (prefixItems) an array of `anyOf` its elements; every other keyword (minLength,
 *   uniqueItems, allOf, …) moves into the description, where the model still reads it.
 * - Limits: "up to 5000 object properties total, with up to 5 levels of nesting"; "total string length of
 *   all property names, definition names, enum values, and const values cannot exceed 120,000 characters";
 *   "up to 1000 enum values": a larger schema is `strict: false`.
 */

const KEEP = new Set(['type', 'description', 'title', 'enum', 'const', '$ref', 'pattern', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'minItems', 'maxItems']);
/** Annotations with nothing to enforce: left out. */
const DROP = new Set(['$schema', '$id', '$comment', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly']);
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);
const LIMITS = { properties: 5000, depth: 5, chars: 120_000, enums: 1000 };

class Strict {
  readonly notes: string[] = [];
  strict = true;

  /** Not expressible in strict mode: the schema goes as guidance (strict: false). */
  loose(at: string, why: string): void {
    this.strict = false;
    this.notes.push(`${at || '/'}: ${why}: sent with strict: false`);
  }

  node(s: unknown, at: string): JsonSchema {
    if (!isObject(s)) {
      this.loose(at, `the schema ${JSON.stringify(s)} has no strict form`);
      return {};
    }
    const out: JsonSchema = {};
    const moved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) {
      if (KEEP.has(k)) out[k] = v;
      else if (k === 'format' && FORMATS.has(String(v))) out[k] = v;
      else if (k === 'anyOf' || k === 'oneOf') {
        out.anyOf = (v as unknown[]).map((b, i) => this.node(b, `${at}/${k}/${i}`));
        if (k === 'oneOf') this.notes.push(`${at}/oneOf: sent as anyOf (strict mode has no oneOf); cf checks that exactly one matches`);
      } else if (k === '$defs') out.$defs = Object.fromEntries(Object.entries(v as JsonSchema).map(([name, d]) => [name, this.node(d, `${at}/$defs/${name}`)]));
      else if (['properties', 'required', 'additionalProperties', 'items', 'prefixItems'].includes(k)) continue;
      // A map's key pattern goes on its entries' `key` (object()); on other objects it is not supported.
      else if (k === 'propertyNames' && s.properties === undefined && isObject(s.additionalProperties)) continue;
      else if (!DROP.has(k)) moved[k] = v;
    }
    if (Object.keys(moved).length) this.notes.push(`${at}: ${Object.keys(moved).join(', ')} not supported in strict mode: moved to the description`);
    const object = s.type === 'object' || s.properties !== undefined || s.additionalProperties !== undefined;
    const array = s.type === 'array' || s.items !== undefined || s.prefixItems !== undefined;
    if (object) Object.assign(out, this.object(s, at));
    else if (array) Object.assign(out, this.array(s, at));
    if (out.type === undefined && out.anyOf === undefined && out.$ref === undefined && out.const === undefined && out.enum === undefined) {
      this.loose(at, 'a value of any type has no strict form');
    }
    return withMoved(out, moved);
  }

  private object(s: JsonSchema, at: string): JsonSchema {
    if (s.properties === undefined && isObject(s.additionalProperties)) {
      const names = isObject(s.propertyNames) && typeof s.propertyNames.pattern === 'string' ? { pattern: s.propertyNames.pattern } : {};
      this.notes.push(`${at}: a map (additionalProperties) sent as an array of {key, value} entries: strict objects have named properties only`);
      return {
        type: 'array',
        items: {
          type: 'object',
          properties: { key: { type: 'string', ...names }, value: this.node(s.additionalProperties, `${at}/additionalProperties`) },
          required: ['key', 'value'],
          additionalProperties: false,
        },
      };
    }
    if (!isObject(s.properties)) {
      this.loose(at, 'an object with no properties named (free-form) has no strict form');
      return { type: 'object' };
    }
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
      this.notes.push(`${at}: additionalProperties not generated (strict mode wants additionalProperties: false)`);
    }
    const required = new Set(Array.isArray(s.required) ? s.required : []);
    const properties: JsonSchema = {};
    for (const [name, p] of Object.entries(s.properties)) {
      const node = this.node(p, `${at}/properties/${name}`);
      // Optional: required, and null for "absent" (toItems leaves it out again).
      properties[name] = required.has(name) ? node : Array.isArray(node.anyOf) ? { ...node, anyOf: [...node.anyOf, { type: 'null' }] } : { anyOf: [node, { type: 'null' }] };
    }
    return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
  }

  private array(s: JsonSchema, at: string): JsonSchema {
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
    const items = isObject(s.items) || s.items === true ? [s.items] : [];
    if (prefix.length) {
      this.notes.push(`${at}/prefixItems: a tuple sent as items: anyOf its elements (strict mode has no prefixItems); cf checks the order`);
      const branches = [...prefix.map((p, i) => this.node(p, `${at}/prefixItems/${i}`)), ...items.map((x) => this.node(x, `${at}/items`))];
      return { type: 'array', items: branches.length === 1 ? branches[0]! : { anyOf: branches } };
    }
    if (!items.length) {
      this.loose(at, 'an array with no schema for its items has no strict form');
      return { type: 'array' };
    }
    return { type: 'array', items: this.node(items[0], `${at}/items`) };
  }
}

/**
 * A batch schema (batchSchema.ts) → the schema OpenAI's strict mode takes, and the way back from its answer
 * to the batch's array. Pure.
 */
export function strictSchema(batch: JsonSchema, idField: string): ProviderSchema {
  const c = new Strict();
  const ids = batchIds(batch, idField);
  const defs = isObject(batch.$defs) ? { $defs: Object.fromEntries(Object.entries(batch.$defs).map(([name, d]) => [name, c.node(d, `/$defs/${name}`)])) } : {};
  let schema: JsonSchema;
  let toItems: (answer: unknown) => unknown;
  if (ids?.length) {
    // Every element is the item schema with its id a const: sent once, in $defs, without the id (each
    // property's name is the id). Per element, it would be the item schema again for every item of the batch.
    const element = withoutId((batch.prefixItems as JsonSchema[])[0]!, idField);
    const name = defName(isObject(batch.$defs) ? batch.$defs : {});
    const item = c.node(element, '/prefixItems/0');
    const properties = Object.fromEntries(ids.map((id) => [id, { $ref: `#/$defs/${name}` }]));
    schema = {
      type: 'object',
      description: 'The items, each under its id, in this order.',
      properties,
      required: ids,
      additionalProperties: false,
      $defs: { ...(defs.$defs ?? {}), [name]: item },
    };
    c.notes.push(`/: the array of items sent as an object with one property per item id, in order (a strict root is an object); the item's schema once, as $defs/${name}, its id the property's name`);
    // An id left out stays out: cf's checks name it as missing. An id the answer gives inside an item wins
    // over its key, so that cf's checks see a mismatch.
    toItems = (answer) =>
      isObject(answer) ? ids.flatMap((id) => (id in answer ? [withIdOf(id, restore(answer[id], element, batch), idField)] : [])) : answer;
  } else {
    const { $defs: _defs, $schema: _schema, ...body } = batch;
    schema = { type: 'object', properties: { items: c.node(body, '') }, required: ['items'], additionalProperties: false, ...defs };
    c.notes.push('/: the array sent as the property "items" of an object (a strict root is an object)');
    toItems = (answer) => (isObject(answer) && 'items' in answer ? restore(answer.items, batch, batch) : answer);
  }
  const size = measure(schema);
  if (size.properties > LIMITS.properties || size.depth > LIMITS.depth || size.chars > LIMITS.chars || size.enums > LIMITS.enums) {
    c.loose('', `over strict mode's limits (${size.properties} properties, ${size.depth} levels of objects, ${size.chars} characters of names and values, ${size.enums} enum values)`);
  }
  return { schema, strict: c.strict, toItems, notes: c.notes };
}

/** An element of a batch schema without its id property (and no longer requiring it). */
function withoutId(element: JsonSchema, idField: string): JsonSchema {
  const { [idField]: _id, ...properties } = isObject(element.properties) ? element.properties : {};
  const required = Array.isArray(element.required) ? element.required.filter((r) => r !== idField) : [];
  return { ...element, properties, required };
}

/** The item back with its id (first, as items are written); a value that is not an object as it is. */
function withIdOf(id: string, value: unknown, idField: string): unknown {
  return isObject(value) ? { [idField]: id, ...value } : value;
}

/** A name for the item's definition that the item schema's own $defs do not use. */
function defName(defs: JsonSchema): string {
  let name = 'item';
  for (let i = 2; name in defs; i++) name = `item${i}`;
  return name;
}

/** What strict mode's limits count: object properties, levels of nested objects, names and values, enum values. */
function measure(s: unknown, depth = 0): { properties: number; depth: number; chars: number; enums: number } {
  const total = { properties: 0, depth, chars: 0, enums: 0 };
  if (Array.isArray(s)) {
    for (const x of s) add(total, measure(x, depth));
    return total;
  }
  if (!isObject(s)) return total;
  const props = isObject(s.properties) ? s.properties : null;
  const level = props ? depth + 1 : depth;
  total.depth = level;
  if (props) {
    total.properties += Object.keys(props).length;
    total.chars += Object.keys(props).join('').length;
  }
  if (isObject(s.$defs)) total.chars += Object.keys(s.$defs).join('').length;
  if (Array.isArray(s.enum)) {
    total.enums += s.enum.length;
    total.chars += s.enum.map(String).join('').length;
  }
  if (typeof s.const === 'string') total.chars += s.const.length;
  for (const [k, v] of Object.entries(s)) if (typeof v === 'object' && v !== null && k !== 'enum' && k !== 'const') add(total, measure(v, level));
  return total;
}

function add(into: { properties: number; depth: number; chars: number; enums: number }, x: { properties: number; depth: number; chars: number; enums: number }): void {
  into.properties += x.properties;
  into.depth = Math.max(into.depth, x.depth);
  into.chars += x.chars;
  into.enums += x.enums;
}
