#!/usr/bin/env node
// Agent items regenerated per kind of edit, measured: cf in four settings (items: batch | independent ×
// batching: positional | stable) and GNU make, ninja and Snakemake on bench/run.mjs's workload (the
// write-if-changed split, the stamp idiom / restat / split-before-snakemake: each tool at its best).
// Every tool builds N seeds in 3 phases, then one edit is applied to the seeds and the tool builds again;
// what its agents were given in that second build is counted, in items (an item is one seed in one phase).
//   cf: its agent appends the number of items it was given to items.log.
//   make / ninja / Snakemake: the agent logs its batch tag (p2#7) to ran.log; a batch job's items are the
//   lines of its seeds/batch_K.jsonl.
// Usage: node bench/items.mjs [--n 668] [--tools cf,make,ninja,snakemake]. Needs `npm run build`; make,
// ninja-build, snakemake and mawk from Debian for the peers (a missing peer is reported and skipped).
// Writes bench/ITEMS.md.
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generate, seedLine, SPLIT_CMD, PHASES, BS } from './lib/workload.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CF = path.resolve(here, '..', 'bin', 'cf.js');
const { values: opt } = parseArgs({ options: { n: { type: 'string', default: '668' }, tools: { type: 'string', default: 'cf,make,ninja,snakemake' } } });
const N = Number(opt.n);
const TOOLS = opt.tools.split(',');
const WS = path.join(here, 'ws', 'items');

// ---------------------------------------------------------------- the edits (on seeds.jsonl lines)

const EDITS = [
  ['one seed edited', 'S' + String(Math.floor(N / 3)).padStart(5, '0'), (lines) => {
    const i = Math.floor(N / 3) - 1;
    const it = JSON.parse(lines[i]);
    lines[i] = JSON.stringify({ ...it, text: `${it.text} (edited)` });
    return lines;
  }],
  ['seed inserted at 300', 'S90001', (lines) => {
    lines.splice(Math.min(299, lines.length), 0, JSON.stringify({ id: 'S90001', text: 'a seed inserted in the middle' }));
    return lines;
  }],
  ['seed deleted', null, (lines) => lines.filter((_, i) => i !== Math.floor(N / 2))],
  ['two seeds swapped', null, (lines) => {
    const a = 10;
    const b = Math.floor(N * 0.8);
    [lines[a], lines[b]] = [lines[b], lines[a]];
    return lines;
  }],
];
// The content-minimal number: an edited or inserted seed in every phase; nothing for a deletion or a move.
const minimal = (name) => (name === 'one seed edited' || name === 'seed inserted at 300' ? PHASES.length : 0);

const readLines = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean);
const writeLines = (f, lines) => writeFileSync(f, `${lines.join('\n')}\n`);
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

// ---------------------------------------------------------------- cf

const CF_AGENT = `import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const items = JSON.parse(readFileSync(process.env.CF_INPUT_FILE, 'utf8'));
appendFileSync('items.log', items.length + '\\n');
writeFileSync(process.env.CF_OUTPUT_FILE, JSON.stringify(items.map((it) => ({ ...it, [process.env.CF_PHASE]: true }))));
`;

function cfWorkspace(items, batching) {
  const dir = path.join(WS, `cf-${items}-${batching}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'prompts'), { recursive: true });
  writeFileSync(path.join(dir, 'agent.mjs'), CF_AGENT);
  for (const p of PHASES) writeFileSync(path.join(dir, 'prompts', `${p}.md`), `# ${p}\n`);
  const phases = PHASES.map((p) => `  - {name: ${p}, intelligence: prompts/${p}.md, runner: a, output: out/${p}.json, items: ${items}}`);
  writeFileSync(path.join(dir, 'pipeline.yaml'), `seeds: seeds.jsonl\nbatch_size: ${BS}\nbatching: ${batching}\njobs: 2\nrunners:\n  a: {command: [node, agent.mjs]}\nphases:\n${phases.join('\n')}\n`);
  writeLines(path.join(dir, 'seeds.jsonl'), Array.from({ length: N }, (_, i) => seedLine(i + 1)));
  return dir;
}

function cfRun(items, batching, edit) {
  const dir = cfWorkspace(items, batching);
  const env = { ...process.env, CI: '1' };
  execFileSync(process.execPath, [CF, 'build', '-q'], { cwd: dir, env, stdio: 'ignore' });
  rmSync(path.join(dir, 'items.log'), { force: true });
  writeLines(path.join(dir, 'seeds.jsonl'), edit(readLines(path.join(dir, 'seeds.jsonl'))));
  execFileSync(process.execPath, [CF, 'build', '-q'], { cwd: dir, env, stdio: 'ignore' });
  const log = path.join(dir, 'items.log');
  const runs = existsSync(log) ? readLines(log).map(Number) : [];
  return { items: runs.reduce((a, b) => a + b, 0), runs: runs.length };
}

// ---------------------------------------------------------------- make, ninja, Snakemake

const PEERS = {
  make: { needs: 'make', build: 'make -s -j2' },
  ninja: { needs: 'ninja', build: 'ninja -j2 > /dev/null' },
  snakemake: { needs: 'snakemake', build: `${SPLIT_CMD} && snakemake -j2 --scheduler greedy -q > /dev/null 2>&1` },
};

function peerRun(tool, edit) {
  const dir = path.join(WS, tool);
  generate(dir, N, tool);
  const sh = (cmd) => execSync(cmd, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], shell: '/bin/sh' });
  sh(PEERS[tool].build);
  rmSync(path.join(dir, 'ran.log'), { force: true });
  // An editor's save: the file is replaced (a new mtime), as hyperfine's prepare step does in bench/run.mjs.
  execSync('sleep 0.02');
  writeLines(path.join(dir, 'seeds.jsonl'), edit(readLines(path.join(dir, 'seeds.jsonl'))));
  sh(PEERS[tool].build);
  const log = path.join(dir, 'ran.log');
  const tags = existsSync(log) ? readLines(log) : [];
  const items = tags.reduce((n, tag) => n + readLines(path.join(dir, 'seeds', `batch_${tag.split('#')[1]}.jsonl`)).length, 0);
  return { items, runs: tags.length };
}

// ---------------------------------------------------------------- run

const columns = [];
if (TOOLS.includes('cf')) {
  for (const [items, batching] of [['independent', 'stable'], ['independent', 'positional'], ['batch', 'stable'], ['batch', 'positional']]) {
    columns.push({ name: `cf, items: ${items}, batching: ${batching}`, run: (edit) => cfRun(items, batching, edit) });
  }
}
const skipped = [];
for (const tool of ['make', 'ninja', 'snakemake']) {
  if (!TOOLS.includes(tool)) continue;
  if (!have(PEERS[tool].needs) || !have('mawk')) skipped.push(tool);
  else columns.push({ name: tool, run: (edit) => peerRun(tool, edit) });
}

const rows = [];
for (const [name, , edit] of EDITS) {
  const cells = columns.map((c) => {
    const r = c.run(edit);
    process.stderr.write(`${name} · ${c.name}: ${r.items} items in ${r.runs} agent runs\n`);
    return r;
  });
  rows.push({ name, cells });
}

const out = [
  '# Agent items regenerated per edit',
  '',
  `Generated by \`node bench/items.mjs --n ${N}\` on ${new Date().toISOString().slice(0, 16)}Z. N = ${N} seeds, batch size ${BS}, ${PHASES.length} phases; an item is one seed in one phase. Each cell: items the agents were given in the build after the edit (agent runs in brackets); the last column is the content-minimal number. Measured: every tool really built, was edited, and built again.`,
  '',
  `| edit | ${columns.map((c) => c.name).join(' | ')} | minimal |`,
  `|---|${columns.map(() => '---').join('|')}|---|`,
  ...rows.map((r) => `| ${r.name} | ${r.cells.map((c) => `${c.items} (${c.runs})`).join(' | ')} | ${minimal(r.name)} |`),
  '',
  '* make, ninja and Snakemake get the write-if-changed split (only batch files whose seeds changed get a new mtime), so an edit reruns its batch; but an insertion or deletion shifts every later batch boundary, so every later batch reruns, in every phase.',
  '* cf `items: batch` reruns whole batches; with `batching: stable` an insertion or deletion changes about one batch (boundaries are cut by content), a move about two. `items: independent` caches each item: an edited or inserted seed is the only item regenerated in each phase; deletions and moves regenerate nothing.',
  ...(skipped.length ? [`* Not measured here (not installed): ${skipped.join(', ')}.`] : []),
  '',
];
writeFileSync(path.join(here, 'ITEMS.md'), out.join('\n'));
console.log(out.join('\n'));
