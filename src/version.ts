/** cf's version, and the versions of what its keys are made of: any change makes every key change. */
export const CF_VERSION = '0.1.0';

/** Bumped when the meaning of a fingerprint changes; every key changes with it. */
export const FINGERPRINT_VERSION = 3;

/** Bumped when the prompt template's wording changes; it is part of every key, so batches rerun. */
export const PROMPT_TEMPLATE_VERSION = 2;

/** What a no-op stamp must match: a new cf or key format is never answered from an old stamp. */
export const STATE_FORMAT = `${CF_VERSION}+k${FINGERPRINT_VERSION}.p${PROMPT_TEMPLATE_VERSION}`;

declare const __CF_BUILD__: string | undefined;

/**
 * Which build of cf's code runs: a hash of its sources, set when it is bundled (scripts/bundle.mjs); "source"
 * when run from source (tests). What cf caches of its own parsing (.cf/pipeline.json) is valid only for the
 * code that parsed it: a cf rebuilt with another parser never trusts an older parse.
 */
export const CF_BUILD: string = typeof __CF_BUILD__ === 'string' ? __CF_BUILD__ : 'source';
