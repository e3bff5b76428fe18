import type { CourseConfig, ValidateConfig } from '../../config/pipeline.js';
import type { RuleSet } from '../../config/plugins.js';
import type { Item } from '../../config/seeds.js';
import type { ValidationError, Validator, ValidatorContext, ValidatorRequest, ValidatorResult } from '../../exec/validate.js';
import { HARD_RULE_CATEGORIES, SSI_KINDS, type LegoPairsItem, type Pair, type RuleError, type RuleOptions, type RuleReport, type SeedPairItem, type SsiKind, type BasketsItem } from './types.js';
import { checkBaskets, checkLegoPairs, checkSeedPairs, RULES } from './validators.js';

const isPair = (x: Item): boolean => typeof x.known === 'string' && typeof x.target === 'string';

export function knownIsEnglish(course: CourseConfig | null): boolean {
  return /^(en|eng)$/i.test(course?.knownLanguage ?? 'eng');
}

function toValidationError(e: RuleError): ValidationError {
  return { item: e.seedId, ...(e.legoId ? { lego: e.legoId } : {}), rule: e.type, message: e.message };
}

/**
 * The SSi rule sets as a phase validator inside a build: the batch's output items, judged with what the
 * batch's input items tell (the canonical seed, the seed pair, the seed's LEGOs).
 * The GATE needs the vocabulary taught before the batch: checked when the phase has `context: vocabulary`.
 */
export class SsiRulesValidator implements Validator {
  constructor(
    private readonly kind: SsiKind,
    private readonly config: Pick<ValidateConfig, 'severity' | 'lists'>,
    private readonly course: CourseConfig | null,
  ) {}

  async validate(req: ValidatorRequest): Promise<ValidatorResult> {
    const report = this.check(req.items, req.inputItems, req.context);
    const errors = report.errors.filter((e) => e.severity === 'error').map(toValidationError);
    const warnings = report.errors.filter((e) => e.severity === 'warning').map(toValidationError);
    if (errors.length) return { kind: 'invalid', errors };
    return warnings.length ? { kind: 'valid', warnings } : { kind: 'valid' };
  }

  private check(items: Item[], inputs: Item[], context?: ValidatorContext): RuleReport {
    // The schema let only HARD_RULE_CATEGORIES through as `lists:` keys.
    const opts: RuleOptions = { language: this.course?.targetLanguage ?? 'und', severity: { ...this.config.severity }, lists: this.config.lists as RuleOptions['lists'] };
    switch (this.kind) {
      case 'seed_pairs': {
        const canonical = new Map<string, string>();
        for (const it of inputs) if (typeof it.source === 'string') canonical.set(String(it.seed_id), it.source);
        return checkSeedPairs(items as SeedPairItem[], { ...opts, canonical, knownIsEnglish: knownIsEnglish(this.course) });
      }
      case 'lego_pairs': {
        const seedPairs = new Map<string, Pair>();
        for (const it of inputs) if (isPair(it)) seedPairs.set(String(it.seed_id), { known: String(it.known), target: String(it.target) });
        // A lego_pairs phase that reads the seeds themselves (no seed pairs upstream) has nothing to compare with.
        return checkLegoPairs(items as LegoPairsItem[], { ...opts, ...(seedPairs.size ? { seedPairs } : {}) });
      }
      case 'lego_baskets': {
        const legoPairs = inputs.filter((it) => Array.isArray(it.legos)) as LegoPairsItem[];
        if (!context) return checkBaskets(items as BasketsItem[], { ...opts, severity: { ...opts.severity, gate: 'off' }, legoPairs });
        // With the vocabulary context, the GATE holds item by item: each seed's baskets against the words
        // taught before it plus its own LEGOs (items of one run may come from far apart in the course).
        const merged: RuleReport = { kind: 'lego_baskets', rules: {}, errors: [] };
        const inputById = new Map(legoPairs.map((lp) => [lp.seed_id, lp]));
        for (const it of items as BasketsItem[]) {
          const input = inputById.get(it.seed_id);
          const r = checkBaskets([it], { ...opts, ...(input ? { legoPairs: [input] } : {}), vocabularyBefore: context.vocabularyBefore(it.seed_id) });
          merged.errors.push(...r.errors);
          for (const [rule, c] of Object.entries(r.rules)) {
            const m = (merged.rules[rule] ??= { checked: 0, failed: 0 });
            m.checked += c.checked;
            m.failed += c.failed;
            if (c.warned) m.warned = (m.warned ?? 0) + c.warned;
          }
        }
        return merged;
      }
    }
  }
}

/** The SSi rule sets as cf plugs them in: `validate: ssi:lego_pairs` (or `rules: ssi:…`), one per kind. */
export const ruleSets: readonly RuleSet[] = SSI_KINDS.map((kind) => ({
  name: kind,
  rules: RULES[kind],
  lists: HARD_RULE_CATEGORIES,
  create: (config, pipeline) => new SsiRulesValidator(kind, config, pipeline.course),
}));
