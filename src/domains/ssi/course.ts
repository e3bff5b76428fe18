import type { CourseSupport } from '../../config/plugins.js';
import type { Item } from '../../config/seeds.js';
import { knownLanguageName } from './languageNames.js';

/** Replaces {target} in every string of a seed (e.g. "I want to speak {target}." → "… Spanish."). */
function substitute(value: unknown, targetName: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{target}', targetName);
  if (Array.isArray(value)) return value.map((v) => substitute(v, targetName));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, targetName);
    return out;
  }
  return value;
}

/**
 * pipeline.yaml's `course:` to the SSi domain: the target language's English name when target_name is not
 * set, and seeds that say "{target}" read with that name before any agent (or key) sees them.
 */
export const courseSupport: CourseSupport = {
  targetName: knownLanguageName,
  seeds: (course) => {
    const name = course.targetName;
    return name === null ? null : { tag: name, apply: (item) => substitute(item, name) as Item };
  },
};
