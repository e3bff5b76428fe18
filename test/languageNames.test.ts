import { describe, expect, it } from 'vitest';
import { knownLanguageName, languageName } from '../src/domains/ssi/languageNames.js';

describe('language names (the default course target_name, substituted for {target} in the seeds)', () => {
  it('names the languages courses were built with exactly as before (the name is part of their keys)', () => {
    const before = { spa: 'Spanish', fra: 'French', ita: 'Italian', deu: 'German', por: 'Portuguese', cym: 'Welsh', gle: 'Irish', nld: 'Dutch', cmn: 'Chinese', zho: 'Chinese', jpn: 'Japanese', kor: 'Korean', ara: 'Arabic', eng: 'English' };
    for (const [code, name] of Object.entries(before)) {
      expect(knownLanguageName(code), code).toBe(name);
      expect(knownLanguageName(code.toUpperCase()), code).toBe(name);
    }
  });

  it('knows languages beyond a hand-kept table, and says so when it does not know one', () => {
    expect(knownLanguageName('eus')).toBe('Basque');
    expect(knownLanguageName('pol')).toBe('Polish');
    expect(knownLanguageName('qqq')).toBeNull();
    expect(knownLanguageName('not a code')).toBeNull();
    expect(languageName('qqq')).toBe('qqq');
  });
});
