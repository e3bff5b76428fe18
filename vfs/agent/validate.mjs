#!/usr/bin/env node
// Phase validator for the demo course. cf runs it after the agent, with the same
// environment (CF_PHASE, CF_OUTPUT_FILE, CF_INPUT_FILE, ...).
//
// Exit 0: the output is valid. Exit 1: invalid; one error per line on stdout, as
//   S0007: message
// (errors that belong to no seed, such as unreadable JSON, use the prefix "batch:").
// Exit 2: the validator itself was misconfigured (missing CF_PHASE / CF_OUTPUT_FILE).

import { existsSync, readFileSync } from "node:fs";

const LEGO_ID = /^S\d{4}L\d{2}$/;

const errors = [];
const report = (seedId, message) => errors.push(`${seedId || "batch"}: ${message}`);

// ---------------------------------------------------------------- helpers

/** Tokens for comparisons: lowercase, strip ¿?¡!.,;: and split on whitespace. */
function normTokens(text) {
  return String(text).toLowerCase().replace(/[¿?¡!.,;:]/g, " ").split(/\s+/).filter(Boolean);
}

const nonEmpty = (value) => typeof value === "string" && value.trim() !== "";
const isPair = (value) => value && nonEmpty(value.known) && nonEmpty(value.target);

/** True when `needle` occurs as a contiguous run of tokens inside `hay`. */
function containsRun(hay, needle) {
  if (needle.length === 0) return false;
  for (let i = 0; i + needle.length <= hay.length; i += 1) {
    if (needle.every((tok, j) => hay[i + j] === tok)) return true;
  }
  return false;
}

/**
 * Can the seed tokens be covered exactly by a sequence of non-overlapping pieces
 * (each piece a token list, reusable)? Classic word-break dynamic programming.
 */
function canTile(seed, pieces) {
  const reach = new Array(seed.length + 1).fill(false);
  reach[0] = true;
  for (let i = 0; i < seed.length; i += 1) {
    if (!reach[i]) continue;
    for (const piece of pieces) {
      const fits = piece.length > 0 && i + piece.length <= seed.length;
      if (fits && piece.every((tok, j) => seed[i + j] === tok)) reach[i + piece.length] = true;
    }
  }
  return reach[seed.length];
}

function readJson(file, label) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    report("batch", `${label} is not readable JSON (${err.message})`);
    return undefined;
  }
}

// ---------------------------------------------------------------- per-phase rules

function checkSeedPair(item) {
  const id = item.seed_id;
  if (!nonEmpty(item.known)) report(id, "known is empty");
  if (!nonEmpty(item.target)) report(id, "target is empty");
  if (nonEmpty(item.known) && item.known.includes("{target}")) report(id, "known still contains {target}");
  const untranslated = nonEmpty(item.target) ? item.target.match(/\[[^\]]*\]/g) : null;
  if (untranslated) report(id, `untranslated word(s) in target: ${untranslated.join(" ")}`);
}

function checkLegoPair(item) {
  const id = item.seed_id;
  if (!isPair(item.seed_pair)) return report(id, "seed_pair needs non-empty known and target");
  if (!Array.isArray(item.legos)) return report(id, "legos must be an array");
  const seen = new Set();
  for (const lego of item.legos) {
    const lid = lego?.id;
    if (typeof lid !== "string" || !LEGO_ID.test(lid)) report(id, `LEGO id ${JSON.stringify(lid)} does not match S####L##`);
    else if (!lid.startsWith(id)) report(id, `LEGO id ${lid} does not start with ${id}`);
    if (seen.has(lid)) report(id, `duplicate LEGO id ${lid}`);
    seen.add(lid);
    if (!isPair(lego?.lego)) report(id, `${lid}: lego needs non-empty known and target`);
    if (lego?.type !== "A" && lego?.type !== "M") report(id, `${lid}: type must be A or M, got ${JSON.stringify(lego?.type)}`);
    if (lego?.type === "M") {
      const comps = lego.components;
      if (!Array.isArray(comps) || comps.length === 0) report(id, `${lid}: M-type LEGO has no components`);
      else if (!comps.every(isPair)) report(id, `${lid}: every component needs non-empty known and target`);
    }
  }
  const seed = normTokens(item.seed_pair.target);
  const pieces = item.legos.filter((l) => isPair(l?.lego)).map((l) => normTokens(l.lego.target));
  if (!canTile(seed, pieces)) report(id, `LEGO targets do not tile the seed target "${item.seed_pair.target}"`);
}

function checkBaskets(item, inputItem) {
  const id = item.seed_id;
  if (!item.baskets || typeof item.baskets !== "object" || Array.isArray(item.baskets)) {
    return report(id, "baskets must be an object keyed by LEGO id");
  }
  // one basket per input LEGO (when the input is available)
  if (Array.isArray(inputItem?.legos)) {
    for (const lego of inputItem.legos) if (!(lego.id in item.baskets)) report(id, `no basket for ${lego.id}`);
  }
  for (const [lid, basket] of Object.entries(item.baskets)) {
    if (!LEGO_ID.test(lid) || !lid.startsWith(id)) report(id, `basket key ${lid} is not a LEGO id of this seed`);
    if (!isPair(basket?.lego)) { report(id, `${lid}: lego needs non-empty known and target`); continue; }
    if (typeof basket.is_final_lego !== "boolean") report(id, `${lid}: is_final_lego must be a boolean`);
    const phrases = basket.practice_phrases;
    if (!Array.isArray(phrases) || phrases.length === 0) { report(id, `${lid}: practice_phrases must be a non-empty array`); continue; }
    if (basket.phrase_count !== phrases.length) {
      report(id, `${lid}: phrase_count is ${basket.phrase_count} but there are ${phrases.length} phrases`);
    }
    const legoTokens = normTokens(basket.lego.target);
    const seen = new Set();
    phrases.forEach((p, n) => {
      if (!isPair(p)) return report(id, `${lid}: phrase ${n + 1} needs non-empty known and target`);
      const toks = normTokens(p.target);
      if (!containsRun(toks, legoTokens)) report(id, `${lid}: phrase "${p.target}" does not contain "${basket.lego.target}"`);
      const key = toks.join(" ");
      if (seen.has(key)) report(id, `${lid}: duplicate phrase "${p.target}"`);
      seen.add(key);
    });
  }
}

const CHECKS = { seed_pairs: checkSeedPair, lego_pairs: checkLegoPair, lego_baskets: checkBaskets };

// ---------------------------------------------------------------- main

function main() {
  const phase = process.env.CF_PHASE;
  const outputFile = process.env.CF_OUTPUT_FILE;
  const inputFile = process.env.CF_INPUT_FILE;
  if (!CHECKS[phase] || !outputFile) {
    process.stderr.write(`validate: need CF_PHASE (${Object.keys(CHECKS).join(" | ")}) and CF_OUTPUT_FILE\n`);
    return 2;
  }
  if (!existsSync(outputFile)) report("batch", `output file ${outputFile} does not exist`);
  const output = errors.length ? undefined : readJson(outputFile, "output");
  if (output !== undefined && !Array.isArray(output)) report("batch", "output must be a JSON array");
  if (errors.length) return finish();

  const input = inputFile && existsSync(inputFile) ? readJson(inputFile, "input") : undefined;
  const inputById = new Map(Array.isArray(input) ? input.map((it) => [it?.seed_id, it]) : []);

  // exactly one output item per input item, matched by seed_id
  const count = new Map();
  output.forEach((item, n) => {
    if (typeof item?.seed_id !== "string") return report("batch", `output item ${n + 1} has no seed_id`);
    count.set(item.seed_id, (count.get(item.seed_id) ?? 0) + 1);
  });
  for (const [sid, c] of count) if (c > 1) report(sid, `appears ${c} times in the output`);
  if (Array.isArray(input)) {
    for (const sid of inputById.keys()) if (!count.has(sid)) report(sid, "missing from the output");
    for (const sid of count.keys()) if (!inputById.has(sid)) report(sid, "is not in this batch's input");
  }

  for (const item of output) if (typeof item?.seed_id === "string") CHECKS[phase](item, inputById.get(item.seed_id));
  return finish();
}

function finish() {
  if (errors.length === 0) return 0;
  process.stdout.write(errors.join("\n") + "\n");
  return 1;
}

process.exitCode = main();
