#!/usr/bin/env node
// Latency from saving the seeds file to the start of the agent run it causes, under a running `cf watch`.
// Usage: node bench/watch-latency.mjs [N ...] (default: 668 20000). Needs `npm run build` first.
// Workload: N seeds (.jsonl), batches of 20, 3 phases, an agent that notes the time it started and copies
// its input. Each edit changes one seed in the middle of the file and is saved as an editor saves it (a
// temporary file renamed over the seeds file); 10 edits per N, median reported, with the load average.
// Goals (issue 5): under 150 ms at N=668, under 400 ms at N=20,000.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = path.dirname(fileURLToPath(import.meta.url));
const CF = path.resolve(here, '..', 'bin', 'cf.js');
const EDITS = 10;
/** An edit whose agent has not started by then is reported as missed, not waited for forever. */
const EDIT_TIMEOUT_MS = 60_000;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const NS = sizes.length ? sizes : [668, 20000];

function workspace(n) {
  const dir = path.join(here, 'ws', `watch-${n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'prompts'), { recursive: true });
  const lines = [];
  for (let i = 1; i <= n; i++) lines.push(JSON.stringify({ id: `S${String(i).padStart(5, '0')}`, text: `seed sentence number ${i}` }));
  writeFileSync(path.join(dir, 'seeds.jsonl'), `${lines.join('\n')}\n`);
  for (const p of ['p1', 'p2', 'p3']) writeFileSync(path.join(dir, 'prompts', `${p}.md`), `# ${p}\nDo the ${p} thing.\n`);
  writeFileSync(path.join(dir, 'agent.sh'), '#!/bin/sh\nprintf "%s %s\\n" "$(date +%s%N)" "$CF_TARGET" >> "$MARKS"\ncp "$CF_INPUT_FILE" "$CF_OUTPUT_FILE"\n');
  writeFileSync(
    path.join(dir, 'pipeline.yaml'),
    `seeds: seeds.jsonl
batch_size: 20
runners:
  copy: {command: [sh, agent.sh]}
phases:
  - {name: p1, intelligence: prompts/p1.md, runner: copy, output: out/p1.json}
  - {name: p2, intelligence: prompts/p2.md, runner: copy, output: out/p2.json}
  - {name: p3, intelligence: prompts/p3.md, runner: copy, output: out/p3.json}
`,
  );
  return dir;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(n) {
  const dir = workspace(n);
  const marks = path.join(dir, 'marks.log');
  const env = { ...process.env, MARKS: marks, CI: '1' };
  process.stderr.write(`N=${n}: cold build… `);
  const t = Date.now();
  execFileSync('node', [CF, 'build', '-q', '-j', '2'], { cwd: dir, env, stdio: 'ignore' });
  process.stderr.write(`${((Date.now() - t) / 1000).toFixed(1)} s; watching\n`);
  const watch = spawn('node', [CF, 'watch', '--json'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => watch.on('exit', r));
  const lines = createInterface({ input: watch.stdout })[Symbol.asyncIterator]();
  /** The next summary before the deadline (null after it); cf watch's input errors are shown, not fatal. */
  const nextSummary = async (deadline) => {
    for (;;) {
      let timer;
      const timeout = new Promise((r) => (timer = setTimeout(() => r({ timedOut: true }), Math.max(0, deadline - Date.now()))));
      const r = await Promise.race([lines.next(), timeout]);
      clearTimeout(timer);
      if (r.timedOut) return null;
      if (r.done) throw new Error('cf watch ended');
      let e;
      try {
        e = JSON.parse(r.value);
      } catch {
        continue;
      }
      if (e.event === 'error') process.stderr.write(`  cf watch: ${e.file ?? ''}: ${e.message}\n`);
      if (e.event === 'summary') return e;
    }
  };
  await nextSummary(Date.now() + 10 * EDIT_TIMEOUT_MS);
  const seedsFile = path.join(dir, 'seeds.jsonl');
  const latencies = [];
  let missed = 0;
  for (let i = 0; i < EDITS; i++) {
    rmSync(marks, { force: true });
    const seeds = readFileSync(seedsFile, 'utf8').split('\n');
    const at = Math.floor(n / 2) + i * 20;
    const item = JSON.parse(seeds[at]);
    item.text += ' (edited)';
    seeds[at] = JSON.stringify(item);
    const t0 = Date.now();
    // Saved as an editor saves: a temporary file beside it, renamed over it (never seen half-written).
    writeFileSync(`${seedsFile}.tmp`, seeds.join('\n'));
    renameSync(`${seedsFile}.tmp`, seedsFile);
    // The rebuild that runs the edited batches (an extra rebuild with nothing to run is passed over).
    const deadline = t0 + EDIT_TIMEOUT_MS;
    let s;
    do s = await nextSummary(deadline);
    while (s && s.ran.length === 0);
    if (!s || !existsSync(marks)) {
      missed++;
      process.stderr.write(`  edit ${i + 1}: no agent started within ${EDIT_TIMEOUT_MS / 1000} s\n`);
      continue;
    }
    const first = readFileSync(marks, 'utf8').trim().split('\n')[0].split(' ');
    latencies.push(Number(BigInt(first[0]) / 1_000_000n) - t0);
    if (s.ran.length !== 3) process.stderr.write(`  edit ${i + 1}: ran ${s.ran.join(', ')} (expected one batch per phase)\n`);
  }
  watch.kill('SIGINT');
  await exited;
  if (!latencies.length) return { n, median: NaN, min: NaN, max: NaN, all: [], missed, load: load() };
  return { n, median: median(latencies), min: Math.min(...latencies), max: Math.max(...latencies), all: latencies, missed, load: load() };
}

process.stderr.write(`load average before: ${load()}\n`);
const rows = [];
for (const n of NS) rows.push(await measure(n));
console.log(`${process.env.CF_WATCH_DEBOUNCE_MS ? `CF_WATCH_DEBOUNCE_MS=${process.env.CF_WATCH_DEBOUNCE_MS}; ` : ''}load average (1, 5, 15 min) after each N; ${EDITS} edits per N`);
console.log('| N | save → agent start, median | min–max | goal | missed | load average |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.n} | ${r.median} ms | ${r.min}–${r.max} ms | ${r.n <= 1000 ? '150' : '400'} ms | ${r.missed} | ${r.load} |`);
