import type { JsonSchema } from '../../config/pipeline.js';

/*
 * The schema of one agent run's answer, built from the phase's item schema and the run's items: what a
 * runner sends where the model's decoding can be constrained (OpenAI's response_format, Anthropic's output
 * format or forced tool, llama.cpp's grammar), adapted to what each takes (strict.ts, loose.ts). cf checks
 * the answer in full itself whatever was sent (validate.ts, validator.ts).
 */

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/**
 * The batch schema: a JSON array of exactly these items, in this order (for `items: independent`, the run's
 * packed items): `prefixItems` (draft 2020-12) holds one schema per item, the item schema with its id field
 * fixed to that item's id (`const`, listed first, as a model writes properties in the schema's order), and
 * `items: false` with minItems = maxItems = the count allow no other element. The item schema's `$defs`
 * move to the root, where its `#/$defs/…` references resolve (a reference to the item schema's own root, `#`,
 * would resolve to the array: not supported). Pure: the same arguments give the same JSON.
 */
export function batchSchema(item: JsonSchema, ids: readonly string[], idField: string): JsonSchema {
  const { $schema: _schema, $id: _id, $defs, ...body } = item;
  const properties = isObject(body.properties) ? body.properties : {};
  const { [idField]: idSchema, ...others } = properties;
  const required = Array.isArray(body.required) ? body.required.filter((r) => r !== idField) : [];
  const description = isObject(idSchema) && typeof idSchema.description === 'string' ? { description: idSchema.description } : {};
  return {
    $schema: DRAFT_2020_12,
    type: 'array',
    prefixItems: ids.map((id) => ({
      ...body,
      properties: { [idField]: { type: 'string', const: id, ...description }, ...others },
      required: [idField, ...required],
    })),
    items: false,
    minItems: ids.length,
    maxItems: ids.length,
    ...($defs !== undefined ? { $defs } : {}),
  };
}

/**
 * The ids of a batch schema's items, in order (the `const` of each element's id field), or null when it is
 * not one batchSchema built.
 */
export function batchIds(batch: JsonSchema, idField: string): string[] | null {
  if (!Array.isArray(batch.prefixItems)) return null;
  const ids = batch.prefixItems.map((s: unknown) => {
    const p = isObject(s) && isObject(s.properties) ? s.properties[idField] : undefined;
    return isObject(p) && typeof p.const === 'string' ? p.const : null;
  });
  return ids.every((x): x is string => x !== null) && new Set(ids).size === ids.length ? ids : null;
}

export function isObject(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
