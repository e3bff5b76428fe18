// The "batch pipeline" workload shared by every tool of bench/run.mjs, and its mutations.
//
// One workspace per tool and N (bench/ws/run/N<n>/<tool>/) holds the same inputs:
//   seeds.jsonl        N seeds, {"id":"S00001","text":"..."} one a line, deterministic text
//   prompts/p1..p3.md  the phases' intelligence; the first line carries a revision number
//   agent.awk          the "agent" (one mawk process per batch): one output item per input item,
//                      {"id", "phase", "plen", "pfirst", "in": <the input item>}; appends its tag
//                      (p2#7) to ran.log, which is how the harness counts batch jobs for every tool
//   merge.awk          concatenates a phase's batch outputs into out/pP.json
//   split.awk          seeds.jsonl -> seeds/batch_K.jsonl, write-if-changed (make, ninja, Snakemake)
// and the tool's build description: Makefile, build.ninja, Snakefile or pipeline.yaml.
// Batch numbers are 1-based everywhere (cf's p1#1 is make's out/p1/batch_1.json).
//
// Batch k of p1 reads prompts/p1.md and its 20 seeds; batch k of pP (P > 1) reads prompts/pP.md and
// batch k of p(P-1)'s output. The recipe is agent > tmp && grep -q phase tmp && mv tmp out (make,
// ninja, Snakemake, the floor); cf runs the same mawk command as its runner (CF_INPUT_FILE in,
// CF_OUTPUT_FILE out) and the same grep as its validator. All tools produce the same items.
import { mkdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

export const BS = 20;
export const PHASES = ['p1', 'p2', 'p3'];
export const batches = (n) => Math.ceil(n / BS);

const WHO = ['the archivist', 'a night porter', 'the cartographer', 'a beekeeper', 'the ferryman', 'an apprentice',
  'the auditor', 'a lighthouse keeper', 'the glassblower', 'a surveyor', 'the stationmaster', 'a translator', 'the miller'];
const DOES = ['copies', 'misplaces', 'weighs', 'annotates', 'carries', 'returns', 'questions', 'repaints', 'counts',
  'borrows', 'seals', 'sketches', 'rehearses', 'polishes', 'forgets', 'translates', 'mends'];
const WHAT = ['a brass compass', 'the winter ledger', 'seven clay tiles', 'an unsigned letter', 'the tide tables',
  'a bundle of keys', 'the river charts', 'a cracked bell', 'the guest register', 'two paper lanterns', 'the seed catalogue'];
const WHEN = ['before dawn', 'after the market closes', 'on every third Sunday', 'during the storm', 'at low tide',
  'while the kettle boils', 'before the inspectors arrive', 'in the long evening'];

export const seedId = (i) => `S${String(i).padStart(5, '0')}`;
export const seedText = (i) =>
  `${WHO[(i * 7) % WHO.length]} ${DOES[(i * 5 + 3) % DOES.length]} ${WHAT[(i * 4 + 1) % WHAT.length]} ${WHEN[(i * 3 + Math.floor(i / 8)) % WHEN.length]}`;
export const seedLine = (i, text = seedText(i)) => JSON.stringify({ id: seedId(i), text });

export const promptText = (p, rev) =>
  `# Phase ${p} prompt (rev ${rev})\n\nYou are step ${p.slice(1)} of ${PHASES.length}. For each input item, restate it as a short,\n` +
  'self-contained statement. Keep its id. Answer with a JSON array, one object per input item.\n';

/** The seed a "one seed edited" case changes: the 8th seed of the middle batch. */
export function editedSeed(n) {
  const b = Math.ceil(batches(n) / 2);
  return { index: Math.min((b - 1) * BS + 8, n), batch: b };
}

// ---------------------------------------------------------------- awk programs (shared by all tools)

const AGENT_AWK = String.raw`# agent.awk: a deterministic stand-in for an agent run (one mawk process a batch).
# usage: mawk -v ph=PHASE -v tag=PHASE#K -v logf=ran.log -f agent.awk PROMPT INPUT > OUTPUT
# INPUT: JSON objects one a line: .jsonl, or a JSON array written one item a line ("[", "{..},", "]"),
# as cf writes CF_INPUT_FILE and as this agent writes its output; an opening "[" or closing "]" on an
# item's line is accepted too. OUTPUT: a JSON array, one item a line, each {"id", "phase", "plen",
# "pfirst", "in": <input item>}: it depends on the prompt (size, first line) and on the whole input item.
FNR == 1 { fi++ }
fi == 1 { plen += length($0) + 1; if (FNR == 1) pfirst = $0; next }
{
  l = $0
  sub(/^[ \t\r]+/, "", l); sub(/[ \t\r]+$/, "", l)
  sub(/^\[[ \t]*/, "", l); sub(/}[ \t]*\]$/, "}", l); sub(/,$/, "", l)
  if (l == "" || l == "]") next
  n++; item[n] = l
  if (match(l, /"id":"[^"]*"/)) id[n] = substr(l, RSTART + 5, RLENGTH - 5); else id[n] = "null"
}
END {
  if (logf != "") { print tag >> logf; close(logf) }
  gsub(/\\/, "\\\\", pfirst); gsub(/"/, "\\\"", pfirst)
  print "["
  for (i = 1; i <= n; i++)
    printf "{\"id\":%s,\"phase\":\"%s\",\"plen\":%d,\"pfirst\":\"%s\",\"in\":%s}%s\n", id[i], ph, plen, pfirst, item[i], (i < n ? "," : "")
  print "]"
}
`;

const MERGE_AWK = String.raw`# merge.awk: out/PH/batch_1.json .. batch_NB.json -> one JSON array on stdout (one item a line).
# usage: mawk -v ph=p1 -v nb=34 -f merge.awk > out/p1.json   (reads the files itself: no long argv)
BEGIN {
  printf "["
  for (k = 1; k <= nb; k++) {
    f = "out/" ph "/batch_" k ".json"
    while ((r = (getline l < f)) > 0) {
      if (l == "[" || l == "]") continue
      sub(/,$/, "", l)
      printf "%s\n%s", (c++ ? "," : ""), l
    }
    if (r < 0) { print "merge.awk: cannot read " f > "/dev/stderr"; exit 1 }
    close(f)
  }
  printf "\n]\n"
}
`;

const SPLIT_AWK = String.raw`# split.awk: seeds.jsonl -> DIR/batch_K.jsonl (K = 1.., BS lines each), WRITE-IF-CHANGED:
# a batch file whose content is already right is left alone (its mtime does not move), so make
# (stamp idiom), ninja (restat) and Snakemake (split run before it) see only really changed batches.
# usage: mawk -v bs=20 -v dir=seeds -f split.awk seeds.jsonl    (-v verbose=1: report to stderr)
{ k = int((NR - 1) / bs) + 1; buf[k] = buf[k] $0 "\n"; nb = k }
END {
  for (k = 1; k <= nb; k++) {
    f = dir "/batch_" k ".jsonl"
    old = ""
    while ((getline l < f) > 0) old = old l "\n"
    close(f)
    if (old != buf[k]) { printf "%s", buf[k] > f; close(f); w++ }
  }
  if (verbose) printf "split: %d batches, %d written\n", nb, w > "/dev/stderr"
}
`;

// ---------------------------------------------------------------- recipes (make, ninja, Snakemake, floor)

export const SPLIT_CMD = `mkdir -p seeds && mawk -v bs=${BS} -v dir=seeds -f split.awk seeds.jsonl`;
const agentInput = (p, k) => (p === 'p1' ? `seeds/batch_${k}.jsonl` : `out/p${Number(p.slice(1)) - 1}/batch_${k}.json`);
/** One batch recipe, literally (floor scripts). */
export const recipe = (p, k) =>
  `mawk -v ph=${p} -v tag=${p}#${k} -v logf=ran.log -f agent.awk prompts/${p}.md ${agentInput(p, k)} > out/${p}/batch_${k}.json.tmp && grep -q phase out/${p}/batch_${k}.json.tmp && mv out/${p}/batch_${k}.json.tmp out/${p}/batch_${k}.json`;
export const mergeCmd = (p, nb) => `mawk -v ph=${p} -v nb=${nb} -f merge.awk > out/${p}.json.tmp && mv out/${p}.json.tmp out/${p}.json`;

function makefile(nb) {
  const list = Array.from({ length: nb }, (_, i) => i + 1).join(' ');
  const rules = PHASES.map((p) => {
    const dep = p === 'p1' ? 'seeds/batch_%.jsonl' : `out/p${Number(p.slice(1)) - 1}/batch_%.json`;
    const inp = p === 'p1' ? 'seeds/batch_$*.jsonl' : `out/p${Number(p.slice(1)) - 1}/batch_$*.json`;
    return `$(${p.toUpperCase()}): out/${p}/batch_%.json: prompts/${p}.md ${dep} agent.awk | out/${p}
\tmawk -v ph=${p} -v tag=${p}#$* -v logf=ran.log -f agent.awk prompts/${p}.md ${inp} > $@.tmp && grep -q phase $@.tmp && mv $@.tmp $@
out/${p}.json: $(${p.toUpperCase()}) merge.awk
\t${mergeCmd(p, '$(NB)')}
`;
  });
  return `# GNU make build of the bench/run.mjs workload (generated by bench/lib/workload.mjs).
# seeds/.stamp records "split.awk ran since seeds.jsonl changed"; split.awk is write-if-changed and the
# batch files hang off the stamp with an empty recipe, so GNU make re-stats them after the split and
# rebuilds only the batches whose seeds really changed (the stamp idiom).
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
.DELETE_ON_ERROR:
NB := ${nb}
BATCHES := ${list}
SEEDS := $(BATCHES:%=seeds/batch_%.jsonl)
${PHASES.map((p) => `${p.toUpperCase()} := $(BATCHES:%=out/${p}/batch_%.json)`).join('\n')}

.PHONY: all
all: ${PHASES.map((p) => `out/${p}.json`).join(' ')}

seeds/.stamp: seeds.jsonl split.awk
\t${SPLIT_CMD}
\t@touch $@
$(SEEDS): seeds/.stamp ;

${rules.join('\n')}
${PHASES.map((p) => `out/${p}`).join(' ')}:
\tmkdir -p $@
`;
}

function ninjaFile(nb) {
  const L = [
    '# ninja build of the bench/run.mjs workload (generated by bench/lib/workload.mjs).',
    '# The split is write-if-changed and restat = 1: ninja re-stats its outputs and prunes what did not change.',
    'ninja_required_version = 1.10',
    '',
    'rule split',
    `  command = ${SPLIT_CMD}`,
    '  restat = 1',
    '  description = SPLIT seeds.jsonl',
    'rule agent',
    '  command = mawk -v ph=$ph -v tag=$tag -v logf=ran.log -f agent.awk $in > $out.tmp && grep -q phase $out.tmp && mv $out.tmp $out',
    '  description = AGENT $tag',
    'rule merge',
    `  command = mawk -v ph=$ph -v nb=${nb} -f merge.awk > $out.tmp && mv $out.tmp $out`,
    '  description = MERGE $out',
    '',
  ];
  const seeds = Array.from({ length: nb }, (_, i) => `seeds/batch_${i + 1}.jsonl`);
  L.push(`build ${seeds.join(' ')}: split seeds.jsonl | split.awk`);
  for (const p of PHASES) {
    for (let k = 1; k <= nb; k++) {
      L.push(`build out/${p}/batch_${k}.json: agent prompts/${p}.md ${agentInput(p, k)} | agent.awk`);
      L.push(`  ph = ${p}`, `  tag = ${p}#${k}`);
    }
  }
  for (const p of PHASES) {
    L.push(`build out/${p}.json: merge ${Array.from({ length: nb }, (_, i) => `out/${p}/batch_${i + 1}.json`).join(' ')} | merge.awk`);
    L.push(`  ph = ${p}`);
  }
  L.push(`default ${PHASES.map((p) => `out/${p}.json`).join(' ')}`);
  return `${L.join('\n')}\n`;
}

function snakefile(nb) {
  return `# Snakemake workflow of the bench/run.mjs workload (generated by bench/lib/workload.mjs).
# split.awk runs BEFORE snakemake (the measured command is "split && snakemake ..."): Snakemake has no
# restat, so a split rule inside the DAG would rerun every batch job whenever seeds.jsonl changes.
NB = ${nb}
PHASES = ${JSON.stringify(PHASES)}

wildcard_constraints:
    p="p[0-9]+",
    k="[0-9]+",

rule all:
    input: expand("out/{p}.json", p=PHASES)

def agent_input(wc):
    i = int(wc.p[1:])
    return "seeds/batch_%s.jsonl" % wc.k if i == 1 else "out/p%d/batch_%s.json" % (i - 1, wc.k)

rule agent:
    input:
        prompt="prompts/{p}.md",
        data=agent_input,
        code="agent.awk",
    output: "out/{p}/batch_{k}.json"
    shell: "mawk -v ph={wildcards.p} -v tag={wildcards.p}#{wildcards.k} -v logf=ran.log -f agent.awk {input.prompt} {input.data} > {output}.tmp && grep -q phase {output}.tmp && mv {output}.tmp {output}"

rule merge:
    input:
        batches=lambda wc: expand("out/{p}/batch_{k}.json", p=wc.p, k=range(1, NB + 1)),
        code="merge.awk",
    output: "out/{p}.json"
    shell: "mawk -v ph={wildcards.p} -v nb=${nb} -f merge.awk > {output}.tmp && mv {output}.tmp {output}"
`;
}

export const CF_AGENT =
  'mawk -v ph="$CF_PHASE" -v tag="$CF_TARGET" -v logf=ran.log -f agent.awk "prompts/$CF_PHASE.md" "$CF_INPUT_FILE" > "$CF_OUTPUT_FILE"';
export const CF_VALIDATE = 'grep -q phase "$CF_OUTPUT_FILE"';

function pipelineYaml() {
  const q = (s) => `'${s.replace(/'/g, "''")}'`;
  return `# cf pipeline of the bench/run.mjs workload (generated by bench/lib/workload.mjs).
# The runner is the same mawk agent as make/ninja/Snakemake run; it reads the phase's intelligence file
# (as they do) and CF_INPUT_FILE, and writes CF_OUTPUT_FILE. The validator is the same grep.
seeds: seeds.jsonl
batch_size: ${BS}
jobs: 2
runners:
  awk:
    command: ${q(CF_AGENT)}
    deps: [agent.awk]
phases:
${PHASES.map((p, i) => `  - name: ${p}
    from: ${i === 0 ? 'seeds' : PHASES[i - 1]}
    intelligence: prompts/${p}.md
    runner: awk
    output: out/${p}.json
    validate: ${q(CF_VALIDATE)}`).join('\n')}
`;
}

function floorScripts(nb) {
  const all = PHASES.flatMap((p) => Array.from({ length: nb }, (_, i) => recipe(p, i + 1)));
  const serial = ['#!/bin/sh', '# every recipe once, in order, no build tool (the floor)', 'set -e',
    'mkdir -p out/p1 out/p2 out/p3', SPLIT_CMD, ...all, ...PHASES.map((p) => mergeCmd(p, nb))];
  const mid = Math.ceil(nb / 2);
  const par = ['#!/bin/sh', '# every recipe once, 2 at a time within a phase (xargs -P2, one sh per recipe as make runs them)', 'set -e',
    'mkdir -p out/p1 out/p2 out/p3', SPLIT_CMD,
    ...PHASES.map((p) => `tr '\\n' '\\0' < recipes/${p}.cmds | xargs -0 -P2 -n1 sh -c`), ...PHASES.map((p) => mergeCmd(p, nb))];
  const cmds = Object.fromEntries(PHASES.map((p) => [`recipes/${p}.cmds`, `${Array.from({ length: nb }, (_, i) => recipe(p, i + 1)).join('\n')}\n`]));
  return {
    ...cmds,
    'recipes/parallel.sh': `${par.join('\n')}\n`,
    'recipes/serial.sh': `${serial.join('\n')}\n`,
    'recipes/one.sh': `#!/bin/sh\n# one batch recipe (phase p2, batch ${mid}): agent + validate + mv\n${recipe('p2', mid)}\n`,
  };
}

/** Write a fresh workspace for TOOL (cf | make | ninja | snakemake* | floor) with N seeds. */
export function generate(dir, n, tool) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'prompts'), { recursive: true });
  const nb = batches(n);
  const lines = [];
  for (let i = 1; i <= n; i++) lines.push(seedLine(i));
  const files = {
    'seeds.jsonl': `${lines.join('\n')}\n`,
    'agent.awk': AGENT_AWK,
    '.bench-state.json': JSON.stringify({ seedRev: 0, promptRev: 0 }),
  };
  for (const p of PHASES) files[`prompts/${p}.md`] = promptText(p, 0);
  if (tool !== 'cf') Object.assign(files, { 'merge.awk': MERGE_AWK, 'split.awk': SPLIT_AWK });
  if (tool === 'make') files.Makefile = makefile(nb);
  else if (tool === 'ninja') files['build.ninja'] = ninjaFile(nb);
  else if (tool.startsWith('snakemake')) files.Snakefile = snakefile(nb);
  else if (tool === 'cf') files['pipeline.yaml'] = pipelineYaml();
  else if (tool === 'floor') Object.assign(files, floorScripts(nb));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
}

// ---------------------------------------------------------------- mutations (hyperfine --prepare steps)

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function bump(ws, key) {
  const f = path.join(ws, '.bench-state.json');
  const s = JSON.parse(readFileSync(f, 'utf8'));
  s[key] = (s[key] ?? 0) + 1;
  writeFileSync(f, JSON.stringify(s));
  return s[key];
}

function replaceFile(file, text) {
  writeFileSync(`${file}.mut`, text);
  renameSync(`${file}.mut`, file);
}

/**
 * clean        remove every output and every tool's state: out/ seeds/ .cf/ .ninja_log .ninja_deps .snakemake/
 * seed-edit    give the edited seed a text it never had before (a revision counter: cf caches by content and
 *              would answer a revert from its cache)
 * seeds-touch  bump seeds.jsonl's mtime, content unchanged
 * prompt-edit  prompts/p1.md's first line gets a new revision number (its output changes: plen/pfirst)
 * prompt-touch bump prompts/p1.md's mtime, content unchanged
 * Every action first sleeps 20 ms, so its mtimes are strictly later than whatever the last build wrote.
 */
export function mutate(action, ws) {
  sleep(20);
  switch (action) {
    case 'clean':
      for (const d of ['out', 'seeds', '.cf', '.snakemake', '.ninja_log', '.ninja_deps']) rmSync(path.join(ws, d), { recursive: true, force: true });
      return;
    case 'seed-edit': {
      const rev = bump(ws, 'seedRev');
      const f = path.join(ws, 'seeds.jsonl');
      const lines = readFileSync(f, 'utf8').split('\n');
      const n = lines.filter(Boolean).length;
      const { index } = editedSeed(n);
      lines[index - 1] = seedLine(index, `${seedText(index)} (edit ${rev})`);
      replaceFile(f, lines.join('\n'));
      return;
    }
    case 'prompt-edit':
      replaceFile(path.join(ws, 'prompts', 'p1.md'), promptText('p1', bump(ws, 'promptRev')));
      return;
    case 'seeds-touch':
    case 'prompt-touch': {
      const f = path.join(ws, action === 'seeds-touch' ? 'seeds.jsonl' : 'prompts/p1.md');
      const now = new Date();
      utimesSync(f, now, now);
      return;
    }
    default:
      throw new Error(`unknown mutation ${action}`);
  }
}

// ---------------------------------------------------------------- expected outputs (correctness check)

/** The items every tool must have merged into out/pP.json, computed here from the inputs (no awk). */
export function expectedOutputs(ws) {
  let items = readFileSync(path.join(ws, 'seeds.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const out = {};
  for (const p of PHASES) {
    const prompt = readFileSync(path.join(ws, 'prompts', `${p}.md`), 'utf8');
    const plen = Buffer.byteLength(prompt);
    const pfirst = prompt.split('\n')[0];
    items = items.map((it) => ({ id: it.id, phase: p, plen, pfirst, in: it }));
    out[p] = items;
  }
  return out;
}

/** Compare a workspace's merged outputs with expectedOutputs(); returns null when equal, else a message. */
export function verifyOutputs(ws) {
  const want = expectedOutputs(ws);
  for (const p of PHASES) {
    const f = path.join(ws, 'out', `${p}.json`);
    if (!existsSync(f)) return `out/${p}.json missing`;
    let got;
    try {
      got = JSON.parse(readFileSync(f, 'utf8'));
    } catch (e) {
      return `out/${p}.json is not JSON: ${e.message}`;
    }
    if (!Array.isArray(got) || got.length !== want[p].length) return `out/${p}.json has ${Array.isArray(got) ? got.length : 'no'} items, expected ${want[p].length}`;
    for (let i = 0; i < got.length; i++) {
      if (JSON.stringify(got[i]) !== JSON.stringify(want[p][i])) return `out/${p}.json item ${i + 1} (${want[p][i].id}) differs from a from-scratch computation`;
    }
  }
  return null;
}
