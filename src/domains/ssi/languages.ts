/**
 * Default word lists for the hard rules on atomic (type "A") LEGOs: a LEGO whose whole target is one of these
 * words alone teaches something a learner cannot use by itself (an article without its noun, an auxiliary
 * without its verb, ...). Per target language and category, `error` words fail the rule by default and
 * `warning` words are reported without failing the batch.
 *
 * How the Spanish defaults were chosen, from the 532 A LEGOs of the real spa_for_eng course:
 * - article (el la los las un una unos unas): none stands alone in the course, and an article without its noun
 *   is never a usable LEGO, so they are errors.
 * - auxiliary: the forms of "haber" only ever build compound tenses (he visto, ha llegado), so they are errors
 *   (none occurs alone in the course; "hay" = "there is" is a full verb and is not listed). "estar" and "ir"
 *   also work as auxiliaries (estoy intentando, voy a hablar) but are full verbs too: the course has
 *   "estoy" = "I'm" (S0039L02, "estoy un poco cansado"), "está" = "it's" (S0467L01) and "estabas" = "you
 *   were" (S0600L05), all correct copulas, so these are warnings (3 in the course).
 * - negation: "no" alone is an A LEGO 24 times in the course, and every one is the answer "No," that opens a
 *   seed ("No, no estoy preparado todavía"), which is legitimate; only the negator "no" (= "not") alone is
 *   wrong, and the target alone cannot tell them apart. So "no" is a warning (24 in the course). "nunca",
 *   "nada", "nadie" mean something alone ("never", "nothing", "nobody") and are not listed.
 * - object_pronoun (me te se lo la le los las les nos os): none stands alone in the course; a clitic pronoun
 *   is never said alone, so they are errors.
 * "la", "los" and "las" are both articles and object pronouns; they are in both lists, so a LEGO "la" alone is
 * reported by both rules (each rule can be switched off or downgraded on its own).
 *
 * French, Italian and German follow the same reasoning without course data to calibrate on: forms that
 * never stand alone are errors, forms that double as full words (être/avoir, essere/avere, sein/haben,
 * the answer-word negations) are warnings.
 */
import { tokenKey } from './text.js';
import type { HardRuleCategory, Severity } from './types.js';

export type WordLists = Record<HardRuleCategory, { error: string[]; warning: string[] }>;

export const HARD_RULE_CATEGORIES: readonly HardRuleCategory[] = ['article', 'auxiliary', 'negation', 'object_pronoun'];

const SPANISH: WordLists = {
  article: { error: ['el', 'la', 'los', 'las', 'un', 'una', 'unos', 'unas'], warning: [] },
  auxiliary: {
    error: ['he', 'has', 'ha', 'hemos', 'habéis', 'han', 'había', 'habías', 'habíamos', 'habíais', 'habían'],
    warning: [
      'estoy', 'estás', 'está', 'estamos', 'estáis', 'están',
      'estaba', 'estabas', 'estábamos', 'estabais', 'estaban',
      'voy', 'vas', 'va', 'vamos', 'vais', 'van',
    ],
  },
  negation: { error: [], warning: ['no'] },
  object_pronoun: { error: ['me', 'te', 'se', 'lo', 'la', 'le', 'los', 'las', 'les', 'nos', 'os'], warning: [] },
};

const FRENCH: WordLists = {
  // Elided forms (l', n') are listed with their apostrophe; tokenisation drops a word-final apostrophe on both sides.
  article: { error: ['le', 'la', "l'", 'les', 'un', 'une', 'des', 'du'], warning: [] },
  auxiliary: {
    error: [],
    warning: ['ai', 'as', 'a', 'avons', 'avez', 'ont', 'suis', 'es', 'est', 'sommes', 'êtes', 'sont'],
  },
  negation: { error: ['ne', "n'"], warning: ['pas', 'non'] },
  object_pronoun: { error: ['me', 'te', 'se', 'le', 'la', 'les', 'lui', 'leur', 'nous', 'vous', 'y', 'en'], warning: [] },
};

const ITALIAN: WordLists = {
  article: { error: ['il', 'lo', 'la', 'i', 'gli', 'le', 'un', 'uno', 'una'], warning: [] },
  auxiliary: {
    error: [],
    warning: [
      'ho', 'hai', 'ha', 'abbiamo', 'avete', 'hanno',
      'sono', 'sei', 'è', 'siamo', 'siete',
      'sto', 'stai', 'sta', 'stiamo', 'state', 'stanno',
    ],
  },
  // "non" only ever negates a verb; "no" is the answer word.
  negation: { error: ['non'], warning: ['no'] },
  object_pronoun: { error: ['mi', 'ti', 'si', 'ci', 'vi', 'lo', 'la', 'li', 'le', 'gli', 'ne'], warning: [] },
};

const GERMAN: WordLists = {
  article: {
    error: ['der', 'die', 'das', 'den', 'dem', 'des', 'ein', 'eine', 'einen', 'einem', 'einer', 'eines'],
    warning: [],
  },
  auxiliary: {
    error: ['werde', 'wirst', 'wird', 'werden', 'werdet'],
    warning: ['habe', 'hast', 'hat', 'haben', 'habt', 'bin', 'bist', 'ist', 'sind', 'seid'],
  },
  negation: { error: [], warning: ['nicht', 'kein', 'keine', 'nein'] },
  object_pronoun: { error: ['mich', 'dich', 'sich', 'ihn', 'uns', 'euch', 'mir', 'dir', 'ihm'], warning: [] },
};

/** ISO 639-3 codes as course codes use them ("spa_for_eng"), and the 639-1 codes people also write. */
const DEFAULTS: Record<string, WordLists> = { spa: SPANISH, es: SPANISH, fra: FRENCH, fr: FRENCH, ita: ITALIAN, it: ITALIAN, deu: GERMAN, de: GERMAN };

function emptyLists(): WordLists {
  const none = () => ({ error: [], warning: [] });
  return { article: none(), auxiliary: none(), negation: none(), object_pronoun: none() };
}

/** The default lists for a target language code ("spa"); an unknown language has empty lists. */
export function defaultWordLists(language: string): WordLists {
  const lists = DEFAULTS[language.toLowerCase()];
  if (!lists) return emptyLists();
  // A copy, so that a caller's edits never leak into the next check.
  return structuredClone(lists);
}

/**
 * word → severity for one category: the language's defaults, then the caller's lists on top (a word the
 * caller lists takes the caller's severity, which is how a default error is demoted to a warning).
 */
export function wordSeverities(
  language: string,
  category: HardRuleCategory,
  extra?: { error?: string[]; warning?: string[] },
): Map<string, Severity> {
  const base = defaultWordLists(language)[category];
  const out = new Map<string, Severity>();
  const put = (list: string[] | undefined, severity: Severity) => {
    // Normalised like LEGO targets, so that "N'" or "No." in a list still matches.
    for (const w of list ?? []) out.set(tokenKey(w), severity);
  };
  put(base.warning, 'warning');
  put(base.error, 'error');
  put(extra?.warning, 'warning');
  put(extra?.error, 'error');
  return out;
}
