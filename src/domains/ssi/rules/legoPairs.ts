/** The lego_pairs rules: the LEGOs of a seed tile it, are well named and typed, and none is a lone function word. */
import { seedOfLego } from '../formats.js';
import { HARD_RULE_CATEGORIES, wordSeverities } from '../languages.js';
import { quote, tile, tokens } from '../text.js';
import type { HardRuleCategory, Lego, LegoPairsItem, Pair, RuleOptions, RuleReport } from '../types.js';
import { repeats, Report, wellFormed } from './report.js';

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
