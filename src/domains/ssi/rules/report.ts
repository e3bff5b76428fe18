/**
 * What every SSi rule set shares: the rule names of each kind, the report a run fills in (counts and
 * findings, each with its severity), and the re-reading of items that is rule "shape".
 */
import { readItem } from '../formats.js';
import type { RuleError, RuleOptions, RuleReport, Severity, SsiKind } from '../types.js';

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

export type Finding = { seedId: string; legoId?: string; message: string };

/** Counts and findings for one run; a rule switched off (or left out by `only`) has no entry at all. */
export class Report {
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
export function wellFormed<T>(kind: SsiKind, items: readonly unknown[], report: Report): T[] {
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
export function repeats(ids: readonly string[]): Array<{ id: string; at: number; first: number }> {
  const first = new Map<string, number>();
  const out: Array<{ id: string; at: number; first: number }> = [];
  ids.forEach((id, at) => {
    const f = first.get(id);
    if (f === undefined) first.set(id, at);
    else out.push({ id, at, first: f });
  });
  return out;
}
