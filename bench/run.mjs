#!/usr/bin/env node
// cf side by side with GNU make, ninja and Snakemake on one "batch pipeline" workload, in one run.
//
//   node bench/run.mjs                       N = 668 and 20000 (about 35 min on a 2-core VM; see bench/README.md)
//   node bench/run.mjs --ns 668,20000,100000 choose N (100000 adds about an hour: cold builds run once)
//   node bench/run.mjs --quick               smoke test: N = 668, few runs (about 4 minutes)
//   node bench/run.mjs --report              only rewrite bench/RESULTS.md from bench/results/results.json
// More knobs: --tools floor,cf,make,ninja,snakemake-greedy,snakemake  --cases a,b,c,d,e,f,g (a always runs)
//   --merge      keep results.json's other results, replace only what this run measures
//   --budget S   timed seconds per case (default 30; quick 8): fewer runs for slow cases
//   --cap S      skip a non-cold case whose single run is predicted to exceed S (default 240)
//   --timeout S  skip a cold build predicted to exceed S, and kill any run that does (default 1200)
//   --wait-quiet S  before each case, wait up to S s while other processes keep the CPUs > 25 % busy (default 15)
//
// For every tool, N and case: one "check run" under GNU time (peak RSS, the batch jobs it ran, what a
// dry run says), then hyperfine with --prepare putting the workspace in the case's state before every
// timed run. Writes bench/results/results.json (+ raw hyperfine JSON in results/raw/) and bench/RESULTS.md.
// Needs Debian's make ninja-build snakemake hyperfine time mawk; node: built-ins only.
import { spawn, spawnSync, execSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, fstatSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { batches, editedSeed, generate, mutate, verifyOutputs, SPLIT_CMD, PHASES } from './lib/workload.mjs';
import { renderReport } from './lib/report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const CF = path.join(ROOT, 'bin', 'cf.js');
const MUTATE = path.join(here, 'lib', 'mutate.mjs');
const WSROOT = path.join(here, 'ws', 'run');
const RES = path.join(here, 'results');
const RAW = path.join(RES, 'raw');
const RESULTS_JSON = path.join(RES, 'results.json');
const RESULTS_MD = path.join(here, 'RESULTS.md');

const { values: opt } = parseArgs({
  options: {
    ns: { type: 'string' },
    quick: { type: 'boolean', default: false },
    tools: { type: 'string' },
    cases: { type: 'string' },
    budget: { type: 'string' },
    timeout: { type: 'string' },
    cap: { type: 'string' },
    'wait-quiet': { type: 'string' },
    report: { type: 'boolean', default: false },
    merge: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
  console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
if (opt.report) {
  const md = renderReport(JSON.parse(readFileSync(RESULTS_JSON, 'utf8')));
  writeFileSync(RESULTS_MD, md);
  console.log(md);
  process.exit(0);
}

const QUICK = opt.quick;
const NS = (opt.ns ?? (QUICK ? '668' : '668,20000')).split(',').map((s) => Number(s.trim())).filter((x) => x > 0);
const BUDGET = Number(opt.budget ?? (QUICK ? 8 : 30));
const TIMEOUT = Number(opt.timeout ?? 1200);
const CAP = Number(opt.cap ?? 240);
const WAIT_QUIET = Number(opt['wait-quiet'] ?? (QUICK ? 3 : 15));

// ---------------------------------------------------------------- tools and cases

const NODE = process.execPath;
const cfCmd = (...a) => `${NODE} ${CF} ${a.join(' ')}`;
const TOOLS = {
  cf: { build: cfCmd('build', '-j', '2'), dry: cfCmd('build', '-n'), dryJson: cfCmd('build', '-n', '--json') },
  make: { build: 'make -j2', dry: 'make -n' },
  ninja: { build: 'ninja -j2', dry: 'ninja -n' },
  // The split runs before Snakemake (no restat: inside the DAG, any seeds.jsonl change reruns every job).
  'snakemake-greedy': { build: `${SPLIT_CMD} && snakemake -j2 --scheduler greedy`, dry: `${SPLIT_CMD} && snakemake -n` },
  // Default (ILP, pulp + CBC) scheduler: measured at small N only (4.7x slower cold at N=20000 in the anchors).
  snakemake: { build: `${SPLIT_CMD} && snakemake -j2`, dry: `${SPLIT_CMD} && snakemake -n`, maxN: 1000 },
};
const TOOL_ORDER = ['floor', 'cf', 'make', 'ninja', 'snakemake-greedy', 'snakemake'];
const toolList = (opt.tools ? opt.tools.split(',') : TOOL_ORDER).map((t) => t.trim());
for (const t of toolList) if (!TOOLS[t] && t !== 'floor') throw new Error(`unknown tool ${t} (floor, ${Object.keys(TOOLS).join(', ')})`);

const CASES = [
  { id: 'a', title: 'cold build -j2', prepare: 'clean', cmd: 'build', minimal: (nb) => 3 * nb },
  { id: 'b', title: 'no-op', prepare: null, cmd: 'build', minimal: () => 0 },
  { id: 'c', title: 'one seed edited', prepare: 'seed-edit', cmd: 'build', minimal: () => 3, chain: true },
  { id: 'd', title: 'seeds.jsonl touched', prepare: 'seeds-touch', cmd: 'build', minimal: () => 0 },
  { id: 'e', title: 'intelligence edited (prompts/p1.md content)', prepare: 'prompt-edit', cmd: 'build', minimal: (nb) => 3 * nb },
  { id: 'f', title: 'prompts/p1.md touched', prepare: 'prompt-touch', cmd: 'build', minimal: () => 0 },
  { id: 'g', title: 'dry run after one seed edit', prepare: 'seed-edit', cmd: 'dry', minimal: () => 0, dry: true, chain: true },
];
// Case a (cold) always runs: it builds the workspace the other cases start from.
const caseList = opt.cases ? CASES.filter((c) => c.id === 'a' || opt.cases.split(',').includes(c.id)) : CASES;

/** Timed runs wanted per case (the budget may lower it). */
function maxRuns(c, n) {
  if (QUICK) return { a: 2, b: 5, c: 3, d: 3, e: 2, f: 2, g: 3 }[c];
  if (n <= 1000) return { a: 5, b: 20, c: 10, d: 10, e: 5, f: 10, g: 10 }[c];
  if (n <= 20000) return { a: 3, b: 10, c: 10, d: 10, e: 3, f: 5, g: 10 }[c];
  return { a: 2, b: 5, c: 5, d: 5, e: 2, f: 3, g: 5 }[c];
}

// ---------------------------------------------------------------- helpers

const sh = (cmd) => {
  try {
    return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], shell: '/bin/bash' }).trim();
  } catch {
    return 'n/a';
  }
};
const log = (s) => process.stderr.write(`${s}\n`);
const fmt = (s) => (s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s >= 0.1 ? s.toFixed(3) : s.toFixed(4));

/** Run CMD (via sh) in WS under GNU time: wall, exit, peak RSS (largest process of the tree), output in LOGFILE. */
function run(ws, cmd, logFile, timeoutS = TIMEOUT) {
  const tf = `${logFile}.time`;
  const fd = openSync(logFile, 'w');
  const t0 = process.hrtime.bigint();
  const child = spawn('/usr/bin/time', ['-f', '%e %M', '-o', tf, 'sh', '-c', cmd], { cwd: ws, stdio: ['ignore', fd, fd], detached: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, timeoutS * 1000);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      closeSync(fd);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      let rssKb = null;
      try {
        const last = readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ');
        rssKb = Number(last[1]) || null;
      } catch {}
      resolve({ wall, code: code ?? signal, timedOut, rssKb });
    });
  });
}

function runHyperfine(ws, name, cmd, runs, prepare) {
  const out = path.join(RAW, `${name}.json`);
  const args = ['--runs', String(runs), '--export-json', out, '--style', 'none', '-n', name];
  if (!/[&|;<>$]/.test(cmd)) args.push('-N');
  if (prepare) args.push('--prepare', prepare);
  args.push(cmd);
  return new Promise((resolve) => {
    const child = spawn('hyperfine', args, { cwd: ws, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, (runs * (TIMEOUT + 60) + 60) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return resolve({ error: `hyperfine exit ${code}: ${err.trim().split('\n').slice(-3).join(' ')}` });
      const r = JSON.parse(readFileSync(out, 'utf8')).results[0];
      resolve({ median: r.median, min: r.min, max: r.max, mean: r.mean, stddev: r.stddev, times: r.times, n: r.times.length, source: 'hyperfine' });
    });
  });
}

/** ran.log: one line per agent run ("p2#7"); read what was appended since OFFSET. */
function ranSince(ws, offset) {
  const f = path.join(ws, 'ran.log');
  if (!existsSync(f)) return { lines: [], offset: 0 };
  const fd = openSync(f, 'r');
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(size - offset);
  readSync(fd, buf, 0, buf.length, offset);
  closeSync(fd);
  return { lines: buf.toString('utf8').split('\n').filter(Boolean), offset: size };
}
const ranOffset = (ws) => (existsSync(path.join(ws, 'ran.log')) ? statSync(path.join(ws, 'ran.log')).size : 0);

/** What a dry run says would run: agent jobs certain, and (cf) may-run. */
function parseDry(tool, text) {
  if (tool === 'cf') {
    const last = text.trim().split('\n').reverse().find((l) => l.includes('"summary"'));
    const s = last ? JSON.parse(last) : null;
    return s ? { sure: s.wouldRun.length, may: s.mayRun.length, targets: [...s.wouldRun, ...s.mayRun] } : null;
  }
  const re = tool === 'make' ? /-f agent\.awk/g : tool === 'ninja' ? /^\[\d+\/\d+\] AGENT /gm : /^rule agent:/gm;
  return { sure: (text.match(re) ?? []).length, may: 0 };
}

/** Share of all CPUs busy over the next MS milliseconds (between cases nothing of ours runs: that is other work). */
function cpuBusy(ms = 1000) {
  const sample = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const b = sample();
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
}

/** Wait (up to WAIT_QUIET s) until the machine is quiet; returns the last background CPU share measured. */
function waitQuiet() {
  const t0 = Date.now();
  let busy = cpuBusy();
  while (busy > 0.25 && Date.now() - t0 < WAIT_QUIET * 1000) busy = cpuBusy();
  return busy;
}

/** Statistics of a sample of wall times. */
function stats(times, source) {
  const t = [...times].sort((a, b) => a - b);
  const mid = t.length >> 1;
  const median = t.length % 2 ? t[mid] : (t[mid - 1] + t[mid]) / 2;
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  return { median, min: t[0], max: t[t.length - 1], mean, n: t.length, times, source };
}
const checkOnly = (wall) => stats([wall], 'check run only (under GNU time)');
/** Few timed runs (a slow case): the check run, which had the same preparation, counts as one more sample. */
const withCheckRun = (h, wall) => stats([wall, ...h.times], `check run + ${h.n} hyperfine run(s)`);

const mutCmd = (action, ws) => (action ? `${NODE} ${MUTATE} ${action} ${ws}` : null);

// ---------------------------------------------------------------- measuring

const results = { meta: {}, results: [] };
const find = (tool, n, id) => results.results.find((r) => r.tool === tool && r.n === n && r.case === id);

/** A prediction of one run's wall time, from the same tool and case at a smaller N (linear), or this N's cold build. */
function predict(tool, n, c) {
  const cold = find(tool, n, 'a');
  // intelligence edited: a full rebuild, as long as this N's cold build
  if (c.id === 'e' && cold?.timing) return cold.timing.median;
  const prev = results.results
    .filter((r) => r.tool === tool && r.case === c.id && r.n < n && r.timing)
    .sort((x, y) => y.n - x.n)[0];
  if (!prev) return null;
  // from a smaller N: scaled as this tool's cold build scaled when both are known (fixed costs), else linearly
  const coldPrev = find(tool, prev.n, 'a');
  const factor = c.id !== 'a' && cold?.timing && coldPrev?.timing ? cold.timing.median / coldPrev.timing.median : n / prev.n;
  return prev.timing.median * factor;
}

async function measureCase(tool, n, ws, c, spec, logDir) {
  const nb = batches(n);
  const cmd = spec[c.cmd];
  const name = `${tool}-${n}-${c.id}`;
  const rec = {
    tool, n, batches: nb, case: c.id, title: c.title, command: cmd,
    prepare: c.prepare ? `node bench/lib/mutate.mjs ${c.prepare} WS` : null,
    minimal: c.minimal(nb), load: os.loadavg()[0],
  };
  rec.bgBusy = waitQuiet();
  const est = predict(tool, n, c);
  if (est !== null && ((c.id === 'a' && est > TIMEOUT) || (c.id !== 'a' && est > CAP))) {
    rec.skipped = `predicted ≈ ${fmt(est)} s a run (limit ${c.id === 'a' ? TIMEOUT : CAP} s)`;
    return rec;
  }
  const t0 = Date.now();
  // 1. check run
  if (c.prepare) mutate(c.prepare, ws);
  let off = ranOffset(ws);
  const chk = await run(ws, cmd, path.join(logDir, `${name}.log`));
  let ran = ranSince(ws, off);
  off = ran.offset;
  rec.check = { wall: chk.wall, code: chk.code, rssKb: chk.rssKb };
  rec.jobs = ran.lines.length;
  if (chk.timedOut || chk.code !== 0) {
    rec.error = chk.timedOut ? `stopped after ${TIMEOUT} s` : `exit ${chk.code} (log: ${path.relative(here, path.join(logDir, `${name}.log`))})`;
    return rec;
  }
  const mid = editedSeed(n).batch;
  const chain = PHASES.map((p) => `${p}#${mid}`);
  if (c.chain && !c.dry) rec.chainOk = ran.lines.length === 3 && chain.every((t) => ran.lines.includes(t));
  if (c.dry) {
    let text = readFileSync(path.join(logDir, `${name}.log`), 'utf8');
    if (spec.dryJson) {
      const j = await run(ws, spec.dryJson, path.join(logDir, `${name}.json.log`));
      text = readFileSync(path.join(logDir, `${name}.json.log`), 'utf8');
      if (j.code !== 0) rec.error = `dry run --json: exit ${j.code}`;
    }
    rec.says = parseDry(tool, text);
  }
  // 2. timed runs
  const runs = Math.min(maxRuns(c.id, n), Math.floor(BUDGET / Math.max(chk.wall, 0.001)));
  if (runs >= 1) {
    const h = await runHyperfine(ws, name, cmd, runs, mutCmd(c.prepare, ws));
    ran = ranSince(ws, off);
    off = ran.offset;
    if (h.error) rec.error = h.error;
    else {
      rec.timing = runs < 3 ? withCheckRun(h, chk.wall) : h;
      rec.jobsTimedAvg = ran.lines.length / runs;
    }
  }
  if (!rec.timing && !rec.error) rec.timing = checkOnly(chk.wall);
  // 3. dry run: what does the real build then run? (also puts the workspace back in a built state)
  if (c.dry) {
    const b = await run(ws, spec.build, path.join(logDir, `${name}.after.log`));
    ran = ranSince(ws, off);
    rec.realAfter = ran.lines.length;
    rec.realAfterChainOk = ran.lines.length === 3 && chain.every((t) => ran.lines.includes(t));
    if (b.code !== 0) rec.error = `build after the dry run: exit ${b.code}`;
  }
  rec.caseWall = (Date.now() - t0) / 1000;
  return rec;
}

async function measureTool(tool, n) {
  const spec = TOOLS[tool];
  if (spec.maxN && n > spec.maxN) {
    results.results.push({ tool, n, case: '*', skipped: `default scheduler measured at N ≤ ${spec.maxN} only` });
    return;
  }
  const ws = path.join(WSROOT, `N${n}`, tool);
  const logDir = path.join(WSROOT, `N${n}`, 'logs');
  mkdirSync(logDir, { recursive: true });
  generate(ws, n, tool);
  if (tool === 'cf') ensureCf();
  let dead = null;
  for (const c of caseList) {
    if (dead) {
      results.results.push({ tool, n, batches: batches(n), case: c.id, title: c.title, minimal: c.minimal(batches(n)), skipped: dead });
      continue;
    }
    const rec = await measureCase(tool, n, ws, c, spec, logDir);
    results.results.push(rec);
    save();
    if (rec.skipped || rec.error) {
      log(`  ${tool.padEnd(16)} ${c.id}  ${rec.skipped ? `skipped: ${rec.skipped}` : `ERROR ${rec.error}`}`);
      if (c.id === 'a' || rec.error) dead = `not measured: case ${c.id} ${rec.skipped ? 'was skipped' : 'failed'}`;
      continue;
    }
    const t = rec.timing;
    log(`  ${tool.padEnd(16)} ${c.id}  ${fmt(t.median)} s (${fmt(t.min)}–${fmt(t.max)}, n=${t.n})  rss ${rec.check.rssKb ? (rec.check.rssKb / 1024).toFixed(0) : '?'} MB  jobs ${rec.jobs}/${rec.minimal}` +
      (rec.says ? `  says ${rec.says.sure}${rec.says.may ? `+${rec.says.may} may` : ''}, real ${rec.realAfter}` : '') +
      (rec.jobsTimedAvg !== undefined && rec.jobsTimedAvg !== rec.jobs ? `  (timed runs: ${rec.jobsTimedAvg.toFixed(1)} jobs avg)` : '') +
      `  [${rec.caseWall.toFixed(0)} s]`);
  }
  if (!dead) {
    const v = verifyOutputs(ws);
    results.results.push({ tool, n, case: 'verify', ok: v === null, message: v });
    log(`  ${tool.padEnd(16)} outputs == from-scratch computation: ${v === null ? 'yes' : `NO: ${v}`}`);
  }
}

async function measureFloor(n) {
  const ws = path.join(WSROOT, `N${n}`, 'floor');
  const logDir = path.join(WSROOT, `N${n}`, 'logs');
  mkdirSync(logDir, { recursive: true });
  generate(ws, n, 'floor');
  for (const [id, cmd, prepare, want] of [
    ['serial', 'sh recipes/serial.sh', 'clean', n <= 1000 ? 3 : 1],
    ['parallel', 'sh recipes/parallel.sh', 'clean', n <= 1000 ? 3 : 1],
    ['one', 'sh recipes/one.sh', null, QUICK ? 5 : 20],
  ]) {
    const bgBusy = waitQuiet();
    if (prepare) mutate(prepare, ws);
    const chk = await run(ws, cmd, path.join(logDir, `floor-${n}-${id}.log`));
    const rec = { tool: 'floor', n, batches: batches(n), case: id, command: cmd, check: { wall: chk.wall, rssKb: chk.rssKb, code: chk.code }, load: os.loadavg()[0], bgBusy };
    if (chk.code !== 0) rec.error = `exit ${chk.code}`;
    else {
      const runs = Math.min(want, Math.floor(BUDGET / Math.max(chk.wall, 0.001)));
      const h = runs >= 1 ? await runHyperfine(ws, `floor-${n}-${id}`, cmd, runs, mutCmd(prepare, ws)) : null;
      if (h?.error) rec.error = h.error;
      rec.timing = h && !h.error ? (runs < 3 ? withCheckRun(h, chk.wall) : h) : checkOnly(chk.wall);
    }
    if (id !== 'one' && !rec.error) {
      const v = verifyOutputs(ws);
      rec.outputsOk = v === null;
      if (v) rec.message = v;
    }
    results.results.push(rec);
    log(`  floor            ${id.padEnd(6)} ${rec.timing ? `${fmt(rec.timing.median)} s (n=${rec.timing.n})` : rec.error}`);
  }
}

/** The built file bin/cf.js loads (dist/…). */
function cfEntry() {
  const m = readFileSync(CF, 'utf8').match(/from\s+['"](\.\.\/dist\/[^'"]+)['"]/);
  return m ? path.resolve(path.dirname(CF), m[1]) : null;
}
const cfWorks = () => spawnSync(NODE, [CF, '--version'], { stdio: 'ignore' }).status === 0;

/** cf must start: wait up to 60 s (someone may be rebuilding dist/), then `npm run build` once. */
function ensureCf() {
  for (let i = 0; i < 30 && !cfWorks(); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
  if (cfWorks()) return;
  log('cf does not start (dist/ missing?): npm run build');
  execSync('npm run build', { cwd: ROOT, stdio: 'inherit' });
}

function versions() {
  const cfDist = cfEntry() ?? path.join(ROOT, 'dist');
  const newestSrc = sh(`find ${ROOT}/src -name '*.ts' -printf '%T@\\n' | sort -n | tail -1`);
  const distTime = existsSync(cfDist) ? statSync(cfDist).mtimeMs / 1000 : null;
  return {
    cf: `${sh(`${NODE} ${CF} --version`)} (git ${sh(`git -C ${ROOT} rev-parse --short HEAD`)}, ${sh(`git -C ${ROOT} status --porcelain -- src | wc -l`)} uncommitted file(s) in src/; ${path.relative(ROOT, cfDist)} built ${distTime ? new Date(distTime * 1000).toISOString().slice(0, 16) + 'Z' : 'n/a'}${distTime && Number(newestSrc) > distTime + 1 ? ', OLDER than the newest src/ file' : ''})`,
    node: process.version,
    make: sh('make --version | head -1'),
    ninja: sh('ninja --version'),
    snakemake: `${sh('snakemake --version')} (${sh("$(head -1 $(command -v snakemake) | cut -c3-) --version")}; ILP scheduler: python3-pulp ${sh("dpkg-query -W -f='${Version}' python3-pulp")}, coinor-cbc ${sh("dpkg-query -W -f='${Version}' coinor-cbc")})`,
    mawk: sh("mawk -W version 2>&1 | head -1"),
    grep: sh('grep --version | head -1'),
    hyperfine: sh('hyperfine --version'),
    'GNU time': sh("dpkg-query -W -f='${Version}' time"),
    kernel: sh('uname -sr'),
    cpu: `${sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")}, ${os.cpus().length} CPUs`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    filesystem: sh(`df -T ${here} | tail -1 | awk '{print $2}'`),
  };
}

/**
 * NODE_EXTRA_CA_CERTS makes every Node process parse a certificate bundle as it starts: on the machines
 * this was written on it is set for the whole system and costs each start about 60 ms, which no build tool
 * but cf pays (make, ninja and Snakemake are not Node). Every tool is measured without it, as on a machine
 * that does not set it; what a Node start costs with and without it is measured and reported.
 */
function machineEnv() {
  const value = process.env.NODE_EXTRA_CA_CERTS;
  if (!value) return null;
  const time = (envPrefix) => {
    const out = path.join(RAW, 'node-start.json');
    spawnSync('hyperfine', ['-N', '-w', '3', '-r', '20', '--style', 'none', '--export-json', out, `${envPrefix}${NODE} -e 0`]);
    return JSON.parse(readFileSync(out, 'utf8')).results[0].median;
  };
  const withIt = time('');
  const without = time('env -u NODE_EXTRA_CA_CERTS ');
  delete process.env.NODE_EXTRA_CA_CERTS;
  log(`NODE_EXTRA_CA_CERTS is set (a node start: ${(withIt * 1000).toFixed(0)} ms with it, ${(without * 1000).toFixed(0)} ms without): every tool runs without it`);
  return { removed: { NODE_EXTRA_CA_CERTS: value }, nodeStartWith: withIt, nodeStartWithout: without };
}

function save() {
  mkdirSync(RES, { recursive: true });
  writeFileSync(RESULTS_JSON, `${JSON.stringify(results, null, 1)}\n`);
}

async function main() {
  for (const t of ['make', 'ninja', 'snakemake', 'hyperfine', 'mawk', '/usr/bin/time']) {
    if (sh(`command -v ${t}`) === 'n/a') {
      log(`missing: ${t}. apt-get install -y make ninja-build snakemake hyperfine time mawk`);
      process.exit(2);
    }
  }
  ensureCf();
  mkdirSync(RAW, { recursive: true });
  const env = machineEnv();
  const t0 = Date.now();
  const old = opt.merge && existsSync(RESULTS_JSON) ? JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) : null;
  if (old) {
    // --merge: keep the earlier results of everything not measured again now
    const ids = new Set([...caseList.map((c) => c.id), 'verify', '*']);
    results.results = old.results.filter((r) => !(NS.includes(r.n) && toolList.includes(r.tool) && (r.tool === 'floor' || ids.has(r.case))));
  }
  const meta = {
    date: new Date().toISOString(),
    argv: process.argv.slice(2).join(' '),
    quick: QUICK, ns: NS, tools: toolList, cases: caseList.map((c) => c.id),
    budget: BUDGET, timeout: TIMEOUT, cap: CAP, waitQuiet: WAIT_QUIET,
    versions: versions(),
    ...(env ? { env } : {}),
    cases: Object.fromEntries(CASES.map((c) => [c.id, c.title])),
    commands: Object.fromEntries(Object.entries(TOOLS).map(([t, s]) => [t, { build: s.build.replace(NODE, 'node').replace(ROOT + '/', ''), dry: s.dry.replace(NODE, 'node').replace(ROOT + '/', '') }])),
  };
  // --merge keeps the first run's description and lists what was measured again, when, and with which cf
  // (the first run's own duration stays its own; each merged run records how long it took)
  const mergedRun = { date: meta.date, argv: meta.argv, cf: meta.versions.cf };
  results.meta = old ? { ...old.meta, merged: [...(old.meta.merged ?? []), mergedRun] } : meta;
  for (const n of NS) {
    log(`== N=${n} (${batches(n)} batches: ${3 * batches(n)} batch jobs + 3 merges)`);
    if (toolList.includes('floor')) await measureFloor(n);
    save();
    for (const tool of toolList.filter((t) => t !== 'floor')) {
      await measureTool(tool, n);
      save();
    }
  }
  const wall = (Date.now() - t0) / 1000;
  if (old) mergedRun.wall = wall;
  else results.meta.totalWall = wall;
  save();
  const md = renderReport(results);
  writeFileSync(RESULTS_MD, md);
  console.log(md);
  log(`total ${wall.toFixed(0)} s; wrote ${path.relative(process.cwd(), RESULTS_MD)} and ${path.relative(process.cwd(), RESULTS_JSON)}`);
}

await main();
