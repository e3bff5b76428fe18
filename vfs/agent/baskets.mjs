// Practice phrases for the scripted agent's lego_baskets phase: offline, deterministic, and what a course
// writer would accept. Each LEGO's basket is the LEGO alone, then phrases that use it with words the learner
// already has (taught by earlier seeds, or by this seed's LEGOs up to this one: the GATE), built from the
// roles lexicon.json gives its entries ("I want" is a modal, "speak" a verb that takes a time, a language, a
// companion…), shortest first. The final LEGO's basket ends with the seed sentence.

/** The GATE's words of a text: lower-case letter runs (as cf's rules count them). */
export const gateWords = (text) => text.normalize("NFC").toLowerCase().match(/[\p{L}\p{M}]+/gu) ?? [];

/** An entry's GATE words, worked out once (every LEGO of a batch asks about every entry). */
const wordsOfEntry = new WeakMap();
function entryWords(e) {
  let ws = wordsOfEntry.get(e);
  if (!ws) wordsOfEntry.set(e, (ws = gateWords(e.target)));
  return ws;
}

/** Comparison key of a Spanish text: lower case, no punctuation. */
const phraseKey = (text) => gateWords(text).join(" ");

const capitalise = (text) => text.replace(/\p{L}/u, (ch) => ch.toUpperCase());

/** FNV-1a: a stable per-phrase number, so the same item always gets the same basket. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A stable number for a phrase of lexicon entries (by their places in the lexicon): integers, no strings. */
function mixAll(h, parts, index) {
  for (const p of parts) {
    h = Math.imul(h ^ (index.get(p) + 1), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * The words taught before each seed, from the prompt's vocabulary context (cf writes it when the phase
 * declares `context: {vocabulary: lego_pairs}`): "Words taught before S0032 (66): a, b, …" and then, per seed of
 * the run after the first, "- S0040: c, d". Returns seedId -> Set, or null when the prompt has none.
 */
export function vocabularyFromPrompt(prompt, seedIds) {
  const head = /^Words taught before (\S+) \(\d+\): ?(.*)$/m.exec(prompt);
  if (!head) return null;
  const list = (s) => s.split(",").map((w) => w.trim()).filter(Boolean);
  const before = list(head[2]);
  const later = [...prompt.matchAll(/^- (\S+): (.*)$/gm)].map((m) => [m[1], list(m[2])]);
  const result = new Map();
  for (const id of seedIds) {
    // Seed ids sort in course order: a seed may use the words of every seed listed before it.
    const earlier = later.filter(([other]) => other < id).flatMap(([, ws]) => ws);
    result.set(id, new Set([...before, ...earlier]));
  }
  return result;
}

/** A phrase from parts (lexicon entries), English and Spanish; a question if a part is one. */
function render(parts) {
  const known = [];
  parts.forEach((p, i) => {
    const prev = parts[i - 1];
    let k = p.known;
    if (p.role === "verb") k = k.replace(/^to /, "");
    if (p.role === "verb" && prev?.role === "modal" && prev.to) k = `to ${k}`;
    known.push(k);
  });
  const q = parts.some((p) => p.q);
  const target = parts.map((p) => p.target).join(" ");
  // An infinitive phrase ("hablar ahora") stays in lower case, its English with "to".
  if (parts[0].role === "verb") return { known: `to ${known.join(" ")}`, target };
  return {
    known: capitalise(known.join(" ")) + (q ? "?" : ""),
    target: q ? `¿${capitalise(target)}?` : capitalise(target),
  };
}

/**
 * Does a phrase agree with its subject? "with me" goes with "can you", not "I can"; "irme" with "I" only; a
 * modal may avoid complements ("I like to travel tomorrow").
 */
function agrees(parts) {
  const modal = parts.find((p) => p.role === "modal");
  if (!modal) return true;
  return parts.every((p) => (!p.persons || p.persons.includes(modal.person)) && !(p.class && modal.avoid?.includes(p.class)));
}

/**
 * Every phrase of at most three parts the lexicon's roles allow that has `self` (the LEGO's entry) as a
 * part, each a list of entries. A slot of self's role or class holds only self (the phrases without it are
 * not wanted): a few hundred phrases a LEGO, not every modal × verb × complement of the lexicon.
 */
function shapes(entries, self) {
  const out = [];
  const allOf = (role) => entries.filter((e) => e.role === role);
  const byRole = (role) => (self.role === role ? [self] : allOf(role));
  const byClass = new Map();
  for (const e of entries) if (e.class) byClass.set(e.class, [...(byClass.get(e.class) ?? []), e]);
  const allClasses = (classes) => (classes ?? []).flatMap((c) => byClass.get(c) ?? []);
  const ofClass = (classes) => (self.class ? (classes?.includes(self.class) ? [self] : []) : allClasses(classes));
  if (self.role === "modal" || self.role === "verb" || self.class) {
    const modals = byRole("modal");
    for (const v of byRole("verb")) {
      for (const c of ofClass(v.takes)) out.push([v, c]);
      for (const m of modals) {
        if (!v.needs) out.push([m, v]);
        for (const c of ofClass(v.takes)) out.push([m, v, c]);
      }
    }
    for (const m of modals) for (const o of ofClass(m.takes)) out.push([m, o]);
  }
  if (self.role === "clause" || self.class) {
    for (const c of byRole("clause")) {
      if (!c.needs) out.push([c]);
      for (const o of allClasses(c.takes)) {
        out.push([c, o]);
        for (const t of allClasses(c.then)) out.push([c, o, t]);
      }
    }
  }
  // "Lo siento pero no entiendo": two statements the lexicon marks as joinable, joined.
  if (self.role !== "conj" && self.role !== "clause") return out;
  const whole = allOf("clause").filter((c) => c.joins);
  for (const j of byRole("conj")) for (const a of whole) for (const b of whole) if (a !== b) out.push([a, j, b]);
  return out;
}

/**
 * The basket of LEGO `i` of `item`: `known` are the words the learner has before this seed (null: this seed's
 * LEGOs only), `entryOf` finds a LEGO's lexicon entry. Returns the practice phrases.
 */
export function basketPhrases(item, i, known, entryOf, lexiconEntries) {
  const legos = item.legos;
  const lego = legos[i];
  const isFinal = i === legos.length - 1;
  const have = new Set(known ?? []);
  for (const l of legos.slice(0, i + 1)) for (const w of gateWords(l.lego.target)) have.add(w);
  const usable = (e) => entryWords(e).every((w) => have.has(w));

  const self = entryOf(lego.lego);
  const phrases = [{ known: lego.lego.known, target: lego.lego.target }];
  const seedHash = hash(lego.id);
  // Candidates as a hash (stable, not the lexicon's order) and a way to write them: only those picked are.
  const options = [];
  if (self) {
    // Phrases with this LEGO's entry as one of their parts, from entries whose every word is known.
    const entries = lexiconEntries.filter((e) => e === self || (e.target !== self.target && usable(e)));
    const entryIndex = new Map(lexiconEntries.map((e, k) => [e, k]));
    for (const parts of shapes(entries, self)) {
      if (parts.includes(self) && agrees(parts)) options.push({ h: mixAll(seedHash, parts, entryIndex), make: () => render(parts) });
    }
  }
  // The seed up to this LEGO, a real fragment of a real sentence (the whole seed for the last LEGO, below).
  if (i > 0 && !isFinal) {
    const span = legos.slice(0, i + 1);
    const known = capitalise(span.map((l) => l.lego.known).join(" "));
    const target = capitalise(span.map((l) => l.lego.target).join(" "));
    options.push({ h: hash(`${lego.id} ${target}`), make: () => ({ known, target }) });
  }

  // Five to eight of them, in hash order, no two the same (nor the LEGO alone), then shortest first.
  const want = 5 + (hash(lego.id) % 4);
  const seen = new Set([phraseKey(lego.lego.target)]);
  const picked = [];
  for (const o of options.sort((a, b) => a.h - b.h)) {
    if (picked.length === want) break;
    const p = o.make();
    const key = phraseKey(p.target);
    if (seen.has(key)) continue;
    seen.add(key);
    picked.push({ p, h: o.h, words: key.split(" ").length });
  }
  picked.sort((a, b) => a.words - b.words || a.h - b.h);
  phrases.push(...picked.map((x) => x.p));
  if (isFinal) {
    const seed = { known: item.seed_pair.known, target: item.seed_pair.target };
    const rest = phrases.filter((p) => phraseKey(p.target) !== phraseKey(seed.target));
    return [...rest, seed];
  }
  return phrases;
}
