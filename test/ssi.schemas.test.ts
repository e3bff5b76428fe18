import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Item } from '../src/config/seeds.js';
import { readDocument } from '../src/domains/ssi/formats.js';
import { itemSchemas } from '../src/domains/ssi/schemas.js';
import type { SsiKind } from '../src/domains/ssi/types.js';
import { checkItemSchema, type ItemCheck } from '../src/exec/schema/compile.js';
import { itemErrors } from '../src/exec/schema/validator.js';
import { hashCanonical, initHashing } from '../src/util/hash.js';
import { SHARED_SSI, sharedData } from './helpers/sharedData.js';

/*
 * The SSi kinds' item schemas (src/domains/ssi/schemas.ts): they are valid JSON Schemas, they accept the real course data
 * (../shared/data/ssi, read there, never copied) as cf holds it (items read by the kind's reader), and a
 * broken item gets errors naming it and the pointer of what is wrong.
 */

async function checker(kind: SsiKind): Promise<ItemCheck> {
  await initHashing();
  const schema = itemSchemas.find((s) => s.name === kind)!.schema;
  const c = await checkItemSchema(schema, hashCanonical(schema));
  if (!c.ok) throw new Error(JSON.stringify(c.problems));
  return c.check;
}

function items(kind: SsiKind, file: string): Item[] {
  const r = readDocument(kind, JSON.parse(readFileSync(path.join(SHARED_SSI, file), 'utf8')));
  if (!r.ok) throw new Error(r.error);
  return r.items as Item[];
}

describe('the SSi item schemas', () => {
  it('compile, and name the item, the pointer and the allowed values of what is wrong', async () => {
    for (const kind of ['seed_pairs', 'lego_pairs', 'lego_baskets'] as const) await checker(kind);
    const item = {
      seed_id: 'S0045',
      seed_pair: { known: 'I want', target: 'Quiero' },
      legos: [
        { id: 'S0045L01', type: 'A', lego: { known: 'I want', target: 'quiero' } },
        { id: 'S0045L02', type: 'M', lego: { known: 'to', target: 7 }, components: [{ known: 'to' }, 'a'] },
        { id: 'S0045L03', type: 'X', lego: { known: 'x', target: 'y' } },
        { id: 'L3', type: 'A' },
      ],
    };
    expect(itemErrors([item], await checker('lego_pairs'), 'seed_id').map((e) => `${e.item}: ${e.message}`)).toEqual([
      'S0045: /legos/1/lego/target: must be a string, not 7',
      'S0045: /legos/1/components/0: missing the required property "target"',
      'S0045: /legos/2/type: must be "A" or "M", not "X"',
      'S0045: /legos/3: missing the required property "lego"',
      'S0045: /legos/3/id: must match ^.+L[0-9]+$, not "L3"',
    ]);
    const basket = { seed_id: 'S0001', baskets: { nope: { lego: { known: 'a', target: 'b' }, is_final_lego: 'yes', practice_phrases: [], phrase_count: 0 } } };
    expect(itemErrors([basket], await checker('lego_baskets'), 'seed_id').map((e) => e.message)).toEqual([
      '/baskets: the property name "nope" does not match ^.+L[0-9]+$',
      '/baskets/nope/is_final_lego: must be true or false, not a string ("yes")',
    ]);
  });
});

describe.runIf(sharedData('the SSi schemas on the real course (../shared/data/ssi)'))('the SSi item schemas on the real course (../shared/data/ssi)', () => {
  it('accept every item of every real document, and check 20,000 items fast', async () => {
    const real: Array<[SsiKind, string, number]> = [
      ['seed_pairs', 'spa_for_eng/seed_pairs.json', 668],
      ['lego_pairs', 'spa_for_eng/lego_pairs.json', 668],
      ['lego_pairs', 'spa_for_eng_test/lego_pairs.json', 75],
      ['lego_pairs', 'spa_for_eng_test/seeds/S0001.json', 1],
      ['lego_baskets', 'spa_for_eng/lego_baskets.sample_S0001-S0100.json', 100],
    ];
    for (const [kind, file, n] of real) {
      const all = items(kind, file);
      expect(all, file).toHaveLength(n);
      expect(itemErrors(all, await checker(kind), 'seed_id'), file).toEqual([]);
    }
    // The raw seeds of lego_pairs.json too (with the merge's `new` flags), as an agent copying them would write.
    const raw = (JSON.parse(readFileSync(path.join(SHARED_SSI, 'spa_for_eng/lego_pairs.json'), 'utf8')) as { seeds: Item[] }).seeds;
    expect(itemErrors(raw, await checker('lego_pairs'), 'seed_id')).toEqual([]);

    // 20,000 lego_pairs items (the real 668, over and over): a build's whole validation, measured.
    const check = await checker('lego_pairs');
    const many = Array.from({ length: 20_000 }, (_, i) => raw[i % raw.length]!);
    const t0 = performance.now();
    expect(itemErrors(many, check, 'seed_id')).toEqual([]);
    const ms = performance.now() - t0;
    process.stderr.write(`ssi.schemas: 20,000 lego_pairs items validated in ${ms.toFixed(0)} ms\n`);
    expect(ms).toBeLessThan(2_000);
  });
});
