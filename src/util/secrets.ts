/*
 * Secrets come from cf's environment only. cf cannot stop an agent or a validator from printing one (they
 * inherit the environment, and an agent may echo its configuration or a request it made), so every text
 * that enters cf from outside (answers, failure details, validator reports, API error messages) is scrubbed
 * where it enters, and the places cf writes to (records, printed lines) scrub again as a last defence.
 */

/**
 * Environment variables whose values are secrets by their name: `*_API_KEY` (and `APIKEY`), `*_TOKEN`,
 * `*_SECRET`, `*_SECRET_KEY`, `*_SECRET_ACCESS_KEY` (AWS), `*_PRIVATE_KEY`, `*_PASSWORD`/`*_PASSWD`, or
 * these names alone. Not `*_KEY` in general (sort and cache keys, key IDs are not secret) nor
 * `*_CREDENTIALS` (usually a path, e.g. GOOGLE_APPLICATION_CREDENTIALS, and paths appear in every message).
 */
const SECRET_NAME = /(?:^|_)(?:API_?KEY|TOKEN|SECRET|SECRET_KEY|SECRET_ACCESS_KEY|PRIVATE_KEY|PASSWORD|PASSWD)$/i;

/**
 * Shorter values are not scrubbed: a secret of a few characters is no secret, and replacing every "test"
 * or "1234" in an agent's answer would mangle ordinary text. Real API keys and tokens are 20 characters
 * and more.
 */
export const MIN_SECRET_LENGTH = 8;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

interface Needle {
  /** The secret as it appears in text, raw or as it is written inside a JSON string. */
  text: string;
  bytes: Buffer;
  marker: string;
}

/** Replaces known secret values with `[secret $NAME]`, naming the variable that holds it. */
export class Scrubber {
  private readonly needles: Needle[];
  /** The longest needle in bytes: how much a chunk must overlap the next so no secret is cut in two. */
  readonly longest: number;

  constructor(secrets: Iterable<{ name: string; value: string }>) {
    const byText = new Map<string, Needle>();
    for (const { name, value } of secrets) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      const marker = `[secret $${name}]`;
      // In a JSON document (an answer, a record line) a secret holding " or \ is written escaped.
      for (const text of new Set([value, JSON.stringify(value).slice(1, -1)])) {
        if (!byText.has(text)) byText.set(text, { text, bytes: Buffer.from(text), marker });
      }
    }
    // Longest first: a secret that contains another is replaced whole.
    this.needles = [...byText.values()].sort((a, b) => b.text.length - a.text.length);
    this.longest = this.needles.reduce((n, x) => Math.max(n, x.bytes.length), 0);
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  scrub(text: string): string {
    for (const n of this.needles) if (text.includes(n.text)) text = text.split(n.text).join(n.marker);
    return text;
  }

  /** The bytes with every secret replaced, or null when they hold none (compared as bytes: no decoding). */
  scrubBytes(bytes: Uint8Array): Buffer | null {
    let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let changed = false;
    for (const n of this.needles) {
      let at = buf.indexOf(n.bytes);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      const marker = Buffer.from(n.marker);
      for (; at >= 0; at = buf.indexOf(n.bytes, from)) {
        parts.push(buf.subarray(from, at), marker);
        from = at + n.bytes.length;
      }
      parts.push(buf.subarray(from));
      buf = Buffer.concat(parts);
      changed = true;
    }
    return changed ? buf : null;
  }

  /**
   * A stream of bytes, scrubbed: each chunk is scrubbed together with the end of the one before (as long
   * as the longest secret less one byte), so that a secret split across two chunks is still found.
   */
  async *scrubStream(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<{ bytes: Buffer; changed: boolean }> {
    const keep = Math.max(0, this.longest - 1);
    let carry = Buffer.alloc(0);
    for await (const c of chunks) {
      const window = Buffer.concat([carry, typeof c === 'string' ? Buffer.from(c) : c]);
      // A secret starting before `cut` ends inside the window; one that starts before and ends after it
      // moves the cut to its end, so it is scrubbed whole. The rest is carried over to the next chunk.
      let cut = window.length - keep;
      if (cut <= 0) {
        carry = window;
        continue;
      }
      for (const n of this.needles) {
        for (let at = window.indexOf(n.bytes, Math.max(0, cut - n.bytes.length + 1)); at >= 0 && at < cut; at = window.indexOf(n.bytes, at + 1)) {
          cut = Math.max(cut, at + n.bytes.length);
        }
      }
      const head = window.subarray(0, cut);
      carry = Buffer.from(window.subarray(cut));
      const scrubbed = this.scrubBytes(head);
      yield { bytes: scrubbed ?? head, changed: scrubbed !== null };
    }
    if (carry.length) {
      const scrubbed = this.scrubBytes(carry);
      yield { bytes: scrubbed ?? carry, changed: scrubbed !== null };
    }
  }
}

/** The secrets of an environment: variables named like secrets, and the variables `names` (runners' api_key_env). */
export function scrubberFrom(env: NodeJS.ProcessEnv, names: Iterable<string> = []): Scrubber {
  const named = new Set(names);
  const found: Array<{ name: string; value: string }> = [];
  for (const [name, value] of Object.entries(env)) {
    if (value && (named.has(name) || isSecretName(name))) found.push({ name, value });
  }
  // Sorted, so that a value held by two variables is always named after the same one.
  return new Scrubber(found.sort((a, b) => (a.name < b.name ? -1 : 1)));
}

/*
 * The process's own secrets: cf's environment and the variables the pipeline names as holding keys. Built
 * once (reading process.env goes through the C++ layer, a scrub runs for every line cf writes) and again
 * after a pipeline declares names.
 */
const declared = new Set<string>();
let current: Scrubber | null = null;

/** Variables that hold secrets whatever their names (a runner's `api_key_env`). */
export function declareSecretNames(names: Iterable<string>): void {
  for (const n of names) {
    if (declared.has(n)) continue;
    declared.add(n);
    current = null;
  }
}

export function secrets(): Scrubber {
  current ??= scrubberFrom(process.env, declared);
  return current;
}

/** Forgets the scrubber built from the environment (tests that change process.env). */
export function resetSecrets(): void {
  current = null;
}

export function scrubSecrets(text: string): string {
  return secrets().scrub(text);
}
