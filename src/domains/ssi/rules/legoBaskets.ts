/** The lego_baskets rules: each basket's phrases use only words already taught (GATE), contain their LEGO, and add up. */
import { readItem } from '../formats.js';
import { containsRun, quote, tokenKey, tokens, words } from '../text.js';
import type { BasketsItem, LegoPairsItem, Pair, RuleOptions, RuleReport } from '../types.js';
import { repeats, Report, wellFormed } from './report.js';

export type BasketsOptions = RuleOptions & {
  /** The LEGOs in teaching order: the whole course for `cf check`, or one batch's seeds inside a build. */
  legoPairs?: LegoPairsItem[];
  /** Inside a build: the vocabulary (as `vocabulary` gives it) of every LEGO before the first one of `legoPairs`. */
  vocabularyBefore?: Set<string>;
};

/** The GATE vocabulary the LEGOs of these seeds teach: for `vocabularyBefore`, from the batches before. */
export function vocabulary(legoPairs: readonly LegoPairsItem[]): Set<string> {
  return new Set(legoPairs.flatMap((s) => s.legos.flatMap((l) => words(l.lego.target))));
}

interface LegoPlace {
  pos: number;
  seedId: string;
  lego: Pair;
  seedTarget: string;
}

/** What lego_pairs tells the basket rules: where each LEGO is, and where each word is first taught. */
interface Course {
  legos: Map<string, LegoPlace>;
  firstTaught: Map<string, { pos: number; legoId: string }>;
}

function courseOf(legoPairs: readonly LegoPairsItem[], before: Set<string> | undefined): Course {
  const legos = new Map<string, LegoPlace>();
  const firstTaught = new Map<string, { pos: number; legoId: string }>();
  for (const w of before ?? []) firstTaught.set(w, { pos: -1, legoId: '(an earlier batch)' });
  let pos = 0;
  for (const raw of legoPairs) {
    const r = readItem('lego_pairs', raw, 'legoPairs');
    // A malformed seed is lego_pairs' problem, reported when lego_pairs is checked.
    if (!r.ok) continue;
    const seed = r.item as LegoPairsItem;
    for (const l of seed.legos) {
      if (!legos.has(l.id)) legos.set(l.id, { pos, seedId: seed.seed_id, lego: l.lego, seedTarget: seed.seed_pair.target });
      for (const w of words(l.lego.target)) if (!firstTaught.has(w)) firstTaught.set(w, { pos, legoId: l.id });
      pos++;
    }
  }
  return { legos, firstTaught };
}

/**
 * GATE: a phrase may only use words taught at or before its LEGO (the LEGO itself included), in lego_pairs
 * order. One finding per phrase, naming each word it should not know yet.
 */
function gate(id: string, seedId: string, phrases: readonly Pair[], place: LegoPlace, course: Course, report: Report): void {
  for (const p of phrases) {
    report.checked('gate');
    const late = [...new Set(words(p.target))].flatMap((w) => {
      const t = course.firstTaught.get(w);
      if (t && t.pos <= place.pos) return [];
      return [t ? `${quote(w)}, not taught until ${t.legoId}` : `${quote(w)}, not taught by ${id}`];
    });
    if (late.length) report.fail('gate', { seedId, legoId: id, message: `phrase ${quote(p.target)} uses ${late.join('; ')}` });
  }
}

/**
 * The LEGO must appear in the phrase as whole words, ignoring case and punctuation. A plain substring test
 * is wrong both ways: case ("Quiero" vs "quiero") fails 756 phrases of the real sample, and a substring inside
 * a word passes ("con" in "contigo", "o" in "Ahora"). 28 of the sample's 2,724 phrases fail this comparison.
 */
function phraseContainsLego(id: string, seedId: string, lego: Pair, phrases: readonly Pair[], report: Report): void {
  const needle = tokens(lego.target);
  for (const p of phrases) {
    report.checked('phrase_contains_lego');
    if (containsRun(tokens(p.target), needle)) continue;
    report.fail('phrase_contains_lego', { seedId, legoId: id, message: `phrase ${quote(p.target)} does not contain the LEGO ${quote(lego.target)}` });
  }
}

function finalLegoEndsWithSeed(id: string, seedId: string, phrases: readonly Pair[], place: LegoPlace, report: Report): void {
  report.checked('final_lego_ends_with_seed');
  const last = phrases.at(-1);
  if (last && tokenKey(last.target) === tokenKey(place.seedTarget)) return;
  const got = last ? `its last phrase is ${quote(last.target)}` : 'it has no phrases';
  const message = `the seed's final basket should end with the seed ${quote(place.seedTarget)}, but ${got}`;
  report.fail('final_lego_ends_with_seed', { seedId, legoId: id, message });
}

function noDuplicatePhrases(id: string, seedId: string, phrases: readonly Pair[], report: Report): void {
  report.checked('no_duplicate_phrases', phrases.length);
  for (const r of repeats(phrases.map((p) => tokenKey(p.target)))) {
    const message = `phrase ${r.at + 1} ${quote(phrases[r.at]!.target)} repeats phrase ${r.first + 1}`;
    report.fail('no_duplicate_phrases', { seedId, legoId: id, message });
  }
}

function phraseCount(id: string, seedId: string, count: number, phrases: readonly Pair[], report: Report): void {
  report.checked('phrase_count');
  if (count === phrases.length) return;
  report.fail('phrase_count', { seedId, legoId: id, message: `phrase_count is ${count} but there are ${phrases.length} phrases` });
}

function basketMatchesLego(id: string, seedId: string, lego: Pair, place: LegoPlace | undefined, report: Report): void {
  report.checked('basket_matches_lego');
  if (!place) {
    report.fail('basket_matches_lego', { seedId, legoId: id, message: `there is no LEGO ${id} in lego_pairs` });
    return;
  }
  if (tokenKey(lego.target) === tokenKey(place.lego.target) && tokenKey(lego.known) === tokenKey(place.lego.known)) return;
  const say = (p: Pair) => `${quote(p.target)} = ${quote(p.known)}`;
  const message = `the basket is for ${say(lego)}, but ${id} in lego_pairs is ${say(place.lego)}`;
  report.fail('basket_matches_lego', { seedId, legoId: id, message });
}

/**
 * lego_baskets rules. `gate`, `final_lego_ends_with_seed` and `basket_matches_lego` need `legoPairs`; without
 * it they check nothing (checked: 0).
 */
export function checkBaskets(items: readonly BasketsItem[], opts: BasketsOptions): RuleReport {
  const report = new Report('lego_baskets', opts);
  const ok = wellFormed<BasketsItem>('lego_baskets', items, report);
  const course = opts.legoPairs ? courseOf(opts.legoPairs, opts.vocabularyBefore) : null;
  for (const it of ok) {
    for (const [id, b] of Object.entries(it.baskets)) {
      const phrases = b.practice_phrases;
      const place = course?.legos.get(id);
      if (course && place && report.on('gate')) gate(id, it.seed_id, phrases, place, course, report);
      if (report.on('phrase_contains_lego')) phraseContainsLego(id, it.seed_id, b.lego, phrases, report);
      if (place && b.is_final_lego && report.on('final_lego_ends_with_seed')) {
        finalLegoEndsWithSeed(id, it.seed_id, phrases, place, report);
      }
      if (report.on('no_duplicate_phrases')) noDuplicatePhrases(id, it.seed_id, phrases, report);
      if (report.on('phrase_count')) phraseCount(id, it.seed_id, b.phrase_count, phrases, report);
      if (course && report.on('basket_matches_lego')) basketMatchesLego(id, it.seed_id, b.lego, place, report);
    }
  }
  return report.done();
}
