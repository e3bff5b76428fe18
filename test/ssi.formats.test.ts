import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectKind, readCanonical, readDocument, writeDocument } from '../src/domains/ssi/formats.js';
import type { BasketsItem, CourseInfo, Lego, LegoPairsItem, SeedPairItem } from '../src/domains/ssi/types.js';
import { SHARED_SSI, sharedData } from './helpers/sharedData.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = SHARED_SSI;
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'ssi');

const json = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
// The documents are free-form JSON: the tests look into them without a schema.
type Any = any;

const COURSE: CourseInfo = { code: 'spa_for_eng', targetLanguage: 'spa', knownLanguage: 'eng', targetName: 'Spanish' };
const GENERATED = '2024-01-01T00:00:00.000Z';

function read(kind: Parameters<typeof readDocument>[0], doc: unknown) {
  const r = readDocument(kind, doc);
  if (!r.ok) throw new Error(r.error);
  return r;
}

function readError(kind: Parameters<typeof readDocument>[0], doc: unknown): string {
  const r = readDocument(kind, doc);
  if (r.ok) throw new Error('expected an error');
  return r.error;
}

describe('detectKind', () => {
  it('tells the kinds apart by content', () => {
    expect(detectKind({ translations: {} })).toBe('seed_pairs');
    expect(detectKind({ seeds: [{ seed_id: 'S0001', legos: [] }] })).toBe('lego_pairs');
    expect(detectKind({ baskets: {} })).toBe('lego_baskets');
    expect(detectKind([{ seed_id: 'S0001', known: 'a', target: 'b' }])).toBe('seed_pairs');
    expect(detectKind([{ seed_id: 'S0001', seed_pair: {}, legos: [] }])).toBe('lego_pairs');
    expect(detectKind([{ seed_id: 'S0001', baskets: {} }])).toBe('lego_baskets');
    expect(detectKind({ seed_id: 'S0001', seed_pair: {}, legos: [] })).toBe('lego_pairs');
    expect(detectKind([])).toBeNull();
    expect(detectKind([{ seed_id: 'S0001', source: 'x' }])).toBeNull();
    expect(detectKind('text')).toBeNull();
    expect(detectKind({ seeds: [{ seed_id: 'S0001' }] })).toBeNull();
  });
});

describe('readDocument (invented fixtures)', () => {
  it('seed_pairs: {known,target} and [target, known] values mixed in one file', () => {
    const r = read('seed_pairs', json(path.join(fixtures, 'seed_pairs.mixed.json')));
    expect(r.items).toEqual([
      { seed_id: 'S0001', known: 'I like green tea.', target: 'Me gusta el té verde.' },
      { seed_id: 'S0002', known: 'We walk to the market.', target: 'Caminamos al mercado.' },
      { seed_id: 'S0003', known: 'The cat sleeps now.', target: 'El gato duerme ahora.' },
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('seed_pairs: a plain array of items', () => {
    const r = read('seed_pairs', [{ seed_id: 'S0001', known: 'Hi.', target: 'Hola.', note: 'kept' }]);
    expect(r.items).toEqual([{ seed_id: 'S0001', known: 'Hi.', target: 'Hola.', note: 'kept' }]);
  });

  it('lego_pairs: the APML v9 variant (string components, bookkeeping, upchunked_mtypes)', () => {
    const r = read('lego_pairs', json(path.join(fixtures, 'lego_pairs.apml_v9.json')));
    const items = r.items as LegoPairsItem[];
    expect(items.map((s) => Object.keys(s))).toEqual([
      ['seed_id', 'seed_pair', 'legos'],
      ['seed_id', 'seed_pair', 'legos'],
    ]);
    expect(items[0]!.legos[0]).toEqual({
      id: 'S0001L01',
      type: 'M',
      lego: { known: 'I like', target: 'me gusta' },
      components: ['me', 'gusta'],
      teaches: 'gustar takes an indirect object',
    });
    expect(items.flatMap((s) => s.legos).some((l) => 'new' in l)).toBe(false);
    expect(r.warnings).toEqual([expect.stringContaining('upchunked_mtypes: 1 ')]);
  });

  it('lego_pairs: one per-seed upload record, and unexpected per-seed fields are dropped with a warning', () => {
    const seed = { seed_id: 'S0001', seed_pair: ['Hola.', 'Hi.'], legos: [{ id: 'S0001L01', type: 'A', lego: ['hola', 'hi'] }], agentId: '1', score: 3 };
    const r = read('lego_pairs', seed);
    expect(r.items).toEqual([
      { seed_id: 'S0001', seed_pair: { known: 'Hi.', target: 'Hola.' }, legos: [{ id: 'S0001L01', type: 'A', lego: { known: 'hi', target: 'hola' } }] },
    ]);
    expect(r.warnings).toEqual(['dropped the per-seed field "score" (1 seed)']);
  });

  it('lego_baskets: grouped by seed in order of first appearance; [target, known] phrases become pairs', () => {
    const r = read('lego_baskets', json(path.join(fixtures, 'lego_baskets.arrays.json')));
    const items = r.items as BasketsItem[];
    expect(items.map((i) => [i.seed_id, Object.keys(i.baskets)])).toEqual([
      ['S0001', ['S0001L01', 'S0001L02']],
      ['S0002', ['S0002L02']],
    ]);
    expect(items[0]!.baskets.S0001L01).toEqual({
      lego: { known: 'I like', target: 'me gusta' },
      is_final_lego: false,
      practice_phrases: [{ known: 'I like', target: 'Me gusta' }],
      phrase_count: 1,
    });
    expect(items[1]!.baskets.S0002L02!.practice_phrases[0]).toEqual({ known: 'the market', target: 'el mercado' });
  });

  it('errors say which part of the document is wrong', () => {
    expect(readError('seed_pairs', { seeds: [] })).toContain('seed_pairs: expected an object with a "translations" map');
    expect(readError('seed_pairs', { translations: { S0001: { known: 'Hi' } } })).toContain('translations.S0001: expected {"known", "target"}');
    const lego = { seeds: [{ seed_id: 'S0001', seed_pair: { known: 'a', target: 'b' }, legos: [{ id: 'S0001L01', type: 'A', lego: { known: 'a' } }] }] };
    expect(readError('lego_pairs', lego)).toContain('seeds[0] (S0001).legos[0].lego: expected');
    expect(readError('lego_pairs', { seeds: [{ seed_pair: {} }] })).toContain('seeds[0].seed_id: expected a non-empty id string, got nothing');
    expect(readError('lego_pairs', { seeds: [{ seed_id: 'S0001', seed_pair: { known: 'a', target: 'b' } }] })).toContain('seeds[0] (S0001).legos: expected an array');
    expect(readError('lego_baskets', { baskets: { nonsense: { lego: { known: 'a', target: 'b' }, is_final_lego: false, practice_phrases: [], phrase_count: 0 } } })).toContain(
      'baskets.nonsense: expected a key that is a LEGO id like S0010L02',
    );
    expect(readError('lego_baskets', { baskets: { S0001L01: { lego: { known: 'a', target: 'b' }, practice_phrases: [], phrase_count: 0 } } })).toContain(
      'baskets.S0001L01.is_final_lego: expected true or false, got nothing',
    );
    expect(readError('lego_baskets', { baskets: { S0001L01: { lego: { known: 'a', target: 'b' }, is_final_lego: true, practice_phrases: [['x']], phrase_count: 1 } } })).toContain(
      'baskets.S0001L01.practice_phrases[0]: expected',
    );
  });
});

describe('writeDocument (invented items)', () => {
  const seedItems: SeedPairItem[] = [
    { seed_id: 'S0001', known: 'I like green tea.', target: 'Me gusta el té verde.' },
    { seed_id: 'S0002', known: 'We walk to the market.', target: 'Caminamos al mercado.' },
  ];

  it('seed_pairs: header and key order', () => {
    const doc = writeDocument('seed_pairs', seedItems, { course: COURSE, generated: GENERATED }) as Any;
    expect(Object.keys(doc)).toEqual(['version', 'course', 'target_language', 'known_language', 'generated', 'total_seeds', 'translations']);
    expect(doc).toMatchObject({ version: '7.7.0', course: 'spa_for_eng', target_language: 'spa', known_language: 'eng', generated: GENERATED, total_seeds: 2 });
    expect(doc.translations.S0002).toEqual({ known: 'We walk to the market.', target: 'Caminamos al mercado.' });
    expect(Object.keys(doc.translations.S0002)).toEqual(['known', 'target']);
  });

  it('lego_pairs: new = first occurrence of the pair (case and spaces aside), whatever the batch said; totals computed', () => {
    const lego = (id: string, known: string, target: string, extra: Partial<Lego> = {}): Lego => ({ id, type: 'A', lego: { known, target }, ...extra });
    const items: LegoPairsItem[] = [
      { seed_id: 'S0001', seed_pair: { known: 'But I like it.', target: 'Pero me gusta.' }, legos: [lego('S0001L01', 'but', 'pero', { new: false }), lego('S0001L02', 'I like it', 'me gusta')] },
      {
        seed_id: 'S0002',
        seed_pair: { known: 'But not today.', target: 'Pero hoy no.' },
        legos: [
          lego('S0002L01', 'But ', 'Pero'),
          lego('S0002L02', 'today', 'hoy', { teaches: 'kept', components: undefined }),
          lego('S0002L03', 'I like', 'me gusta', { type: 'M', components: [{ known: 'me', target: 'me' }, 'gusta'] }),
        ],
      },
    ];
    const doc = writeDocument('lego_pairs', items, { course: COURSE, generated: GENERATED }) as Any;
    expect(Object.keys(doc)).toEqual(['course', 'version', 'total_seeds', 'total_legos', 'seeds']);
    expect(doc).toMatchObject({ course: 'spa_for_eng', version: '8.1.1', total_seeds: 2, total_legos: 5 });
    const flags = doc.seeds.flatMap((s: Any) => s.legos.map((l: Any) => [l.id, l.new]));
    // "I like"/"me gusta" differs from "I like it"/"me gusta": the pair is what counts, not the target.
    expect(flags).toEqual([['S0001L01', true], ['S0001L02', true], ['S0002L01', false], ['S0002L02', true], ['S0002L03', true]]);
    expect(Object.keys(doc.seeds[1].legos[1])).toEqual(['id', 'type', 'new', 'lego', 'teaches']);
    expect(Object.keys(doc.seeds[1].legos[2])).toEqual(['id', 'type', 'new', 'lego', 'components']);
    expect(doc.seeds[1].legos[2].components).toEqual([{ known: 'me', target: 'me' }, 'gusta']);
    const again = writeDocument('lego_pairs', items, { course: COURSE, generated: 'another time', version: '9.0.0' }) as Any;
    expect(again.version).toBe('9.0.0');
    expect(JSON.stringify({ ...again, version: '8.1.1' })).toBe(JSON.stringify(doc));
  });

  it('lego_baskets: one map keyed by LEGO id, totals and phrase counts computed', () => {
    const r = read('lego_baskets', json(path.join(fixtures, 'lego_baskets.arrays.json')));
    const doc = writeDocument('lego_baskets', r.items, { course: { ...COURSE, code: 'spa_for_eng_toy' }, generated: GENERATED }) as Any;
    expect(Object.keys(doc)).toEqual(['course', 'total_baskets', 'baskets']);
    expect(doc.total_baskets).toBe(3);
    expect(Object.keys(doc.baskets)).toEqual(['S0001L01', 'S0001L02', 'S0002L02']);
    expect(Object.keys(doc.baskets.S0002L02)).toEqual(['lego', 'is_final_lego', 'practice_phrases', 'phrase_count']);
    expect(doc.baskets.S0002L02.practice_phrases).toEqual([
      { known: 'the market', target: 'el mercado' },
      { known: 'I like the market.', target: 'Me gusta el mercado.' },
    ]);
  });

  it('readCanonical substitutes {target}', () => {
    const r = readCanonical([{ seed_id: 'S0001', canonical_id: 'C0001', source: 'I speak {target}.' }], 'Spanish');
    expect(r.ok && [...r.canonical]).toEqual([['S0001', 'I speak Spanish.']]);
    const bad = readCanonical([{ seed_id: 'S0001' }], 'Spanish');
    expect(!bad.ok && bad.error).toContain('canonical_seeds[0].source: expected a string');
  });
});

describe.runIf(sharedData('real course data (read from /work/shared/data/ssi, never copied)'))('real course data (read from /work/shared/data/ssi, never copied)', () => {
  const file = (p: string) => path.join(dataDir, p);

  it('detectKind on every real file', () => {
    expect(detectKind(json(file('spa_for_eng/seed_pairs.json')))).toBe('seed_pairs');
    expect(detectKind(json(file('spa_for_eng/lego_pairs.json')))).toBe('lego_pairs');
    expect(detectKind(json(file('spa_for_eng/lego_baskets.sample_S0001-S0100.json')))).toBe('lego_baskets');
    expect(detectKind(json(file('spa_for_eng_test/lego_pairs.json')))).toBe('lego_pairs');
    expect(detectKind(json(file('spa_for_eng_test/seeds/S0001.json')))).toBe('lego_pairs');
    expect(detectKind(json(file('canonical_seeds.json')))).toBeNull();
  });

  it('seed_pairs.json round-trips to the identical document', () => {
    const original = json(file('spa_for_eng/seed_pairs.json')) as Any;
    const r = read('seed_pairs', original);
    expect(r.items).toHaveLength(668);
    const doc = writeDocument('seed_pairs', r.items, { course: COURSE, generated: original.generated });
    expect(JSON.stringify(doc)).toBe(JSON.stringify(original));
  });

  it('lego_pairs.json round-trips: same seeds, LEGO ids/types/pairs/components; totals corrected; new flags agree for 2,764', () => {
    const original = json(file('spa_for_eng/lego_pairs.json')) as Any;
    expect(original.total_legos).toBe(2945);
    const r = read('lego_pairs', original);
    expect(r.warnings).toEqual([]);
    const doc = writeDocument('lego_pairs', r.items, { course: COURSE, generated: GENERATED }) as Any;
    expect(doc).toMatchObject({ course: 'spa_for_eng', version: '8.1.1', total_seeds: 668, total_legos: 2796 });
    const withoutNew = (seeds: Any[]) =>
      seeds.map((s) => ({ ...s, legos: s.legos.map(({ new: _n, ...l }: Any) => l) }));
    expect(withoutNew(doc.seeds)).toEqual(withoutNew(original.seeds));
    const ours = doc.seeds.flatMap((s: Any) => s.legos.map((l: Any) => l.new));
    const theirs = original.seeds.flatMap((s: Any) => s.legos.map((l: Any) => l.new));
    expect(ours.filter((n: boolean, i: number) => n === theirs[i])).toHaveLength(2764);
    expect(JSON.stringify(writeDocument('lego_pairs', r.items, { course: COURSE, generated: GENERATED }))).toBe(JSON.stringify(doc));
  });

  it('the APML v9 lego_pairs reads: 75 seeds, 319 LEGOs, bookkeeping dropped, upchunked_mtypes warned about', () => {
    const r = read('lego_pairs', json(file('spa_for_eng_test/lego_pairs.json')));
    const items = r.items as LegoPairsItem[];
    expect(items).toHaveLength(75);
    const legos = items.flatMap((s) => s.legos);
    expect(legos).toHaveLength(319);
    expect(legos.filter((l) => l.type === 'A')).toHaveLength(213);
    expect(items.every((s) => Object.keys(s).join() === 'seed_id,seed_pair,legos')).toBe(true);
    // Only the ignored upchunked_mtypes have string components; the seeds' M-LEGOs gloss theirs, and keep `teaches`.
    const m = legos.filter((l) => l.type === 'M');
    expect(m).toHaveLength(106);
    expect(m.every((l) => typeof l.teaches === 'string' && l.components?.every((c) => typeof c === 'object'))).toBe(true);
    expect(r.warnings).toEqual([expect.stringContaining('upchunked_mtypes: 13 ')]);
    const doc = writeDocument('lego_pairs', items, { course: { ...COURSE, code: 'spa_for_eng_test' }, generated: GENERATED }) as Any;
    expect(doc).toMatchObject({ total_seeds: 75, total_legos: 319 });
  });

  it('a per-seed upload record reads as one lego_pairs item', () => {
    const r = read('lego_pairs', json(file('spa_for_eng_test/seeds/S0001.json')));
    expect(r.items).toHaveLength(1);
    expect((r.items[0] as LegoPairsItem).legos).toHaveLength(5);
  });

  it('the basket sample round-trips (baskets identical, grouped into 100 seed items)', () => {
    const original = json(file('spa_for_eng/lego_baskets.sample_S0001-S0100.json')) as Any;
    const r = read('lego_baskets', original);
    const items = r.items as BasketsItem[];
    expect(items).toHaveLength(100);
    expect(items.reduce((n, i) => n + Object.keys(i.baskets).length, 0)).toBe(422);
    const doc = writeDocument('lego_baskets', items, { course: COURSE, generated: GENERATED }) as Any;
    expect(doc.total_baskets).toBe(422);
    expect(JSON.stringify(doc.baskets)).toBe(JSON.stringify(original.baskets));
  });
});
