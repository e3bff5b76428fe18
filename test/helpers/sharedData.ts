import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real course data beside the repository (../shared/data/ssi; CF_SHARED_SSI elsewhere): read there, never copied. */
export const SHARED_SSI = process.env.CF_SHARED_SSI ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'ssi');

/**
 * Whether the tests named `what` can run on the real data. Where it must be present (CI, or
 * CF_REQUIRE_SHARED_DATA=1) its absence fails the run: tests that would skip there hide what they check.
 * Elsewhere the skip is said, by name, instead of passing unseen.
 */
export function sharedData(what: string): boolean {
  if (existsSync(SHARED_SSI)) return true;
  if (process.env.CI || process.env.CF_REQUIRE_SHARED_DATA === '1') {
    throw new Error(`${SHARED_SSI} is missing, and the tests "${what}" need it here (CI or CF_REQUIRE_SHARED_DATA=1)`);
  }
  process.stderr.write(`skipped: "${what}": ${SHARED_SSI} is not here\n`);
  return false;
}
