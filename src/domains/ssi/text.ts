/**
 * Text normalisation shared by the SSi rules. Two views of a sentence:
 * - `tokens`: what tiling, phrase containment and sentence comparisons work on (whole words, punctuation gone);
 * - `words`: what the GATE counts as vocabulary (letter runs only, as the data README computes it).
 */

/** Scripts written without spaces between words (or, for Hangul, taught per syllable): one token per character. */
const CJK_SCRIPT = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]/u;
const LETTER = /\p{L}/u;

/**
 * Characters that join a word when they sit between letters or digits: apostrophes ("l'homme", "don't"),
 * hyphens ("porte-monnaie") and the Catalan middle dot ("col·legi"). Anywhere else they are punctuation.
 */
const JOINERS = "'\\-\u00B7";
const LONE_JOINER = new RegExp(`(?<![\\p{L}\\p{N}])[${JOINERS}]|[${JOINERS}](?![\\p{L}\\p{N}])`, 'gu');
/** All Unicode punctuation (¿?¡!.,;: quotes, guillemets, brackets, ellipsis, dashes, CJK 。、「」…) except the joiners. */
const PUNCTUATION = new RegExp(`[^\\P{P}${JOINERS}]`, 'gu');

/** NFC so that a precomposed "é" and "e"+combining accent compare equal; curly apostrophes as straight ones. */
function canonical(text: string): string {
  return text.normalize('NFC').toLowerCase().replace(/[\u2018\u2019\u02BC]/g, "'").replace(/\u2010/g, '-');
}

function isCjk(ch: string): boolean {
  // CJK punctuation also has these script extensions, hence the letter test.
  return LETTER.test(ch) && CJK_SCRIPT.test(ch);
}

/** Splits a run into one piece per CJK character, keeping any non-CJK stretch ("iphone" in "我的iphone") whole. */
function splitCjk(run: string): string[] {
  if (![...run].some(isCjk)) return [run];
  const out: string[] = [];
  let pending = '';
  for (const ch of run) {
    if (!isCjk(ch)) {
      pending += ch;
      continue;
    }
    if (pending) out.push(pending);
    pending = '';
    out.push(ch);
  }
  if (pending) out.push(pending);
  return out;
}

/** Normalised tokens for tiling and comparisons: lower-case, punctuation replaced by spaces, split on whitespace. */
export function tokens(text: string): string[] {
  const cleaned = canonical(text).replace(PUNCTUATION, ' ').replace(LONE_JOINER, ' ');
  return cleaned.split(/\s+/u).filter(Boolean).flatMap(splitCjk);
}

/** The comparison key of a text: equal keys mean equal up to case, punctuation and spacing. */
export function tokenKey(text: string): string {
  return tokens(text).join(' ');
}

/**
 * The GATE's words: lower-case letter runs. Combining marks stay in the run so that scripts written with
 * vowel signs (Devanagari, Thai) keep whole words; for Latin-script text after NFC this is exactly /\p{L}+/.
 */
export function words(text: string): string[] {
  return (canonical(text).match(/[\p{L}\p{M}]+/gu) ?? []).flatMap(splitCjk);
}

/** Does `needle` occur in `hay` as a contiguous run of whole tokens? */
export function containsRun(hay: readonly string[], needle: readonly string[]): boolean {
  if (needle.length === 0) return true;
  for (let i = 0; i + needle.length <= hay.length; i++) {
    if (needle.every((t, j) => hay[i + j] === t)) return true;
  }
  return false;
}

/**
 * Tiling: can `target` be written as a sequence of the `pieces` (each used any number of times, none
 * overlapping)? Dynamic programming over token positions: reach[i] holds how position i was reached.
 * Returns the index of the piece used at each step, or the furthest position reached when there is no tiling.
 */
export function tile(
  target: readonly string[],
  pieces: readonly (readonly string[])[],
): { ok: true; path: number[] } | { ok: false; reached: number } {
  const from: Array<{ prev: number; piece: number } | undefined> = new Array(target.length + 1);
  from[0] = { prev: -1, piece: -1 };
  let reached = 0;
  for (let i = 0; i < target.length; i++) {
    if (!from[i]) continue;
    reached = i;
    pieces.forEach((piece, p) => {
      const end = i + piece.length;
      if (piece.length > 0 && !from[end] && end <= target.length && piece.every((t, j) => target[i + j] === t)) {
        from[end] = { prev: i, piece: p };
      }
    });
  }
  if (!from[target.length]) return { ok: false, reached };
  const path: number[] = [];
  for (let at = target.length; at > 0; ) {
    const step = from[at]!;
    path.unshift(step.piece);
    at = step.prev;
  }
  return { ok: true, path };
}

/** A readable token difference ("surrpise" vs "surprise"): the stretch between the common prefix and suffix. */
export function tokenDiff(actual: readonly string[], expected: readonly string[]): { actual: string; expected: string } {
  let start = 0;
  while (start < actual.length && start < expected.length && actual[start] === expected[start]) start++;
  let endA = actual.length;
  let endE = expected.length;
  while (endA > start && endE > start && actual[endA - 1] === expected[endE - 1]) {
    endA--;
    endE--;
  }
  return { actual: actual.slice(start, endA).join(' '), expected: expected.slice(start, endE).join(' ') };
}

/** Canonical seeds say "{target}" where the course's language name goes ("I want to speak {target}"). */
export function substituteTarget(source: string, targetName: string): string {
  return source.replaceAll('{target}', targetName);
}

/** A text quoted for a message, shortened so one finding stays one line. */
export function quote(text: string, max = 80): string {
  const t = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return JSON.stringify(t);
}
