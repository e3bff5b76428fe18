/** The seed_pairs rules: each seed translated once, nothing empty, the known side as the canonical seed says. */
import { quote, tokenDiff, tokens } from '../text.js';
import type { RuleOptions, RuleReport, SeedPairItem } from '../types.js';
import { repeats, Report, wellFormed } from './report.js';

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
