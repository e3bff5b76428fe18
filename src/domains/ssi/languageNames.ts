/** English names of target languages, for "{target}" in canonical seeds when no name is configured. */
const NAMES: Record<string, string> = {
  spa: 'Spanish',
  fra: 'French',
  ita: 'Italian',
  deu: 'German',
  por: 'Portuguese',
  cym: 'Welsh',
  gle: 'Irish',
  nld: 'Dutch',
  cmn: 'Chinese',
  zho: 'Chinese',
  jpn: 'Japanese',
  kor: 'Korean',
  ara: 'Arabic',
  eng: 'English',
};

export function languageName(code: string): string {
  return NAMES[code.toLowerCase()] ?? code;
}

/** The name when this table knows the code, else null. */
export function knownLanguageName(code: string): string | null {
  return NAMES[code.toLowerCase()] ?? null;
}
