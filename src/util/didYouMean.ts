import { distance } from 'fastest-levenshtein';

/**
 * The closest candidate within a third of the word's length (at least 2 edits), or null. Case is ignored: a key
 * written `Batch_Size` is `batch_size` misspelt. (The edit distance is fastest-levenshtein's.)
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

export function suggestion(word: string, candidates: Iterable<string>): string {
  const s = didYouMean(word, candidates);
  return s ? ` (did you mean "${s}"?)` : '';
}
