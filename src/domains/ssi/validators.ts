/**
 * The SSi rule sets, one per kind. Each rule counts what it checked and what failed, and records every finding;
 * pass/fail is the caller's decision, from the findings whose severity is "error".
 *
 * Items are re-read with the document readers first (rule "shape"): inside a build they come straight from an
 * agent's output, so nothing else has checked that a LEGO has a `lego` pair. A malformed item is reported once
 * and left out of the other rules.
 */
export { RULES } from './rules/report.js';
export { checkSeedPairs, type SeedPairsOptions } from './rules/seedPairs.js';
export { checkLegoPairs, type LegoPairsOptions } from './rules/legoPairs.js';
export { checkBaskets, vocabulary, type BasketsOptions } from './rules/legoBaskets.js';
