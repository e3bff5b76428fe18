#!/usr/bin/env node
// Self-test for the demo course, without cf.
//
// Runs the 60 shipped seeds through the scripted agent and the validator in batches
// of 20 (3 batches x 3 phases) using the same environment protocol as cf, twice,
// and checks that every validation passes and both runs are byte-identical.
// It also exercises the demo knobs and a few validator failure cases.
//
// Usage: node vfs/agent/selftest.mjs [--keep]   (--keep leaves the temp dirs behind)

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../.."); // repo root: cf runs agents from here
const AGENT = "vfs/agent/scripted-agent.mjs";
const VALIDATOR = "vfs/agent/validate.mjs";
const SEEDS_FILE = join(ROOT, "vfs/seeds/spa_demo_seeds.json");
const PHASES = ["seed_pairs", "lego_pairs", "lego_baskets"];
const BATCH_SIZE = 20;

const started = Date.now();
const tempDirs = [];

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function tempDir(label) {
  const dir = mkdtempSync(join(tmpdir(), `cf-selftest-${label}-`));
  tempDirs.push(dir);
  return dir;
}

// ---------------------------------------------------------------- running one step

/** Environment for a child: the parent's, minus any demo knobs, plus the CF_* protocol. */
function childEnv(vars) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("CF_")) delete env[k];
  return { ...env, ...vars };
}

function run(script, env, stdin = "") {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [script], { cwd: ROOT, env, input: stdin, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/**
 * One agent attempt for one batch, followed by the validator, the way cf does it.
 * Returns {agent, validator, output (text or null)}.
 */
function step(dir, { phase, batch, batchCount, items, attempt = 1, knobs = {} }) {
  const base = join(dir, phase, `batch-${String(batch).padStart(3, "0")}-attempt-${attempt}`);
  mkdirSync(dirname(base), { recursive: true });
  const prompt = readFileSync(join(ROOT, "vfs/intelligence", `${phase}.md`), "utf8");
  writeFileSync(`${base}.input.json`, JSON.stringify(items, null, 2) + "\n");
  writeFileSync(`${base}.prompt.md`, prompt);
  const env = childEnv({
    CF_PHASE: phase,
    CF_BATCH: String(batch),
    CF_BATCH_COUNT: String(batchCount),
    CF_ATTEMPT: String(attempt),
    CF_INPUT_FILE: `${base}.input.json`,
    CF_OUTPUT_FILE: `${base}.output.json`,
    CF_PROMPT_FILE: `${base}.prompt.md`,
    ...knobs,
  });
  const agent = run(AGENT, env, prompt);
  const output = existsSync(`${base}.output.json`) ? readFileSync(`${base}.output.json`, "utf8") : null;
  const validator = agent.status === 0 ? run(VALIDATOR, env) : null;
  return { agent, validator, output };
}

// ---------------------------------------------------------------- the full course

const batchesOf = (list) => Array.from({ length: Math.ceil(list.length / BATCH_SIZE) }, (_, i) => list.slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE));

/** Run all phases for all batches; returns {"phase#batch": output text}. */
function runCourse(seeds) {
  const dir = tempDir("course");
  const outputs = {};
  const batches = batchesOf(seeds);
  batches.forEach((seedBatch, b) => {
    let items = seedBatch;
    for (const phase of PHASES) {
      const r = step(dir, { phase, batch: b + 1, batchCount: batches.length, items });
      const where = `${phase} batch ${b + 1}`;
      check(r.agent.status === 0, `${where}: agent exited ${r.agent.status}: ${r.agent.stderr}`);
      check(r.validator.status === 0, `${where}: validator exited ${r.validator.status}:\n${r.validator.stdout}${r.validator.stderr}`);
      const out = JSON.parse(r.output);
      check(out.length === items.length, `${where}: ${out.length} outputs for ${items.length} inputs`);
      check(out.every((o, i) => o.seed_id === items[i].seed_id), `${where}: seed ids out of order`);
      check(r.output.endsWith("}\n]\n"), `${where}: output is not 2-space JSON with a trailing newline`);
      outputs[`${phase}#${b + 1}`] = r.output;
      items = out;
    }
  });
  return outputs;
}

const collect = (outputs, phase) => Object.keys(outputs).filter((k) => k.startsWith(`${phase}#`)).flatMap((k) => JSON.parse(outputs[k]));

// ---------------------------------------------------------------- individual checks

function checkSeedsFile(seeds) {
  check(Array.isArray(seeds) && seeds.length === 60, "seeds file must hold 60 seeds");
  seeds.forEach((s, i) => {
    const n = String(i + 1).padStart(4, "0");
    check(s.seed_id === `S${n}` && s.canonical_id === `C${n}`, `seed ${i + 1}: ids ${s.seed_id}/${s.canonical_id}`);
    check(typeof s.source === "string" && s.source.trim() !== "", `${s.seed_id}: empty source`);
  });
  const withTarget = seeds.filter((s) => s.source.includes("{target}")).length;
  check(withTarget >= 4 && withTarget <= 6, `expected about 5 seeds with {target}, found ${withTarget}`);
}

function checkIntelligenceDocs() {
  for (const phase of PHASES) {
    const lines = readFileSync(join(ROOT, "vfs/intelligence", `${phase}.md`), "utf8").trimEnd().split("\n").length;
    check(lines >= 40 && lines <= 100, `vfs/intelligence/${phase}.md has ${lines} lines (want 40-100)`);
  }
}

function checkCourseContent(outputs) {
  const pairs = collect(outputs, "seed_pairs");
  const first = pairs[0];
  check(first.known === "I want to speak Spanish." && first.target === "Quiero hablar español.", `S0001 translated as ${first.target}`);
  check(pairs.every((p) => !p.target.includes("[")), "some seed has an untranslated word");
  const legos = collect(outputs, "lego_pairs").flatMap((s) => s.legos);
  const baskets = collect(outputs, "lego_baskets").flatMap((s) => Object.values(s.baskets));
  check(baskets.length === legos.length, "one basket per LEGO expected");
  return {
    legos: legos.length,
    a: legos.filter((l) => l.type === "A").length,
    m: legos.filter((l) => l.type === "M").length,
    baskets: baskets.length,
    phrases: baskets.reduce((n, b) => n + b.phrase_count, 0),
  };
}

function checkFlaky(seeds, outputs) {
  const dir = tempDir("flaky");
  const args = { phase: "seed_pairs", batch: 1, batchCount: 3, items: seeds.slice(0, 20), knobs: { CF_DEMO_FLAKY: "S0003,S0017" } };
  const a1 = step(dir, { ...args, attempt: 1 });
  const ids1 = JSON.parse(a1.output).map((o) => o.seed_id);
  check(a1.agent.status === 0, "flaky attempt 1 should still exit 0");
  check(ids1.length === 18 && !ids1.includes("S0003") && !ids1.includes("S0017"), "flaky attempt 1 should drop S0003 and S0017");
  check(a1.validator.status === 1 && a1.validator.stdout.includes("S0003: missing from the output"), "validator should flag the dropped items");
  const a2 = step(dir, { ...args, attempt: 2 });
  check(a2.agent.status === 0 && a2.validator.status === 0, "flaky attempt 2 should pass");
  check(a2.output === outputs["seed_pairs#1"], "flaky attempt 2 should equal the normal output");
}

function checkFail(seeds) {
  const dir = tempDir("fail");
  const knobs = { CF_DEMO_FAIL: "S0025" };
  const bad = step(dir, { phase: "seed_pairs", batch: 2, batchCount: 3, items: seeds.slice(20, 40), knobs });
  check(bad.agent.status === 3, `CF_DEMO_FAIL should exit 3, got ${bad.agent.status}`);
  check(bad.agent.stderr.includes("S0025"), "CF_DEMO_FAIL should name the seed on stderr");
  check(bad.output === null, "CF_DEMO_FAIL should write no output");
  const ok = step(dir, { phase: "seed_pairs", batch: 1, batchCount: 3, items: seeds.slice(0, 20), knobs });
  check(ok.agent.status === 0, "CF_DEMO_FAIL must not affect batches without the seed");
}

function checkDelay(seeds) {
  const r = step(tempDir("delay"), { phase: "seed_pairs", batch: 1, batchCount: 1, items: seeds.slice(0, 2), knobs: { CF_DEMO_DELAY_MS: "300" } });
  check(r.agent.status === 0 && r.agent.ms >= 300, `CF_DEMO_DELAY_MS=300 took ${r.agent.ms} ms`);
}

/** Edited inputs and tampered outputs: the validator must catch what is wrong and only that. */
function checkValidatorCases() {
  const dir = tempDir("edits");
  const one = (phase, items) => step(dir, { phase, batch: 1, batchCount: 1, items });

  // a user-edited seed with a word the lexicon lacks -> [word] -> seed_pairs validation fails
  const unknown = one("seed_pairs", [{ seed_id: "S0001", canonical_id: "C0001", source: "I want to speak Klingon." }]);
  check(unknown.agent.status === 0 && JSON.parse(unknown.output)[0].target === "Quiero hablar [Klingon].", "unknown word should appear as [Klingon]");
  check(unknown.validator.status === 1 && /^S0001: untranslated/m.test(unknown.validator.stdout), "validator should flag [Klingon]");

  // a hand-corrected translation the lexicon would not produce -> fallback segmentation still tiles
  const edited = one("lego_pairs", [{ seed_id: "S0002", known: "I want to speak with you.", target: "Deseo hablar contigo." }]);
  check(edited.agent.status === 0 && edited.validator.status === 0, `edited target should still validate: ${edited.validator?.stdout}`);
  const editedOut = JSON.parse(edited.output)[0];
  check(editedOut.legos.map((l) => l.lego.target).join("|") === "deseo|hablar|contigo", "fallback should segment the edited target");

  // baskets for the edited seed are built from its LEGOs alone
  const baskets = one("lego_baskets", [editedOut]);
  check(baskets.agent.status === 0 && baskets.validator.status === 0, "baskets for the edited seed should validate");

  // tampered lego_pairs: a LEGO removed, a bad id, an M without components
  const tampered = structuredClone(editedOut);
  tampered.legos.splice(1, 1);
  tampered.legos[0].id = "S0003L01";
  tampered.legos.push({ id: "S0002L09", type: "M", lego: { known: "with you", target: "contigo" } });
  const badPairs = runValidatorOn(dir, "lego_pairs", [editedOut], [tampered]);
  for (const msg of ["does not start with S0002", "do not tile", "M-type LEGO has no components"]) {
    check(badPairs.stdout.includes(msg), `lego_pairs validator should report "${msg}", got:\n${badPairs.stdout}`);
  }

  // tampered baskets: wrong phrase_count, a duplicate phrase, a phrase without the LEGO
  const goodBaskets = JSON.parse(baskets.output);
  const bad = structuredClone(goodBaskets);
  const b = bad[0].baskets.S0002L02;
  b.practice_phrases.push({ known: "To speak", target: "Hablar." }, { known: "you", target: "contigo" });
  const badBaskets = runValidatorOn(dir, "lego_baskets", [editedOut], bad);
  for (const msg of ["phrase_count is", "duplicate phrase", "does not contain \"hablar\""]) {
    check(badBaskets.stdout.includes(msg), `lego_baskets validator should report "${msg}", got:\n${badBaskets.stdout}`);
  }
  check(badBaskets.stdout.trimEnd().split("\n").every((line) => /^S0002: /.test(line)), "every error line should start with the seed id");
}

/** Run the validator directly on a hand-made output. */
function runValidatorOn(dir, phase, input, output) {
  const base = join(dir, `manual-${phase}`);
  writeFileSync(`${base}.input.json`, JSON.stringify(input));
  writeFileSync(`${base}.output.json`, JSON.stringify(output));
  const r = run(VALIDATOR, childEnv({ CF_PHASE: phase, CF_INPUT_FILE: `${base}.input.json`, CF_OUTPUT_FILE: `${base}.output.json` }));
  check(r.status === 1, `validator should fail the tampered ${phase} output`);
  return r;
}

// ---------------------------------------------------------------- main

function main() {
  const seeds = JSON.parse(readFileSync(SEEDS_FILE, "utf8"));
  checkSeedsFile(seeds);
  checkIntelligenceDocs();

  const run1 = runCourse(seeds);
  const run2 = runCourse(seeds);
  for (const key of Object.keys(run1)) check(run1[key] === run2[key], `${key}: output differs between runs`);
  const stats = checkCourseContent(run1);

  checkFlaky(seeds, run1);
  checkFail(seeds);
  checkDelay(seeds);
  checkValidatorCases();

  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `selftest ok: ${seeds.length} seeds, ${PHASES.length} phases x ${batchesOf(seeds).length} batches, ` +
      `${stats.legos} LEGOs (${stats.a} A / ${stats.m} M), ${stats.baskets} baskets, ${stats.phrases} phrases; ` +
      `2 runs byte-identical; flaky/fail/delay knobs ok; validator catches bad output (${secs}s)`,
  );
}

try {
  main();
} catch (err) {
  console.error(`selftest FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  if (!process.argv.includes("--keep")) for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  else console.log(`kept: ${tempDirs.join(" ")}`);
}
