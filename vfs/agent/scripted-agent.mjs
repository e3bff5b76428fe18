#!/usr/bin/env node
// Scripted, offline, deterministic stand-in for an LLM agent.
//
// cf runs it once per batch with CF_PHASE, CF_INPUT_FILE, CF_OUTPUT_FILE, CF_ATTEMPT, ...
// It reads the batch's input items, answers them from lexicon.json and writes one output
// item per input item. Of the prompt (CF_PROMPT_FILE) it reads only the vocabulary context
// (lego_baskets: the words taught before each seed); stdin is ignored.
//
// Demo knobs (all optional):
//   CF_DEMO_DELAY_MS  sleep this many milliseconds before answering
//   CF_DEMO_FLAKY     comma-separated seed ids left out of the output on attempt 1
//   CF_DEMO_FAIL      comma-separated seed ids: exit 3 if the batch contains one of them
//
// Exit codes: 0 ok, 2 bad environment or input, 3 demo failure (CF_DEMO_FAIL).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { basketPhrases, vocabularyFromPrompt } from "./baskets.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const LEXICON_FILE = join(HERE, "lexicon.json");

class AgentError extends Error {
  constructor(message, code = 2) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------- text helpers

/** Lowercase, unify apostrophes: the form used for lexicon lookups. */
const keyOf = (text) => text.replace(/’/g, "'").toLowerCase();

/** Spanish tokens for comparisons: lowercase, strip ¿?¡!.,;: and split on whitespace. */
function normTokens(text) {
  return text.toLowerCase().replace(/[¿?¡!.,;:]/g, " ").split(/\s+/).filter(Boolean);
}

/** Uppercase the first letter of a string (skipping leading ¿ ¡ [ etc.). */
function capitaliseFirst(text) {
  return text.replace(/\p{L}/u, (ch) => ch.toUpperCase());
}

const wordCount = (text) => text.trim().split(/\s+/).filter(Boolean).length;
const pad2 = (n) => String(n).padStart(2, "0");

// ---------------------------------------------------------------- lexicon

/**
 * Load lexicon.json into lookup tables:
 *  byKnown:  "i want"  -> entry   (English chunk, lowercase)
 *  byTarget: "quiero"  -> entry   (Spanish chunk, lowercase; first entry listed wins)
 */
function loadLexicon(file) {
  const raw = JSON.parse(readFileSync(file, "utf8"));
  const byKnown = new Map();
  const byTarget = new Map();
  const entries = [];
  let maxKnownWords = 1;
  let maxTargetWords = 1;
  for (const [section, list] of Object.entries(raw.sections)) {
    for (const e of list) {
      // role, class, takes, …: what the basket writer may build with the entry (baskets.mjs)
      const { components: _, ...fields } = e;
      const entry = { ...fields };
      if (wordCount(e.target) > 1) {
        if (!Array.isArray(e.components) || e.components.length === 0) {
          throw new AgentError(`lexicon: "${e.known}" (${section}) has a multi-word target but no components`);
        }
        entry.components = e.components.map(([known, target]) => ({ known, target }));
      }
      entries.push(entry);
      const k = keyOf(e.known);
      if (byKnown.has(k)) throw new AgentError(`lexicon: duplicate chunk "${e.known}"`);
      byKnown.set(k, entry);
      const t = normTokens(e.target).join(" ");
      if (!byTarget.has(t)) byTarget.set(t, entry);
      maxKnownWords = Math.max(maxKnownWords, wordCount(e.known));
      maxTargetWords = Math.max(maxTargetWords, wordCount(e.target));
    }
  }
  return { name: raw.target_language_name, byKnown, byTarget, entries, maxKnownWords, maxTargetWords };
}

// ---------------------------------------------------------------- English -> chunks

/**
 * Split an English sentence into word and mid-sentence punctuation tokens,
 * plus its final punctuation ("." "?" "!" ...).
 */
function tokenizeEnglish(text) {
  const trimmed = text.trim();
  const finalPunct = (trimmed.match(/[.?!…]+$/u) ?? [""])[0];
  const body = trimmed.slice(0, trimmed.length - finalPunct.length);
  const tokens = [];
  for (const [tok] of body.matchAll(/[\p{L}\p{N}'’{}-]+|[,;:]/gu)) {
    tokens.push(/^[,;:]$/.test(tok) ? { punct: tok } : { word: tok, key: keyOf(tok) });
  }
  return { tokens, finalPunct };
}

/**
 * Greedy longest match of English words against the lexicon.
 * Returns pieces: {known, target, components?} for matched chunks,
 * {known: word, target: "[word]", unknown: true} for unknown words, {punct} for , ; :
 */
function chunkEnglish(text, lex) {
  const { tokens, finalPunct } = tokenizeEnglish(text);
  const pieces = [];
  let i = 0;
  while (i < tokens.length) {
    if (tokens[i].punct) {
      pieces.push({ punct: tokens[i].punct });
      i += 1;
      continue;
    }
    let run = 0; // consecutive words from i (chunks never cross punctuation)
    while (i + run < tokens.length && tokens[i + run].word !== undefined) run += 1;
    let matched = null;
    let n = Math.min(run, lex.maxKnownWords);
    for (; n >= 1 && !matched; n -= 1) {
      const key = tokens.slice(i, i + n).map((t) => t.key).join(" ");
      if (lex.byKnown.has(key)) matched = { entry: lex.byKnown.get(key), n };
    }
    if (matched) {
      pieces.push({ ...matched.entry });
      i += matched.n;
    } else {
      const word = tokens[i].word;
      pieces.push({ known: word, target: `[${word}]`, unknown: true });
      i += 1;
    }
  }
  return { pieces, finalPunct };
}

/** Join chunk targets into a Spanish sentence: spacing, ¿…? / ¡…!, capital letter. */
function renderSpanish(pieces, finalPunct) {
  let body = "";
  for (const p of pieces) {
    if (p.punct) body += p.punct;
    else body += (body ? " " : "") + p.target;
  }
  const opener = finalPunct.includes("?") ? "¿" : finalPunct.includes("!") ? "¡" : "";
  return capitaliseFirst(opener + body + finalPunct);
}

// ---------------------------------------------------------------- Spanish -> chunks (fallback)

/**
 * Used when a seed pair's target is not what the lexicon would produce (e.g. a user
 * fixed a translation by hand): segment the Spanish target itself, greedy longest match
 * against the lexicon's Spanish side. Unknown Spanish words become {known:"[?]"}.
 * Guarantees the resulting LEGOs tile the target.
 */
function segmentSpanish(target, lex) {
  const tokens = normTokens(target);
  const pieces = [];
  let i = 0;
  while (i < tokens.length) {
    let matched = null;
    for (let n = Math.min(tokens.length - i, lex.maxTargetWords); n >= 1 && !matched; n -= 1) {
      const key = tokens.slice(i, i + n).join(" ");
      if (lex.byTarget.has(key)) matched = { entry: lex.byTarget.get(key), n };
    }
    if (matched) {
      pieces.push({ ...matched.entry });
      i += matched.n;
    } else {
      pieces.push({ known: "[?]", target: tokens[i], unknown: true });
      i += 1;
    }
  }
  return pieces;
}

// ---------------------------------------------------------------- phases

/** seed_pairs: {seed_id, canonical_id, source} -> {seed_id, known, target} */
function seedPair(item, lex) {
  requireStrings(item, ["seed_id", "source"]);
  const known = item.source.replaceAll("{target}", lex.name).trim();
  const { pieces, finalPunct } = chunkEnglish(known, lex);
  return { seed_id: item.seed_id, known, target: renderSpanish(pieces, finalPunct) };
}

/** lego_pairs: {seed_id, known, target} -> {seed_id, seed_pair, legos} */
function legoPair(item, lex) {
  requireStrings(item, ["seed_id", "known", "target"]);
  let chunks = chunkEnglish(item.known, lex).pieces.filter((p) => !p.punct);
  const produced = normTokens(chunks.map((c) => c.target).join(" ")).join(" ");
  if (produced !== normTokens(item.target).join(" ")) chunks = segmentSpanish(item.target, lex);
  return {
    seed_id: item.seed_id,
    seed_pair: { known: item.known, target: item.target },
    legos: chunks.map((c, i) => makeLego(item.seed_id, i, c)),
  };
}

function makeLego(seedId, index, chunk) {
  const multi = wordCount(chunk.target) > 1;
  const lego = { id: `${seedId}L${pad2(index + 1)}`, type: multi ? "M" : "A", lego: { known: chunk.known, target: chunk.target } };
  if (multi) lego.components = chunk.components.map((c) => ({ known: c.known, target: c.target }));
  return lego;
}

/**
 * The lexicon entry a LEGO came from, with a role or class for the basket writer: its own ("I want"), else
 * the first with the same Spanish that has one ("to speak" -> "speak"). Undefined for words not in the lexicon.
 */
function entryOf(pair, lex) {
  const own = lex.byKnown.get(keyOf(pair.known));
  if (own && (own.role || own.class)) return own;
  const spanish = normTokens(pair.target).join(" ");
  return lex.entries.find((e) => (e.role || e.class) && normTokens(e.target).join(" ") === spanish);
}

/** lego_baskets: {seed_id, seed_pair, legos} -> {seed_id, baskets}; `known`: seed id -> words taught before it. */
function legoBaskets(item, lex, known) {
  if (typeof item?.seed_id !== "string" || !Array.isArray(item.legos)) {
    throw new AgentError(`${item?.seed_id ?? "?"}: input item needs seed_id and a legos array`);
  }
  const baskets = {};
  item.legos.forEach((lego, i) => {
    const phrases = basketPhrases(item, i, known?.get(item.seed_id) ?? null, (pair) => entryOf(pair, lex), lex.entries);
    baskets[lego.id] = {
      lego: { known: lego.lego.known, target: lego.lego.target },
      is_final_lego: i === item.legos.length - 1,
      practice_phrases: phrases,
      phrase_count: phrases.length,
    };
  });
  return { seed_id: item.seed_id, baskets };
}

function requireStrings(item, fields) {
  for (const f of fields) {
    if (typeof item?.[f] !== "string") {
      throw new AgentError(`${item?.seed_id ?? "?"}: input item has no string "${f}"`);
    }
  }
}

const PHASES = {
  seed_pairs: seedPair,
  lego_pairs: legoPair,
  lego_baskets: legoBaskets,
};

// ---------------------------------------------------------------- main

function env(name) {
  const value = process.env[name];
  if (!value) throw new AgentError(`missing environment variable ${name}`);
  return value;
}

const idSet = (value) => new Set((value ?? "").split(",").map((s) => s.trim()).filter(Boolean));

async function main() {
  const phase = env("CF_PHASE");
  const inputFile = env("CF_INPUT_FILE");
  const outputFile = env("CF_OUTPUT_FILE");
  const attempt = Number(process.env.CF_ATTEMPT ?? "1") || 1;
  const batchLabel = `${phase} batch ${process.env.CF_BATCH ?? "?"}/${process.env.CF_BATCH_COUNT ?? "?"} attempt ${attempt}`;

  const answer = PHASES[phase];
  if (!answer) throw new AgentError(`unknown CF_PHASE "${phase}" (expected ${Object.keys(PHASES).join(", ")})`);

  const items = JSON.parse(readFileSync(inputFile, "utf8"));
  if (!Array.isArray(items)) throw new AgentError(`${inputFile}: expected a JSON array of items`);

  const delayMs = Number(process.env.CF_DEMO_DELAY_MS ?? "0");
  if (delayMs > 0) await sleep(delayMs);

  const failIds = idSet(process.env.CF_DEMO_FAIL);
  const failing = items.filter((it) => failIds.has(it?.seed_id)).map((it) => it.seed_id);
  if (failing.length > 0) throw new AgentError(`demo failure (CF_DEMO_FAIL) for ${failing.join(", ")}`, 3);

  const lex = loadLexicon(LEXICON_FILE);
  // The words taught before each seed, as cf's vocabulary context gives them in the prompt (none: this seed's own).
  const promptFile = process.env.CF_PROMPT_FILE;
  const prompt = phase === "lego_baskets" && promptFile ? readFileSync(promptFile, "utf8") : "";
  const known = vocabularyFromPrompt(prompt, items.map((it) => it?.seed_id));
  let output = items.map((item) => answer(item, lex, known));

  const flakyIds = idSet(process.env.CF_DEMO_FLAKY);
  if (attempt === 1 && flakyIds.size > 0) {
    const dropped = output.filter((o) => flakyIds.has(o.seed_id)).map((o) => o.seed_id);
    output = output.filter((o) => !flakyIds.has(o.seed_id));
    if (dropped.length > 0) console.log(`scripted-agent: demo flake (CF_DEMO_FLAKY), leaving out ${dropped.join(", ")}`);
  }

  mkdirSync(dirname(outputFile), { recursive: true });
  writeFileSync(outputFile, JSON.stringify(output, null, 2) + "\n");
  console.log(`scripted-agent: ${batchLabel}: wrote ${output.length}/${items.length} items`);
}

main().catch((err) => {
  process.stderr.write(`scripted-agent: ${err.message}\n`);
  process.exit(err instanceof AgentError ? err.code : 2);
});
