/**
 * The SSi course formats (see ../shared/data/ssi/README.md): the items cf's batches hold, per phase,
 * and what the rules report. A batch item is one seed's worth of a phase's output.
 */
export type SsiKind = 'seed_pairs' | 'lego_pairs' | 'lego_baskets';

export const SSI_KINDS: readonly SsiKind[] = ['seed_pairs', 'lego_pairs', 'lego_baskets'];

export interface Pair {
  known: string;
  target: string;
}

/** seed_pairs item: one seed's translation. */
export interface SeedPairItem {
  seed_id: string;
  known: string;
  target: string;
  [extra: string]: unknown;
}

export interface Lego {
  id: string;
  type: string;
  lego: Pair;
  /** `{known,target}` glosses (current format) or plain strings (the older APML v9 format). */
  components?: Array<Pair | string>;
  /** Global: computed when merging (first occurrence in seed order), never by a batch. */
  new?: boolean;
  [extra: string]: unknown;
}

/** lego_pairs item: one seed and its LEGOs. */
export interface LegoPairsItem {
  seed_id: string;
  seed_pair: Pair;
  legos: Lego[];
  [extra: string]: unknown;
}

export interface Basket {
  lego: Pair;
  is_final_lego: boolean;
  practice_phrases: Pair[];
  phrase_count: number;
  [extra: string]: unknown;
}

/** lego_baskets item: the baskets of one seed's LEGOs, keyed by LEGO id. */
export interface BasketsItem {
  seed_id: string;
  baskets: Record<string, Basket>;
  [extra: string]: unknown;
}

export interface CourseInfo {
  /** e.g. "spa_for_eng" */
  code: string;
  /** language codes, e.g. "spa", "eng" */
  targetLanguage: string;
  knownLanguage: string;
  /** e.g. "Spanish": substituted for {target} in seeds. */
  targetName?: string;
}

export type Severity = 'error' | 'warning';

/** One finding; the shape of the original design's error records. */
export interface RuleError {
  seedId: string;
  legoId?: string;
  /** The rule's name, e.g. "tiling", "gate". */
  type: string;
  message: string;
  severity: Severity;
}

export interface RuleReport {
  kind: SsiKind;
  /** Per rule: how many things it checked and how many failed (errors and warnings). */
  /** Per rule: items checked, error findings (`failed`) and warning findings (`warned`, when any). */
  rules: Record<string, { checked: number; failed: number; warned?: number }>;
  errors: RuleError[];
}

/** Categories of words an atomic (type A) LEGO must not consist of alone. */
export type HardRuleCategory = 'article' | 'auxiliary' | 'negation' | 'object_pronoun';

/** Every category, in the order pipeline.yaml's `lists:` lists them. */
export const HARD_RULE_CATEGORIES: readonly HardRuleCategory[] = ['article', 'auxiliary', 'negation', 'object_pronoun'];

export interface RuleOptions {
  /** Target language code (picks the default word lists), e.g. "spa". */
  language: string;
  /** Per rule: "error" (default for most), "warning", or "off". */
  severity?: Record<string, Severity | 'off'>;
  /** Per hard-rule category: words that are an error or a warning when they form an atomic LEGO alone. */
  lists?: Partial<Record<HardRuleCategory, { error?: string[]; warning?: string[] }>>;
  /** Only these rules (all when absent). */
  only?: string[];
}
