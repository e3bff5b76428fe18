import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCanonical, readDocument } from '../src/domains/ssi/formats.js';
import { defaultWordLists, wordSeverities } from '../src/domains/ssi/languages.js';
import { containsRun, tile, tokenKey, tokens, words } from '../src/domains/ssi/text.js';
import type { BasketsItem, Lego, LegoPairsItem, Pair, RuleReport, SeedPairItem, SsiKind } from '../src/domains/ssi/types.js';
import { RULES, checkBaskets, checkLegoPairs, checkSeedPairs, vocabulary } from '../src/domains/ssi/validators.js';
import { SHARED_SSI, sharedData } from './helpers/sharedData.js';

const dataDir = SHARED_SSI;

const SPA = { language: 'spa' };

function failed(report: RuleReport, rule: string): string[] {
  return report.errors.filter((e) => e.type === rule).map((e) => `${e.legoId ?? e.seedId}: ${e.message}`);
}

function counts(report: RuleReport, rule: string): { checked: number; failed: number } | undefined {
  return report.rules[rule];
}

// ---------------------------------------------------------------------------------------------- text

describe('tokens and words', () => {
  it('lower-cases and strips punctuation, keeping apostrophes and hyphens inside words', () => {
    expect(tokens('¿Dónde está la estación?')).toEqual(['dónde', 'está', 'la', 'estación']);
    expect(tokens('¡Hola!  Sí, claro; vale: ya.')).toEqual(['hola', 'sí', 'claro', 'vale', 'ya']);
    expect(tokens('«Bonjour» (dit-il) … "l\u2019homme" [sic] — \'ok\'')).toEqual(['bonjour', 'dit-il', "l'homme", 'sic', 'ok']);
    expect(tokens("I don't - won't")).toEqual(['i', "don't", "won't"]);
    expect(tokens('Espera...no')).toEqual(['espera', 'no']);
    expect(tokens('col·legi')).toEqual(['col·legi']);
    // NFD input compares equal to NFC.
    expect(tokens('Este\u0301')).toEqual(tokens('Esté'));
  });

  it('splits CJK text per character, punctuation dropped, other runs kept whole', () => {
    expect(tokens('我想说中文。')).toEqual(['我', '想', '说', '中', '文']);
    expect(tokens('日本語を話します！')).toEqual(['日', '本', '語', 'を', '話', 'し', 'ま', 'す']);
    expect(tokens('コーヒー、ください')).toEqual(['コ', 'ー', 'ヒ', 'ー', 'く', 'だ', 'さ', 'い']);
    expect(tokens('한국어 배워요')).toEqual(['한', '국', '어', '배', '워', '요']);
    expect(tokens('我的iPhone很好')).toEqual(['我', '的', 'iphone', '很', '好']);
    expect(words('我的iPhone很好。')).toEqual(['我', '的', 'iphone', '很', '好']);
  });

  it('words are lower-case letter runs (the GATE vocabulary)', () => {
    expect(words('¿Qué tal, Ana? Estoy bien.')).toEqual(['qué', 'tal', 'ana', 'estoy', 'bien']);
    expect(words("l'homme 3 veces")).toEqual(['l', 'homme', 'veces']);
  });

  it('containsRun matches whole tokens only', () => {
    expect(containsRun(tokens('Estoy de acuerdo contigo'), tokens('de acuerdo'))).toBe(true);
    expect(containsRun(tokens('Estoy de acuerdo contigo'), tokens('acuerdo con'))).toBe(false);
    expect(tokenKey('  Hola,   AMIGO! ')).toBe('hola amigo');
  });

  it('tile: overlapping LEGOs, reuse, and the furthest position reached', () => {
    const seed = tokens('No estoy seguro si puedo.');
    const pieces = ['no estoy seguro', 'estoy seguro', 'si puedo', 'puedo'].map(tokens);
    expect(tile(seed, pieces)).toEqual({ ok: true, path: [0, 2] });
    expect(tile(tokens('no, no'), [tokens('no')])).toEqual({ ok: true, path: [0, 0] });
    expect(tile(seed, ['estoy seguro', 'si puedo'].map(tokens))).toEqual({ ok: false, reached: 0 });
    expect(tile(seed, ['no', 'estoy', 'seguro'].map(tokens))).toEqual({ ok: false, reached: 3 });
    expect(tile([], [])).toEqual({ ok: true, path: [] });
  });
});

// ---------------------------------------------------------------------------------------------- languages

describe('word lists', () => {
  it('Spanish defaults, unknown languages empty, caller lists override', () => {
    const spa = defaultWordLists('spa');
    expect(spa.article.error).toContain('la');
    expect(spa.object_pronoun.error).toContain('la');
    expect(spa.negation).toEqual({ error: [], warning: ['no'] });
    expect(defaultWordLists('xyz').article).toEqual({ error: [], warning: [] });
    expect(defaultWordLists('es')).toEqual(spa);
    const aux = wordSeverities('spa', 'auxiliary', { error: ['Estoy'], warning: ['ha'] });
    expect(aux.get('estoy')).toBe('error');
    expect(aux.get('ha')).toBe('warning');
    expect(aux.get('han')).toBe('error');
    expect(wordSeverities('fra', 'negation').get('n')).toBe('error');
    expect(['fra', 'ita', 'deu'].every((l) => defaultWordLists(l).article.error.length > 0)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------- seed_pairs

describe('checkSeedPairs (invented)', () => {
  const items: SeedPairItem[] = [
    { seed_id: 'S0001', known: 'I speak Spanish.', target: 'Hablo español.' },
    { seed_id: 'S0002', known: 'The cat sleeps', target: '  ' },
    { seed_id: 'S0001', known: 'I speak Spanish.', target: 'Hablo español.' },
    { seed_id: 'S0009', known: 'The dog runs.', target: 'El perro corre.' },
  ];
  const canonical = new Map([
    ['S0001', 'i speak spanish'],
    ['S0002', 'The cat sleeps now.'],
    ['S0003', 'We eat bread.'],
  ]);

  it('each rule fails where it should', () => {
    const r = checkSeedPairs(items, { ...SPA, canonical });
    expect(Object.keys(r.rules)).toEqual(RULES.seed_pairs);
    expect(r.kind).toBe('seed_pairs');
    expect(failed(r, 'non_empty')).toEqual(['S0002: the target text is empty']);
    expect(failed(r, 'known_matches_canonical')).toEqual([
      'S0002: known "The cat sleeps" differs from the canonical seed "The cat sleeps now.": it lacks "now"',
    ]);
    expect(counts(r, 'known_matches_canonical')).toEqual({ checked: 3, failed: 1 });
    expect(failed(r, 'unique_seed')).toEqual(['S0001: S0001 appears more than once (items 1 and 3)']);
    expect(failed(r, 'canonical_coverage')).toEqual(['S0003: canonical seed S0003 has no translation', 'S0009: S0009 is not a canonical seed']);
    expect(r.errors.every((e) => e.severity === 'error')).toBe(true);
  });

  it('passes clean items; no canonical comparison for a non-English known side or without canonical', () => {
    const clean = [items[0]!, items[3]!];
    const r = checkSeedPairs(clean, SPA);
    expect(r.errors).toEqual([]);
    expect(counts(r, 'known_matches_canonical')).toEqual({ checked: 0, failed: 0 });
    const fr = checkSeedPairs(items, { ...SPA, canonical, knownIsEnglish: false });
    expect(counts(fr, 'known_matches_canonical')).toEqual({ checked: 0, failed: 0 });
  });

  it('malformed items are reported under "shape" and left out of the other rules', () => {
    const r = checkSeedPairs([{ seed_id: 'S0001', known: 'Hi' } as unknown as SeedPairItem, items[0]!], SPA);
    expect(failed(r, 'shape')).toEqual(['S0001: items[0]: expected {"known", "target"} strings or a [target, known] array, got an object']);
    expect(counts(r, 'non_empty')).toEqual({ checked: 1, failed: 0 });
  });

  it('severity overrides and only', () => {
    const r = checkSeedPairs(items, { ...SPA, canonical, severity: { unique_seed: 'warning', canonical_coverage: 'off' } });
    expect(r.rules.canonical_coverage).toBeUndefined();
    expect(r.errors.filter((e) => e.type === 'unique_seed').map((e) => e.severity)).toEqual(['warning']);
    expect(counts(r, 'unique_seed')).toEqual({ checked: 4, failed: 0, warned: 1 });
    const only = checkSeedPairs(items, { ...SPA, canonical, only: ['non_empty'] });
    expect(Object.keys(only.rules)).toEqual(['shape', 'non_empty']);
    expect(only.errors.map((e) => e.type)).toEqual(['non_empty']);
  });
});

// ---------------------------------------------------------------------------------------------- lego_pairs

const L = (id: string, target: string, known = target, extra: Partial<Lego> = {}): Lego => ({ id, type: 'A', lego: { known, target }, ...extra });
const M = (id: string, target: string, known = target, components: Lego['components'] = [{ known, target }]): Lego => ({
  id,
  type: 'M',
  lego: { known, target },
  components,
});
const seed = (seed_id: string, target: string, legos: Lego[], known = target): LegoPairsItem => ({ seed_id, seed_pair: { known, target }, legos });

describe('checkLegoPairs (invented)', () => {
  const good = [
    seed('S0001', '¿Te gusta el té verde?', [M('S0001L01', 'te gusta', 'do you like'), M('S0001L02', 'el té verde', 'the green tea'), M('S0001L03', 'té verde')]),
    // Overlapping LEGOs: "concatenate in order" fails, a non-overlapping choice tiles.
    seed('S0002', 'No, no quiero té.', [L('S0002L01', 'No'), M('S0002L02', 'no quiero'), L('S0002L03', 'quiero'), L('S0002L04', 'té')]),
  ];

  it('a good course passes every rule', () => {
    const seedPairs = new Map<string, Pair>(good.map((s) => [s.seed_id, s.seed_pair]));
    const r = checkLegoPairs(good, { language: 'xyz', seedPairs });
    expect(r.errors).toEqual([]);
    expect(Object.keys(r.rules)).toEqual(RULES.lego_pairs);
    expect(counts(r, 'tiling')).toEqual({ checked: 2, failed: 0 });
    expect(counts(r, 'm_components')).toEqual({ checked: 4, failed: 0 });
    expect(counts(r, 'standalone_negation')).toEqual({ checked: 3, failed: 0 });
  });

  it('structural rules fail where they should', () => {
    const bad = [
      seed('S0001', 'Me gusta el gato.', [M('S0001L01', 'me gusta'), M('S0001L02', 'el perro'), { ...M('S0001L03', 'gusta el gato'), components: [] }, L('S0001L03', 'gato')]),
      seed('S0002', 'Hola.', []),
      seed('S0003', 'Sí.', [L('S0004L01', 'sí'), L('S3L1', 'sí'), { ...L('S0003L03', 'sí'), type: 'B' }, { id: 'S0003L04', type: 'M', lego: { known: 'yes yes', target: 'sí sí' } }]),
    ];
    const seedPairs = new Map<string, Pair>([
      ['S0001', { known: 'Me gusta el gato.', target: 'Me gusta el gato.' }],
      ['S0002', { known: 'Hello.', target: 'Hola.' }],
    ]);
    const r = checkLegoPairs(bad, { ...SPA, seedPairs });
    expect(failed(r, 'has_legos')).toEqual(['S0002: the seed has no LEGOs']);
    expect(failed(r, 'tiling')).toEqual([
      'S0001: the LEGOs do not tile the seed "Me gusta el gato.": no non-overlapping sequence of LEGOs spells it (stuck at "el gato"); not in the seed: S0001L02 "el perro"',
      'S0002: no LEGOs to tile "Hola."',
    ]);
    expect(failed(r, 'lego_id')).toEqual(['S0004L01: LEGO id S0004L01 does not start with its seed id S0003', 'S3L1: LEGO id "S3L1" is not of the form S####L##']);
    expect(failed(r, 'unique_lego_id')).toEqual(['S0001L03: LEGO id S0001L03 is used more than once']);
    expect(failed(r, 'lego_type')).toEqual(['S0003L03: type "B" is neither "A" (atomic) nor "M" (molecular)']);
    expect(failed(r, 'm_components')).toEqual(['S0001L03: molecular LEGO "gusta el gato" has no components', 'S0003L04: molecular LEGO "sí sí" has no components']);
    expect(failed(r, 'seed_pair_matches')).toEqual(['S0002: seed_pair.known "Hola." differs from seed_pairs "Hello."', 'S0003: S0003 is not in seed_pairs']);
  });

  it('a word covered by no LEGO is named', () => {
    const r = checkLegoPairs([seed('S0003', 'cómo hablar lo más frecuentamente posible', [M('S0003L01', 'cómo hablar'), M('S0003L02', 'lo más frecuentemente posible')])], SPA);
    expect(failed(r, 'tiling')).toEqual([
      'S0003: the LEGOs do not tile the seed "cómo hablar lo más frecuentamente posible": no LEGO covers "lo", "más", "frecuentamente", "posible"; not in the seed: S0003L02 "lo más frecuentemente posible"',
    ]);
  });

  it('hard rules: default severities per word, "la" is article and pronoun, M LEGOs exempt', () => {
    const items = [
      seed('S0001', 'La veo. No. Estoy. Ha. Le.', [
        L('S0001L01', 'La'),
        L('S0001L02', 'veo'),
        L('S0001L03', 'No.'),
        L('S0001L04', 'estoy'),
        L('S0001L05', 'ha'),
        L('S0001L06', 'le'),
        M('S0001L07', 'la'),
        L('S0001L08', 'la casa'),
      ]),
    ];
    const r = checkLegoPairs(items, SPA);
    const hard = r.errors.filter((e) => e.type.startsWith('standalone_')).map((e) => `${e.type} ${e.legoId} ${e.severity}`);
    expect(hard).toEqual([
      'standalone_article S0001L01 error',
      'standalone_auxiliary S0001L04 warning',
      'standalone_auxiliary S0001L05 error',
      'standalone_negation S0001L03 warning',
      'standalone_object_pronoun S0001L01 error',
      'standalone_object_pronoun S0001L06 error',
    ]);
    expect(counts(r, 'standalone_article')).toEqual({ checked: 7, failed: 1 });
    expect(failed(r, 'standalone_article')).toEqual(['S0001L01: atomic LEGO "La" is an article without its noun: make it part of a molecular LEGO']);

    // Caller lists: "veo" becomes an error, "la" only a warning as an object pronoun; rule-level overrides win.
    const custom = checkLegoPairs(items, {
      ...SPA,
      lists: { auxiliary: { error: ['veo'] }, object_pronoun: { warning: ['la'] } },
      severity: { standalone_negation: 'error', standalone_article: 'off' },
    });
    const hard2 = custom.errors.filter((e) => e.type.startsWith('standalone_')).map((e) => `${e.type} ${e.legoId} ${e.severity}`);
    expect(hard2).toEqual([
      'standalone_auxiliary S0001L02 error',
      'standalone_auxiliary S0001L04 warning',
      'standalone_auxiliary S0001L05 error',
      'standalone_negation S0001L03 error',
      'standalone_object_pronoun S0001L01 warning',
      'standalone_object_pronoun S0001L06 error',
    ]);
    expect(custom.rules.standalone_article).toBeUndefined();
    // An unknown language has no lists.
    expect(checkLegoPairs(items, { language: 'xyz' }).errors.filter((e) => e.type.startsWith('standalone_'))).toEqual([]);
  });

  it('only restricts the rules', () => {
    const r = checkLegoPairs([seed('S0002', 'Hola.', [])], { ...SPA, only: ['has_legos', 'lego_type'] });
    expect(r.rules).toEqual({ shape: { checked: 1, failed: 0 }, has_legos: { checked: 1, failed: 1 }, lego_type: { checked: 0, failed: 0 } });
    expect(r.errors.map((e) => e.type)).toEqual(['has_legos']);
  });

  it('older shapes in a batch ([target, known] pairs) are normalised, not rejected', () => {
    const old = { seed_id: 'S0001', seed_pair: ['Hola amigo.', 'Hello friend.'], legos: [{ id: 'S0001L01', type: 'M', lego: ['hola amigo', 'hello friend'], components: ['hola', 'amigo'] }] };
    const r = checkLegoPairs([old as unknown as LegoPairsItem], SPA);
    expect(r.errors).toEqual([]);
    expect(counts(r, 'tiling')).toEqual({ checked: 1, failed: 0 });
  });
});

// ---------------------------------------------------------------------------------------------- lego_baskets

describe('checkBaskets (invented)', () => {
  const course = [
    seed('S0001', 'Quiero té.', [L('S0001L01', 'quiero', 'I want'), L('S0001L02', 'té', 'tea')], 'I want tea.'),
    seed('S0002', 'Quiero café con leche.', [L('S0002L01', 'café', 'coffee'), M('S0002L02', 'con leche', 'with milk')], 'I want coffee with milk.'),
  ];
  const P = (target: string, known = target): Pair => ({ known, target });
  const basket = (lego: Pair, phrases: Pair[], is_final_lego = false, phrase_count = phrases.length) => ({ lego, is_final_lego, practice_phrases: phrases, phrase_count });
  const items: BasketsItem[] = [
    {
      seed_id: 'S0001',
      baskets: {
        S0001L01: basket(P('quiero', 'I want'), [P('Quiero'), P('Quiero café'), P('¡Quiero!')]),
        S0001L02: basket(P('té', 'tea'), [P('té'), P('Quiero té')], true, 3),
      },
    },
    {
      seed_id: 'S0002',
      baskets: {
        S0002L01: basket(P('café', 'coffee'), [P('Quiero café con leche'), P('Quiero té')]),
        S0002L02: basket(P('con leche', 'with milk'), [P('café con leche'), P('Quiero café con'), P('Quiero té con leche')], true),
        S0002L09: basket(P('leche', 'milk'), [P('leche')]),
      },
    },
  ];

  it('each rule fails where it should, with the phrase named', () => {
    const r = checkBaskets(items, { ...SPA, legoPairs: course });
    expect(Object.keys(r.rules)).toEqual(RULES.lego_baskets);
    expect(failed(r, 'gate')).toEqual([
      'S0001L01: phrase "Quiero café" uses "café", not taught until S0002L01',
      'S0002L01: phrase "Quiero café con leche" uses "con", not taught until S0002L02; "leche", not taught until S0002L02',
    ]);
    expect(counts(r, 'gate')).toEqual({ checked: 10, failed: 2 });
    expect(failed(r, 'phrase_contains_lego')).toEqual([
      'S0002L01: phrase "Quiero té" does not contain the LEGO "café"',
      'S0002L02: phrase "Quiero café con" does not contain the LEGO "con leche"',
    ]);
    expect(failed(r, 'final_lego_ends_with_seed')).toEqual([
      'S0002L02: the seed\'s final basket should end with the seed "Quiero café con leche.", but its last phrase is "Quiero té con leche"',
    ]);
    expect(counts(r, 'final_lego_ends_with_seed')).toEqual({ checked: 2, failed: 1 });
    expect(failed(r, 'no_duplicate_phrases')).toEqual(['S0001L01: phrase 3 "¡Quiero!" repeats phrase 1']);
    expect(failed(r, 'phrase_count')).toEqual(['S0001L02: phrase_count is 3 but there are 2 phrases']);
    expect(failed(r, 'basket_matches_lego')).toEqual(['S0002L09: there is no LEGO S0002L09 in lego_pairs']);
  });

  it('a word never taught says so; vocabularyBefore counts as taught', () => {
    const one: BasketsItem[] = [{ seed_id: 'S0002', baskets: { S0002L02: basket(P('con leche'), [P('Quiero té con leche y azúcar')]) } }];
    const r = checkBaskets(one, { ...SPA, legoPairs: [course[1]!] });
    expect(failed(r, 'gate')).toEqual(['S0002L02: phrase "Quiero té con leche y azúcar" uses "quiero", not taught by S0002L02; "té", not taught by S0002L02; "y", not taught by S0002L02; "azúcar", not taught by S0002L02']);
    const before = checkBaskets(one, { ...SPA, legoPairs: [course[1]!], vocabularyBefore: vocabulary([course[0]!]) });
    expect(failed(before, 'gate')).toEqual(['S0002L02: phrase "Quiero té con leche y azúcar" uses "y", not taught by S0002L02; "azúcar", not taught by S0002L02']);
    const all = checkBaskets(one, { ...SPA, legoPairs: [course[1]!], vocabularyBefore: new Set(['quiero', 'té', 'y', 'azúcar']) });
    expect(counts(all, 'gate')).toEqual({ checked: 1, failed: 0 });
  });

  it('a basket whose LEGO differs from lego_pairs is reported', () => {
    const wrong: BasketsItem[] = [{ seed_id: 'S0001', baskets: { S0001L02: basket(P('el té', 'the tea'), [P('el té')]) } }];
    const r = checkBaskets(wrong, { ...SPA, legoPairs: course });
    expect(failed(r, 'basket_matches_lego')).toEqual(['S0001L02: the basket is for "el té" = "the tea", but S0001L02 in lego_pairs is "té" = "tea"']);
  });

  it('without legoPairs the course-wide rules check nothing; a clean basket passes', () => {
    const r = checkBaskets(items, SPA);
    expect(counts(r, 'gate')).toEqual({ checked: 0, failed: 0 });
    expect(counts(r, 'final_lego_ends_with_seed')).toEqual({ checked: 0, failed: 0 });
    expect(counts(r, 'basket_matches_lego')).toEqual({ checked: 0, failed: 0 });
    const clean: BasketsItem[] = [{ seed_id: 'S0001', baskets: { S0001L02: basket(P('té', 'tea'), [P('té'), P('Quiero té.')], true) } }];
    expect(checkBaskets(clean, { ...SPA, legoPairs: course }).errors).toEqual([]);
  });

  it('[target, known] phrases are read; severity and only apply', () => {
    const old = [{ seed_id: 'S0001', baskets: { S0001L02: { lego: ['té', 'tea'], is_final_lego: false, practice_phrases: [['Quiero café', 'I want coffee']], phrase_count: 1 } } }];
    const r = checkBaskets(old as unknown as BasketsItem[], { ...SPA, legoPairs: course, severity: { gate: 'warning' }, only: ['gate', 'phrase_contains_lego'] });
    expect(Object.keys(r.rules)).toEqual(['shape', 'gate', 'phrase_contains_lego']);
    expect(r.errors.map((e) => `${e.type} ${e.severity}`)).toEqual(['gate warning', 'phrase_contains_lego error']);
  });
});

// ---------------------------------------------------------------------------------------------- real data

function load(kind: SsiKind, file: string): object[] {
  const r = readDocument(kind, JSON.parse(readFileSync(path.join(dataDir, file), 'utf8')));
  if (!r.ok) throw new Error(r.error);
  return r.items;
}

/** The README's normalisation, written out again here so that the rules' own code is not checked against itself. */
const readmeTokens = (s: string) => s.toLowerCase().replace(/[¿?¡!.,;:]/g, '').split(/\s+/).filter(Boolean);
const readmeWords = (s: string) => s.toLowerCase().match(/\p{L}+/gu) ?? [];

/** Plain recursive search: is there a sequence of pieces that spells `rest` exactly? */
function canTile(rest: string[], pieces: string[][]): boolean {
  if (rest.length === 0) return true;
  return pieces.some((p) => p.length > 0 && p.every((t, i) => rest[i] === t) && canTile(rest.slice(p.length), pieces));
}

describe.runIf(sharedData('real spa_for_eng data (read from /work/shared/data/ssi, never copied)'))('real spa_for_eng data (read from /work/shared/data/ssi, never copied)', () => {
  it('lego_pairs.json: tiling 523/668, 11 seeds without LEGOs, 2 M-LEGOs without components', () => {
    const seeds = load('lego_pairs', 'spa_for_eng/lego_pairs.json') as LegoPairsItem[];
    const seedPairs = new Map((load('seed_pairs', 'spa_for_eng/seed_pairs.json') as SeedPairItem[]).map((s) => [s.seed_id, { known: s.known, target: s.target }]));
    const r = checkLegoPairs(seeds, { ...SPA, seedPairs });

    const independent = seeds.filter((s) => canTile(readmeTokens(s.seed_pair.target), s.legos.map((l) => readmeTokens(l.lego.target)))).length;
    expect(independent).toBe(523);
    expect(counts(r, 'tiling')).toEqual({ checked: 668, failed: 668 - independent });
    expect(counts(r, 'tiling')!.failed).toBe(145);
    const tilingFailed = new Set(r.errors.filter((e) => e.type === 'tiling').map((e) => e.seedId));
    for (const s of seeds) {
      expect(tilingFailed.has(s.seed_id)).toBe(!canTile(readmeTokens(s.seed_pair.target), s.legos.map((l) => readmeTokens(l.lego.target))));
    }
    expect(failed(r, 'tiling')).toContain(
      'S0003: the LEGOs do not tile the seed "cómo hablar lo más frecuentamente posible": no LEGO covers "lo", "más", "frecuentamente", "posible"; not in the seed: S0003L03 "lo más frecuentemente posible"',
    );

    expect(counts(r, 'has_legos')).toEqual({ checked: 668, failed: 11 });
    expect(r.errors.filter((e) => e.type === 'has_legos').map((e) => e.seedId)).toEqual([
      'S0442', 'S0445', 'S0447', 'S0449', 'S0633', 'S0635', 'S0637', 'S0640', 'S0642', 'S0656', 'S0660',
    ]);
    expect(counts(r, 'm_components')).toEqual({ checked: 2264, failed: 2 });
    expect(r.errors.filter((e) => e.type === 'm_components').map((e) => e.legoId)).toEqual(['S0068L04', 'S0081L03']);
    for (const rule of ['lego_id', 'unique_lego_id', 'lego_type']) expect(counts(r, rule)).toEqual({ checked: 2796, failed: 0 });
    expect(counts(r, 'seed_pair_matches')).toEqual({ checked: 668, failed: 0 });

    // Hard rules with the Spanish defaults: only warnings (estoy/está/estabas as copulas, and the answer "No").
    expect(counts(r, 'standalone_article')).toEqual({ checked: 532, failed: 0 });
    expect(counts(r, 'standalone_auxiliary')).toEqual({ checked: 532, failed: 0, warned: 3 });
    expect(counts(r, 'standalone_negation')).toEqual({ checked: 532, failed: 0, warned: 24 });
    expect(counts(r, 'standalone_object_pronoun')).toEqual({ checked: 532, failed: 0 });
    expect(r.errors.filter((e) => e.type.startsWith('standalone_')).every((e) => e.severity === 'warning')).toBe(true);
    expect(r.errors.filter((e) => e.type === 'standalone_auxiliary').map((e) => e.legoId)).toEqual(['S0039L02', 'S0467L01', 'S0600L05']);
  });

  it('the basket sample against the whole lego_pairs.json: GATE per phrase, phrase containment, final baskets', () => {
    const legoPairs = load('lego_pairs', 'spa_for_eng/lego_pairs.json') as LegoPairsItem[];
    const items = load('lego_baskets', 'spa_for_eng/lego_baskets.sample_S0001-S0100.json') as BasketsItem[];
    const r = checkBaskets(items, { ...SPA, legoPairs });

    // The README's vocabulary: words of LEGO targets at positions 1..N, LEGO N included.
    const vocabAt = new Map<string, Set<string>>();
    const vocab = new Set<string>();
    for (const s of legoPairs) {
      for (const l of s.legos) {
        for (const w of readmeWords(l.lego.target)) vocab.add(w);
        vocabAt.set(l.id, new Set(vocab));
      }
    }
    let independent = 0;
    let phrases = 0;
    for (const it of items) {
      for (const [id, b] of Object.entries(it.baskets)) {
        for (const p of b.practice_phrases) {
          phrases++;
          if (readmeWords(p.target).some((w) => !vocabAt.get(id)!.has(w))) independent++;
        }
      }
    }
    expect(phrases).toBe(2724);
    expect(independent).toBe(13);
    expect(counts(r, 'gate')).toEqual({ checked: 2724, failed: independent });
    expect(failed(r, 'gate')).toContain('S0056L05: phrase "Sé unas pocas palabras" uses "sé", not taught until S0059L01');
    expect(failed(r, 'gate')).toContain('S0047L04: phrase "Eso es una cosa buena para mí" uses "mí", not taught by S0047L04');

    expect(counts(r, 'phrase_contains_lego')).toEqual({ checked: 2724, failed: 28 });
    expect(failed(r, 'phrase_contains_lego')).toContain('S0083L02: phrase "Estoy de acuerdo contigo" does not contain the LEGO "estoy de acuerdo con"');
    expect(counts(r, 'final_lego_ends_with_seed')).toEqual({ checked: 99, failed: 6 });
    // Mostly the seed sentence twice in a basket, once without and once with its final punctuation.
    expect(counts(r, 'no_duplicate_phrases')).toEqual({ checked: 2724, failed: 72 });
    expect(failed(r, 'no_duplicate_phrases')).toContain('S0001L07: phrase 7 "Quiero hablar español contigo ahora." repeats phrase 6');
    expect(counts(r, 'phrase_count')).toEqual({ checked: 422, failed: 0 });
    expect(counts(r, 'basket_matches_lego')).toEqual({ checked: 422, failed: 40 });
  });

  it('seed_pairs.json against canonical_seeds.json: only S0130 differs (the canonical typo "surrpise")', () => {
    const items = load('seed_pairs', 'spa_for_eng/seed_pairs.json') as SeedPairItem[];
    const c = readCanonical(JSON.parse(readFileSync(path.join(dataDir, 'canonical_seeds.json'), 'utf8')), 'Spanish');
    if (!c.ok) throw new Error(c.error);
    const r = checkSeedPairs(items, { ...SPA, canonical: c.canonical, knownIsEnglish: true });
    expect(counts(r, 'known_matches_canonical')).toEqual({ checked: 668, failed: 1 });
    expect(failed(r, 'known_matches_canonical')).toEqual([
      'S0130: known "That was a surprise, because he\'s my friend." differs from the canonical seed "That was a surrpise, because he\'s my friend.": "surprise" where the canonical has "surrpise"',
    ]);
    expect(counts(r, 'canonical_coverage')).toEqual({ checked: 668, failed: 0 });
    expect(r.errors).toHaveLength(1);
  });
});
