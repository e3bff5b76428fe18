/**
 * English names of target languages, for "{target}" in canonical seeds when no name is configured: the
 * platform's CLDR data (Intl.DisplayNames), which knows every ISO 639 code ("spa", "cym", "eus", …), not a
 * table of our own. The name is part of the seeds an agent reads, hence of their keys: test/languageNames.test.ts
 * pins the names courses were built with, so an ICU update that renamed one would be caught, not rebuilt for.
 */
let names: Intl.DisplayNames | null | undefined;

function displayNames(): Intl.DisplayNames | null {
  // A Node built without Intl (--without-intl) has no DisplayNames: then cf knows no names.
  names ??= typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' }) : null;
  return names;
}

/** The name when cf knows the code, else null. */
export function knownLanguageName(code: string): string | null {
  try {
    return displayNames()?.of(code) ?? null;
  } catch {
    return null; // not a language code at all ("x", "spanish!")
  }
}

export function languageName(code: string): string {
  return knownLanguageName(code) ?? code;
}
