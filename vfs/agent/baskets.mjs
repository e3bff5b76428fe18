// Practice phrases for the scripted agent's lego_baskets phase: offline, deterministic, and what a course
// writer would accept. Each LEGO's basket is the LEGO alone, then phrases that use it with words the learner
// already has (taught by earlier seeds, or by this seed's LEGOs up to this one: the GATE), built from the
// roles lexicon.json gives its entries ("I want" is a modal, "speak" a verb that takes a time, a language, a
// companion…), shortest first. The final LEGO's basket ends with the seed sentence.

/** The GATE's words of a text: lower-case letter runs (as cf's rules count them). */
export const gateWords = (text) => text.normalize("NFC").toLowerCase().match(/[\p{L}\p{M}]+/gu) ?? [];

/** Comparison key of a Spanish text: lower case, no punctuation. */
const phraseKey = (text) => gateWords(text).join(" ");

const capitalise = (text) => text.replace(/\p{L}/u, (ch) => ch.toUpperCase());

/** FNV-1a: a stable per-phrase number, so the same item always gets the same basket. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
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

/** Every phrase of at most three parts the lexicon's roles allow, each a list of entries. */
function* shapes(entries) {
  const byRole = (role) => entries.filter((e) => e.role === role);
  const ofClass = (classes) => entries.filter((e) => e.class && classes?.includes(e.class));
  const modals = byRole("modal");
  const verbs = byRole("verb");
  for (const v of verbs) {
    for (const c of ofClass(v.takes)) yield [v, c];
    for (const m of modals) {
      if (!v.needs) yield [m, v];
      for (const c of ofClass(v.takes)) yield [m, v, c];
    }
  }
  for (const m of modals) for (const o of ofClass(m.takes)) yield [m, o];
  const clauses = byRole("clause");
  for (const c of clauses) {
    if (!c.needs) yield [c];
    for (const o of ofClass(c.takes)) {
      yield [c, o];
      for (const t of ofClass(c.then)) yield [c, o, t];
    }
  }
  // "Lo siento pero no entiendo": two statements that need nothing more, joined.
  const whole = clauses.filter((c) => !c.needs && !c.q);
  for (const j of byRole("conj")) for (const a of whole) for (const b of whole) if (a !== b) yield [a, j, b];
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
  const usable = (e) => gateWords(e.target).every((w) => have.has(w));

  const self = entryOf(lego.lego);
  const phrases = [{ known: lego.lego.known, target: lego.lego.target }];
  const candidates = new Map();
  const add = (p) => {
    const key = phraseKey(p.target);
    if (key !== phraseKey(lego.lego.target) && !candidates.has(key)) candidates.set(key, p);
  };
  if (self) {
    // Phrases with this LEGO's entry as one of their parts, from entries whose every word is known.
    const entries = lexiconEntries.filter((e) => e === self || (e.target !== self.target && usable(e)));
    for (const parts of shapes(entries)) if (parts.includes(self) && agrees(parts)) add(render(parts));
  }
  // The seed up to this LEGO, a real fragment of a real sentence (the whole seed for the last LEGO, below).
  if (i > 0 && !isFinal) {
    const span = legos.slice(0, i + 1);
    add({ known: capitalise(span.map((l) => l.lego.known).join(" ")), target: capitalise(span.map((l) => l.lego.target).join(" ")) });
  }

  // Five to eight of them, chosen by a hash of the phrase (stable, not the lexicon's order), shortest first.
  const want = 5 + (hash(lego.id) % 4);
  const picked = [...candidates.values()]
    .map((p) => ({ p, h: hash(`${lego.id} ${p.target}`) }))
    .sort((a, b) => a.h - b.h)
    .slice(0, want)
    .sort((a, b) => gateWords(a.p.target).length - gateWords(b.p.target).length || a.h - b.h)
    .map((x) => x.p);
  phrases.push(...picked);
  if (isFinal) {
    const seed = { known: item.seed_pair.known, target: item.seed_pair.target };
    const rest = phrases.filter((p) => phraseKey(p.target) !== phraseKey(seed.target));
    return [...rest, seed];
  }
  return phrases;
}
