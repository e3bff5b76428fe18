/**
 * The SSi rule sets, one per kind. Each rule counts what it checked and what failed, and records every finding;
 * pass/fail is the caller's decision, from the findings whose severity is "error".
 *
 * Items are re-read with the document readers first (rule "shape"): inside a build they come straight from an
 * agent's output, so nothing else has checked that a LEGO has a `lego` pair. A malformed item is reported once
 * and left out of the other rules.
 */
import { readItem, seedOfLego } from './formats.js';
import { HARD_RULE_CATEGORIES, wordSeverities } from './languages.js';
import { containsRun, quote, tile, tokenDiff, tokenKey, tokens, words } from './text.js';
import type {
  BasketsItem,
  HardRuleCategory,
  Lego,
  LegoPairsItem,
  Pair,
  RuleError,
  RuleOptions,
  RuleReport,
  SeedPairItem,
  Severity,
  SsiKind,
} from './types.js';

/** Every rule of each kind, in report order: for callers that check rule names given in a config. */
export const RULES: Record<SsiKind, readonly string[]> = {
  seed_pairs: ['shape', 'non_empty', 'known_matches_canonical', 'unique_seed', 'canonical_coverage'],
  lego_pairs: [
    'shape', 'has_legos', 'tiling', 'lego_id', 'unique_lego_id', 'lego_type', 'm_components', 'seed_pair_matches',
    'standalone_article', 'standalone_auxiliary', 'standalone_negation', 'standalone_object_pronoun',
  ],
  lego_baskets: [
    'shape', 'gate', 'phrase_contains_lego', 'final_lego_ends_with_seed', 'no_duplicate_phrases', 'phrase_count', 'basket_matches_lego',
  ],
};

type Finding = { seedId: string; legoId?: string; message: string };

/** Counts and findings for one run; a rule switched off (or left out by `only`) has no entry at all. */
class Report {
  private readonly rules: Record<string, { checked: number; failed: number; warned?: number }> = {};
  private readonly errors: RuleError[] = [];

  constructor(
    private readonly kind: SsiKind,
    private readonly opts: RuleOptions,
  ) {
    for (const rule of RULES[kind]) if (this.on(rule)) this.rules[rule] = { checked: 0, failed: 0 };
  }

  /** "shape" ignores `only`: a malformed item escapes every other rule, so hiding it would pass it. */
  on(rule: string): boolean {
    const selected = !this.opts.only || this.opts.only.includes(rule) || rule === 'shape';
    return selected && this.opts.severity?.[rule] !== 'off';
  }

  checked(rule: string, n = 1): void {
    const r = this.rules[rule];
    if (r) r.checked += n;
  }

  /** `severity` is the rule's own default for this finding; the caller's per-rule setting overrides it. */
  fail(rule: string, f: Finding, severity: Severity = 'error'): void {
    const r = this.rules[rule];
    if (!r) return;
    const set = this.opts.severity?.[rule];
    const effective = set === 'error' || set === 'warning' ? set : severity;
    // "failed" counts errors; findings kept as warnings are counted apart, so failed 0 means the rule passed.
    if (effective === 'error') r.failed++;
    else r.warned = (r.warned ?? 0) + 1;
    this.errors.push({
      seedId: f.seedId,
      ...(f.legoId !== undefined ? { legoId: f.legoId } : {}),
      type: rule,
      message: f.message,
      severity: effective,
    });
  }

  done(): RuleReport {
    return { kind: this.kind, rules: this.rules, errors: this.errors };
  }
}

/** Items that have the kind's shape, normalised; the rest reported under "shape". */
function wellFormed<T>(kind: SsiKind, items: readonly unknown[], report: Report): T[] {
  const out: T[] = [];
  items.forEach((v, i) => {
    report.checked('shape');
    const r = readItem(kind, v, `items[${i}]`);
    if (r.ok) out.push(r.item as T);
    else report.fail('shape', { seedId: seedIdOf(v) ?? `items[${i}]`, message: r.error });
  });
  return out;
}

function seedIdOf(v: unknown): string | null {
  const id = typeof v === 'object' && v !== null ? (v as { seed_id?: unknown }).seed_id : undefined;
  return typeof id === 'string' ? id : null;
}

/** Second and later occurrences of an id, with the index of the first. */
function repeats(ids: readonly string[]): Array<{ id: string; at: number; first: number }> {
  const first = new Map<string, number>();
  const out: Array<{ id: string; at: number; first: number }> = [];
  ids.forEach((id, at) => {
    const f = first.get(id);
    if (f === undefined) first.set(id, at);
    else out.push({ id, at, first: f });
  });
  return out;
}

// ============================================================================================== seed_pairs

export type SeedPairsOptions = RuleOptions & {
  /** seed id → the known text the canonical seed asks for, {target} already substituted. */
  canonical?: Map<string, string>;
  /** The canonical seeds are English: comparing them with a non-English known side means nothing. Default true. */
  knownIsEnglish?: boolean;
};

function nonEmpty(items: readonly SeedPairItem[], report: Report): void {
  for (const it of items) {
    report.checked('non_empty');
    const empty = (['known', 'target'] as const).filter((side) => it[side].trim() === '');
    if (empty.length) report.fail('non_empty', { seedId: it.seed_id, message: `the ${empty.join(' and ')} text is empty` });
  }
}

function describeDiff(d: { actual: string; expected: string }): string {
  if (!d.actual) return `it lacks ${quote(d.expected)}`;
  if (!d.expected) return `it adds ${quote(d.actual)}`;
  return `${quote(d.actual)} where the canonical has ${quote(d.expected)}`;
}

function knownMatchesCanonical(items: readonly SeedPairItem[], canonical: Map<string, string>, report: Report): void {
  for (const it of items) {
    const expected = canonical.get(it.seed_id);
    if (expected === undefined) continue;
    report.checked('known_matches_canonical');
    const got = tokens(it.known);
    const want = tokens(expected);
    if (got.join(' ') === want.join(' ')) continue;
    report.fail('known_matches_canonical', {
      seedId: it.seed_id,
      message: `known ${quote(it.known)} differs from the canonical seed ${quote(expected)}: ${describeDiff(tokenDiff(got, want))}`,
    });
  }
}

/** Both directions: every canonical seed is there, and nothing else is. */
function canonicalCoverage(items: readonly SeedPairItem[], canonical: Map<string, string>, report: Report): void {
  const present = new Set(items.map((it) => it.seed_id));
  for (const id of canonical.keys()) {
    report.checked('canonical_coverage');
    if (!present.has(id)) report.fail('canonical_coverage', { seedId: id, message: `canonical seed ${id} has no translation` });
  }
  for (const id of present) {
    if (!canonical.has(id)) report.fail('canonical_coverage', { seedId: id, message: `${id} is not a canonical seed` });
  }
}

/**
 * seed_pairs rules. `canonical_coverage` compares with the whole of `canonical`: pass the whole course's
 * canonical seeds to `cf check`, and only the batch's seeds inside a build.
 */
export function checkSeedPairs(items: readonly SeedPairItem[], opts: SeedPairsOptions): RuleReport {
  const report = new Report('seed_pairs', opts);
  const ok = wellFormed<SeedPairItem>('seed_pairs', items, report);
  if (report.on('non_empty')) nonEmpty(ok, report);
  if (report.on('known_matches_canonical') && opts.canonical && opts.knownIsEnglish !== false) {
    knownMatchesCanonical(ok, opts.canonical, report);
  }
  if (report.on('unique_seed')) {
    report.checked('unique_seed', ok.length);
    for (const r of repeats(ok.map((it) => it.seed_id))) {
      report.fail('unique_seed', { seedId: r.id, message: `${r.id} appears more than once (items ${r.first + 1} and ${r.at + 1})` });
    }
  }
  if (report.on('canonical_coverage') && opts.canonical) canonicalCoverage(ok, opts.canonical, report);
  return report.done();
}

// ============================================================================================== lego_pairs

export type LegoPairsOptions = RuleOptions & {
  /** seed id → the seed_pairs translation the seed_pair must equal. */
  seedPairs?: Map<string, Pair>;
};

const LEGO_ID = /^S\d{4}L\d{2}$/;

/** Why a seed does not tile, in words an agent can act on. */
function tilingProblem(seed: readonly string[], legos: readonly Lego[], pieces: readonly string[][], reached: number): string {
  const covered = new Array<boolean>(seed.length).fill(false);
  const absent: string[] = [];
  pieces.forEach((piece, p) => {
    let found = false;
    for (let i = 0; i + piece.length <= seed.length; i++) {
      if (piece.length === 0 || !piece.every((t, j) => seed[i + j] === t)) continue;
      found = true;
      for (let j = 0; j < piece.length; j++) covered[i + j] = true;
    }
    if (!found) absent.push(`${legos[p]!.id} ${quote(legos[p]!.lego.target)}`);
  });
  const missing = seed.filter((_, i) => !covered[i]);
  const parts: string[] = [];
  if (missing.length) parts.push(`no LEGO covers ${missing.map((w) => quote(w)).join(', ')}`);
  else parts.push(`no non-overlapping sequence of LEGOs spells it (stuck at ${quote(seed.slice(reached).join(' '))})`);
  if (absent.length) parts.push(`not in the seed: ${absent.join(', ')}`);
  return parts.join('; ');
}

function tiling(it: LegoPairsItem, report: Report): void {
  report.checked('tiling');
  const seed = tokens(it.seed_pair.target);
  if (it.legos.length === 0) {
    report.fail('tiling', { seedId: it.seed_id, message: `no LEGOs to tile ${quote(it.seed_pair.target)}` });
    return;
  }
  const pieces = it.legos.map((l) => tokens(l.lego.target));
  const r = tile(seed, pieces);
  if (r.ok) return;
  report.fail('tiling', {
    seedId: it.seed_id,
    message: `the LEGOs do not tile the seed ${quote(it.seed_pair.target)}: ${tilingProblem(seed, it.legos, pieces, r.reached)}`,
  });
}

function legoIdProblem(id: string, seedId: string): string | null {
  if (!LEGO_ID.test(id)) return `LEGO id ${quote(id)} is not of the form S####L##`;
  return seedOfLego(id) === seedId ? null : `LEGO id ${id} does not start with its seed id ${seedId}`;
}

/** lego_id, lego_type and m_components: what each LEGO must be on its own. */
function legoShapeRules(it: LegoPairsItem, report: Report): void {
  for (const l of it.legos) {
    const at = { seedId: it.seed_id, legoId: l.id };
    report.checked('lego_id');
    const idProblem = legoIdProblem(l.id, it.seed_id);
    if (idProblem) report.fail('lego_id', { ...at, message: idProblem });
    report.checked('lego_type');
    if (l.type !== 'A' && l.type !== 'M') {
      report.fail('lego_type', { ...at, message: `type ${quote(l.type)} is neither "A" (atomic) nor "M" (molecular)` });
    }
    if (l.type !== 'M') continue;
    report.checked('m_components');
    if (!l.components?.length) report.fail('m_components', { ...at, message: `molecular LEGO ${quote(l.lego.target)} has no components` });
  }
}

function seedPairMatches(it: LegoPairsItem, seedPairs: Map<string, Pair>, report: Report): void {
  report.checked('seed_pair_matches');
  const want = seedPairs.get(it.seed_id);
  if (!want) {
    report.fail('seed_pair_matches', { seedId: it.seed_id, message: `${it.seed_id} is not in seed_pairs` });
    return;
  }
  // Exact text (surrounding spaces aside): the seed pair is copied, never re-typed.
  for (const side of ['known', 'target'] as const) {
    if (it.seed_pair[side].trim() === want[side].trim()) continue;
    report.fail('seed_pair_matches', {
      seedId: it.seed_id,
      message: `seed_pair.${side} ${quote(it.seed_pair[side])} differs from seed_pairs ${quote(want[side])}`,
    });
  }
}

const HARD_RULE_NAMES: Record<HardRuleCategory, string> = {
  article: 'standalone_article',
  auxiliary: 'standalone_auxiliary',
  negation: 'standalone_negation',
  object_pronoun: 'standalone_object_pronoun',
};

const CATEGORY_WORDS: Record<HardRuleCategory, string> = {
  article: 'an article without its noun',
  auxiliary: 'an auxiliary without its verb',
  negation: 'a negation without what it negates',
  object_pronoun: 'an object pronoun without its verb',
};

/** An atomic LEGO whose whole target is one listed word of the category. */
function hardRule(items: readonly LegoPairsItem[], category: HardRuleCategory, opts: RuleOptions, report: Report): void {
  const rule = HARD_RULE_NAMES[category];
  const listed = wordSeverities(opts.language, category, opts.lists?.[category]);
  for (const it of items) {
    for (const l of it.legos) {
      if (l.type !== 'A') continue;
      report.checked(rule);
      const t = tokens(l.lego.target);
      const severity = t.length === 1 ? listed.get(t[0]!) : undefined;
      if (!severity) continue;
      const message = `atomic LEGO ${quote(l.lego.target)} is ${CATEGORY_WORDS[category]}: make it part of a molecular LEGO`;
      report.fail(rule, { seedId: it.seed_id, legoId: l.id, message }, severity);
    }
  }
}

export function checkLegoPairs(items: readonly LegoPairsItem[], opts: LegoPairsOptions): RuleReport {
  const report = new Report('lego_pairs', opts);
  const ok = wellFormed<LegoPairsItem>('lego_pairs', items, report);
  for (const it of ok) {
    if (report.on('has_legos')) {
      report.checked('has_legos');
      if (it.legos.length === 0) report.fail('has_legos', { seedId: it.seed_id, message: 'the seed has no LEGOs' });
    }
    if (report.on('tiling')) tiling(it, report);
    legoShapeRules(it, report);
    if (report.on('seed_pair_matches') && opts.seedPairs) seedPairMatches(it, opts.seedPairs, report);
  }
  if (report.on('unique_lego_id')) {
    const all = ok.flatMap((it) => it.legos.map((l) => ({ seedId: it.seed_id, id: l.id })));
    report.checked('unique_lego_id', all.length);
    for (const r of repeats(all.map((l) => l.id))) {
      report.fail('unique_lego_id', { seedId: all[r.at]!.seedId, legoId: r.id, message: `LEGO id ${r.id} is used more than once` });
    }
  }
  for (const category of HARD_RULE_CATEGORIES) {
    if (report.on(HARD_RULE_NAMES[category])) hardRule(ok, category, opts, report);
  }
  return report.done();
}

// ============================================================================================== lego_baskets

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
