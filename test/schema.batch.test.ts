import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../src/config/pipeline.js';
import { itemSchemas } from '../src/domains/ssi/schemas.js';
import { batchSchema, DRAFT_2020_12 } from '../src/exec/schema/batchSchema.js';
import { grammarPattern, looseSchema } from '../src/exec/schema/loose.js';
import { strictSchema } from '../src/exec/schema/strict.js';

/*
 * The batch schema (src/exec/schema/batchSchema.ts) and its adaptations to what providers take (strict.ts:
 * OpenAI strict mode; loose.ts: llama.cpp's grammar), as the JSON a runner would send.
 */

const ITEM: JsonSchema = {
  $schema: DRAFT_2020_12,
  type: 'object',
  properties: {
    text: { type: 'string', minLength: 1 },
    id: { type: 'string', description: 'the input item id' },
    score: { type: 'number', minimum: 0 },
    tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+\\d?$' } },
  },
  required: ['text', 'id'],
};
const IDS = ['S0001', 'S0002', 'S0003'];
const element = (id: string): JsonSchema => ({
  type: 'object',
  properties: {
    id: { type: 'string', const: id, description: 'the input item id' },
    text: { type: 'string', minLength: 1 },
    score: { type: 'number', minimum: 0 },
    tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+\\d?$' } },
  },
  required: ['id', 'text'],
});

describe('the batch schema', () => {
  it('is an array of exactly the batch items in order, each id a const, and nothing else', () => {
    const batch = batchSchema(ITEM, IDS, 'id');
    expect(JSON.stringify(batch, null, 1)).toBe(
      JSON.stringify(
        { $schema: DRAFT_2020_12, type: 'array', prefixItems: IDS.map(element), items: false, minItems: 3, maxItems: 3 },
        null,
        1,
      ),
    );
    const check = new Ajv2020({ strict: true }).compile(batch);
    const answer = IDS.map((id) => ({ id, text: `t ${id}` }));
    expect(check(answer)).toBe(true);
    expect(check([answer[1], answer[0], answer[2]])).toBe(false);
    expect(check([...answer, { id: 'S0004', text: 'x' }])).toBe(false);
    expect(check(answer.slice(0, 2))).toBe(false);
  });

  it('keeps the item schema\'s $defs at the root, where its references resolve', () => {
    const item = { type: 'object', properties: { seed_id: { type: 'string' }, p: { $ref: '#/$defs/pair' } }, $defs: { pair: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } } };
    const batch = batchSchema(item, ['x'], 'seed_id');
    expect(batch.$defs).toEqual(item.$defs);
    expect((batch.prefixItems as JsonSchema[])[0]).not.toHaveProperty('$defs');
    const check = new Ajv2020().compile(batch);
    expect(check([{ seed_id: 'x', p: { a: 'ok' } }])).toBe(true);
    expect(check([{ seed_id: 'x', p: {} }])).toBe(false);
  });
});

describe('adapted for OpenAI strict mode', () => {
  it('sends an object keyed by id (the item schema once, without its id), every property required (optional ones nullable), no extra properties, unsupported keywords in the description', () => {
    const sent = strictSchema(batchSchema(ITEM, IDS, 'id'), 'id');
    expect(sent.strict).toBe(true);
    expect(sent.schema).toEqual({
      type: 'object',
      description: 'The items, each under its id, in this order.',
      properties: Object.fromEntries(IDS.map((id) => [id, { $ref: '#/$defs/item' }])),
      required: IDS,
      additionalProperties: false,
      $defs: {
        item: {
          type: 'object',
          properties: {
            text: { type: 'string', description: '(minLength: 1)' },
            score: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'null' }] },
            tags: { anyOf: [{ type: 'array', items: { type: 'string', pattern: '^[a-z]+\\d?$' } }, { type: 'null' }] },
          },
          required: ['text', 'score', 'tags'],
          additionalProperties: false,
        },
      },
    });
    expect(Object.keys(sent.schema.properties as object)).toEqual(IDS);
    // The answer back to the batch's array: in the batch's order, each id put back first, nulls of optional properties left out.
    const answer = { S0002: { text: 'b', score: null, tags: ['x'] }, S0001: { text: 'a', score: 2, tags: null } };
    expect(sent.toItems(answer)).toEqual([
      { id: 'S0001', text: 'a', score: 2 },
      { id: 'S0002', text: 'b', tags: ['x'] },
    ]);
    // An id written inside an item (a server that did not hold to the schema) is kept, for cf's checks to see.
    expect(sent.toItems({ S0001: { id: 'S0009', text: 'a' } })).toEqual([{ id: 'S0009', text: 'a' }]);
    expect(sent.toItems('not json')).toBe('not json');
    // The item schema's own $defs keep their names; the item's takes one they do not use.
    const withDefs = strictSchema(batchSchema({ ...ITEM, $defs: { item: { type: 'string' } } }, IDS, 'id'), 'id');
    expect(Object.keys(withDefs.schema.$defs as object)).toEqual(['item', 'item2']);
  });

  it('sends a map as {key, value} entries and turns them back; a free-form object is strict: false', () => {
    const baskets = itemSchemas.find((s) => s.name === 'lego_baskets')!.schema;
    const sent = strictSchema(batchSchema(baskets, ['S0001'], 'seed_id'), 'seed_id');
    expect(sent.strict).toBe(true);
    const map = ((sent.schema.$defs as JsonSchema).item as { properties: { baskets: JsonSchema } }).properties.baskets;
    expect(map).toMatchObject({ type: 'array', items: { properties: { key: { type: 'string', pattern: '^.+L[0-9]+$' } }, required: ['key', 'value'], additionalProperties: false } });
    const basket = { lego: { known: 'a', target: 'b' }, is_final_lego: true, practice_phrases: [], phrase_count: 0 };
    expect(sent.toItems({ S0001: { baskets: [{ key: 'S0001L01', value: basket }] } })).toEqual([{ seed_id: 'S0001', baskets: { S0001L01: basket } }]);
    expect(sent.notes.join('\n')).toContain('a map (additionalProperties) sent as an array of {key, value} entries');

    const free = strictSchema(batchSchema({ type: 'object', properties: { id: { type: 'string' }, meta: { type: 'object' } } }, ['a'], 'id'), 'id');
    expect(free.strict).toBe(false);
    expect(free.notes.join('\n')).toContain('/prefixItems/0/properties/meta: an object with no properties named (free-form) has no strict form');
  });
});

describe('adapted for llama.cpp', () => {
  it('drops items: false, keeps the tuple and its counts, and moves what the grammar cannot hold into the description', () => {
    const item = { ...ITEM, properties: { ...(ITEM.properties as JsonSchema), email: { type: 'string', format: 'email' }, when: { type: 'string', format: 'date' } } };
    const sent = looseSchema(batchSchema(item, IDS, 'id'));
    expect(sent.schema).not.toHaveProperty('items');
    expect(sent.schema).toMatchObject({ type: 'array', minItems: 3, maxItems: 3 });
    const first = (sent.schema.prefixItems as JsonSchema[])[0]!;
    expect(first.properties).toEqual({
      id: { type: 'string', const: 'S0001', description: 'the input item id' },
      text: { type: 'string', minLength: 1 },
      score: { type: 'number', description: '(minimum: 0)' },
      tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+[0-9]?$' } },
      email: { type: 'string', description: '(format: "email")' },
      when: { type: 'string', format: 'date' },
    });
    const answer = [{ id: 'S0001', text: 'a' }];
    expect(sent.toItems(answer)).toBe(answer);
  });

  it('anchors patterns as the grammar needs, and gives up on escapes it does not translate', () => {
    expect(grammarPattern('^S\\d{4}$')).toBe('^S[0-9]{4}$');
    expect(grammarPattern('^[A-Z\\d]+')).toBe('^(?:[A-Z0-9]+).*$');
    expect(grammarPattern('L[0-9]+$')).toBe('^.*(?:L[0-9]+)$');
    expect(grammarPattern('\\w+')).toBeNull();
    expect(grammarPattern('^(?!x).*$')).toBeNull();
  });

  it('inlines local references and merges properties into anyOf branches', () => {
    const item = {
      type: 'object',
      properties: { id: { type: 'string' }, p: { $ref: '#/$defs/pair' } },
      $defs: { pair: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], anyOf: [{ properties: { b: { type: 'string' } } }, { required: ['c'] }] } },
    };
    const p = ((looseSchema(batchSchema(item, ['x'], 'id')).schema.prefixItems as JsonSchema[])[0]!.properties as JsonSchema).p;
    expect(p).toEqual({
      anyOf: [
        { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a'] },
        { type: 'object', properties: { a: { type: 'string' } }, required: ['a', 'c'] },
      ],
    });
  });
});
