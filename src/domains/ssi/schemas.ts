import type { JsonSchema } from '../../config/pipeline.js';
import type { ItemSchemaKind } from '../../config/plugins.js';
import type { SsiKind } from './types.js';

/*
 * The JSON Schemas (draft 2020-12) of one batch item of each SSi kind: what formats.ts reads as an item (and
 * its merges write), in the current form (pairs as {known, target}). A phase with `merge: ssi:<kind>` (or
 * `validate: ssi:<kind>`) and no `schema:` gets its kind's. They check the shape only, what the merge and the
 * rules need to read an item; what the rules judge (tiling, the GATE, phrase counts, M-LEGO components) is
 * left to them, with their severities: the real course has seeds without LEGOs and M-LEGOs without
 * components. Extra properties are allowed, as the readers keep them (`teaches` in APML v9 files).
 * Checked against the real course data in test/ssi.schemas.test.ts.
 */

const id = (description: string): JsonSchema => ({ type: 'string', minLength: 1, description });
const SEED_ID = id('the seed id of the input item this item answers (e.g. S0010)');
/** A LEGO id: its seed's id, "L" and a number (formats.ts, seedOfLego). */
const LEGO_ID_PATTERN = '^.+L[0-9]+$';

const pair = (description: string): JsonSchema => ({
  type: 'object',
  description,
  properties: {
    known: { type: 'string', description: 'in the known language (the learner\'s)' },
    target: { type: 'string', description: 'in the target language (the one taught)' },
  },
  required: ['known', 'target'],
});

const seedPair: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'seed_pairs item',
  description: 'One seed translated: the seed sentence in the known language and its translation into the target language.',
  type: 'object',
  properties: {
    seed_id: SEED_ID,
    known: { type: 'string', minLength: 1, description: 'the seed sentence in the known language' },
    target: { type: 'string', minLength: 1, description: 'its translation into the target language' },
  },
  required: ['seed_id', 'known', 'target'],
};

const lego: JsonSchema = {
  type: 'object',
  description: 'A LEGO: a chunk of the seed taught as one piece.',
  properties: {
    id: { type: 'string', pattern: LEGO_ID_PATTERN, description: 'the seed id, "L" and the LEGO\'s number in the seed (S0010L01, S0010L02, …)' },
    type: { type: 'string', enum: ['A', 'M'], description: 'A: atomic (one piece); M: molecular (made of components)' },
    lego: pair('the LEGO in both languages'),
    components: {
      type: 'array',
      description: 'an M-LEGO\'s parts, each glossed ({known, target}; older files list target words only)',
      items: { anyOf: [pair('a component glossed'), { type: 'string' }] },
    },
  },
  required: ['id', 'type', 'lego'],
};

const legoPairs: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'lego_pairs item',
  description: 'One seed split into LEGOs.',
  type: 'object',
  properties: {
    seed_id: SEED_ID,
    seed_pair: pair('the seed sentence and its translation, as the seed_pairs phase gave them'),
    legos: { type: 'array', items: lego, description: 'the seed\'s LEGOs, in order' },
  },
  required: ['seed_id', 'seed_pair', 'legos'],
};

const basket: JsonSchema = {
  type: 'object',
  description: 'The practice basket of one new LEGO.',
  properties: {
    lego: pair('the LEGO'),
    is_final_lego: { type: 'boolean', description: 'true for the seed\'s last LEGO (its last phrase is the whole seed)' },
    practice_phrases: { type: 'array', items: pair('a practice phrase'), description: 'phrases using the LEGO and words taught before it' },
    phrase_count: { type: 'integer', minimum: 0, description: 'how many practice phrases' },
  },
  required: ['lego', 'is_final_lego', 'practice_phrases', 'phrase_count'],
};

const legoBaskets: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'lego_baskets item',
  description: 'The practice baskets of one seed\'s new LEGOs, by LEGO id.',
  type: 'object',
  properties: {
    seed_id: SEED_ID,
    baskets: { type: 'object', propertyNames: { pattern: LEGO_ID_PATTERN }, additionalProperties: basket, description: 'LEGO id → its basket' },
  },
  required: ['seed_id', 'baskets'],
};

const SCHEMAS: Record<SsiKind, JsonSchema> = { seed_pairs: seedPair, lego_pairs: legoPairs, lego_baskets: legoBaskets };

/** `schema: ssi:lego_pairs`, and the default of a phase with `merge: ssi:lego_pairs`. */
export const itemSchemas: readonly ItemSchemaKind[] = Object.entries(SCHEMAS).map(([name, schema]) => ({ name, schema }));
