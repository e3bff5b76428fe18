import type { Domain } from '../../config/plugins.js';
import type { Registry } from '../../config/registry.js';
import { courseSupport } from './course.js';
import { documentKinds, mergeFormats } from './documents.js';
import { itemSchemas } from './schemas.js';
import { ruleSets } from './validator.js';
import { vocabularyContext } from './vocabulary.js';

/**
 * The SSi language-course domain as a plug-in: its documents (merge formats `ssi:seed_pairs`,
 * `ssi:lego_pairs`, `ssi:lego_baskets`, and the same kinds for replay recordings and cf adopt), its rule
 * sets, the item schema of each kind (a phase of the kind gets it), the vocabulary context, and what
 * `course:` means (the target language's name, "{target}" in seeds).
 */
export const ssi: Domain = {
  namespace: 'ssi',
  mergeFormats,
  documentKinds,
  ruleSets,
  itemSchemas,
  contextKinds: [vocabularyContext],
  course: courseSupport,
};

/** Registers the SSi domain (again: nothing happens): the composition root calls it before reading a pipeline. */
export function registerSsi(registry: Registry): void {
  registry.use(ssi);
}
