#!/usr/bin/env node
// cf build --queue with 1, 2, 4, 8 cf worker processes on this machine, agents that sleep (so the CPUs are
// not what limits): wall time, speed-up against 1 worker, the coordinator's CPU per job, and Redis
// commands per job. Writes bench/WORKERS.md's measured table (the rest of that file is written by hand).
//
//   node bench/workers.mjs [--batches 40] [--sleep-ms 1000] [--workers 1,2,4,8]
//
// Each worker is `cf worker -j 1` in a checkout of its own (the same files), so N workers run N agents at
// once; the coordinator is `cf build --queue -j 64` in another checkout. Needs redis-server and npm run build.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cf = path.join(root, 'bin', 'cf.js');
const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const BATCHES = Number(arg('batches', '40'));
const SLEEP_MS = Number(arg('sleep-ms', '1000'));
const COUNTS = arg('workers', '1,2,4,8').split(',').map(Number);

const AGENT = `const fs = require('node:fs');
const input = JSON.parse(fs.readFileSync(process.env.CF_INPUT_FILE, 'utf8'));
setTimeout(() => fs.writeFileSync(process.env.CF_OUTPUT_FILE, JSON.stringify(input.map((it) => ({ id: it.id, text: 'x(' + it.text + ')' })))), ${SLEEP_MS});
`;

function checkout(dir) {
  mkdirSync(path.join(dir, 'prompts'), { recursive: true });
  writeFileSync(path.join(dir, 'agent.cjs'), AGENT);
  writeFileSync(path.join(dir, 'prompts', 'x.md'), '# X\n');
  writeFileSync(path.join(dir, 'seeds.json'), JSON.stringify(Array.from({ length: BATCHES * 5 }, (_, i) => ({ id: `S${String(i + 1).padStart(5, '0')}`, text: `seed ${i + 1}` }))));
  writeFileSync(path.join(dir, 'pipeline.yaml'), 'seeds: seeds.json\nbatch_size: 5\nrunners:\n  sleepy:\n    command: [node, agent.cjs]\nphases:\n  - name: x\n    intelligence: prompts/x.md\n    runner: sleepy\n    output: out/x.json\n');
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function until(child, text) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes(text)) resolve();
    });
    child.once('exit', () => reject(new Error(`exited before "${text}": ${out}`)));
  });
}

const redisCalls = (port) => {
  const info = execFileSync('redis-cli', ['-p', String(port), 'info', 'commandstats'], { encoding: 'utf8' });
  return [...info.matchAll(/calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
};

const base = mkdtempSync(path.join(tmpdir(), 'cf-workers-bench-'));
const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
await until(redis, 'Ready to accept connections');
const url = `redis://127.0.0.1:${port}`;
const rows = [];
try {
  for (const n of COUNTS) {
    execFileSync('redis-cli', ['-p', String(port), 'flushall']);
    execFileSync('redis-cli', ['-p', String(port), 'config', 'resetstat']);
    const coord = path.join(base, `c${n}`);
    rmSync(coord, { recursive: true, force: true });
    checkout(coord);
    const workers = [];
    for (let i = 0; i < n; i++) {
      const dir = path.join(base, `w${n}-${i}`);
      rmSync(dir, { recursive: true, force: true });
      checkout(dir);
      const w = spawn('node', [cf, 'worker', '--queue', url, '-j', '1', '--name', `w${i}`], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
      await until(w, 'waiting for jobs');
      workers.push(w);
    }
    const started = Date.now();
    execFileSync('node', [cf, 'build', '--queue', url, '-q'], { cwd: coord, stdio: ['ignore', 'ignore', 'inherit'] });
    const wall = (Date.now() - started) / 1000;
    rows.push({ n, wall });
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
    const calls = redisCalls(port);
    rows[rows.length - 1].redisPerJob = calls / BATCHES;
    process.stderr.write(`${n} worker(s): ${wall.toFixed(1)} s\n`);
  }
  // The coordinator's CPU per job: a build through the queue with workers that are already done (its cost
  // does not depend on how many workers there are): measured once more with 8 workers, under /usr/bin/time.
  const n = Math.max(...COUNTS);
  execFileSync('redis-cli', ['-p', String(port), 'flushall']);
  const coord = path.join(base, 'cpu');
  rmSync(coord, { recursive: true, force: true });
  checkout(coord);
  const workers = [];
  for (let i = 0; i < n; i++) {
    const dir = path.join(base, `cpu-w${i}`);
    rmSync(dir, { recursive: true, force: true });
    checkout(dir);
    const w = spawn('node', [cf, 'worker', '--queue', url, '-j', '1'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    await until(w, 'waiting for jobs');
    workers.push(w);
  }
  const timed = spawn('/usr/bin/time', ['-f', 'CPU %U %S', 'node', cf, 'build', '--queue', url, '-q'], { cwd: coord, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  timed.stderr.on('data', (d) => (err += d));
  await new Promise((r) => timed.once('exit', r));
  const [, user, sys] = /CPU ([\d.]+) ([\d.]+)/.exec(err) ?? [];
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  // The same coordinator's cost with nothing to run (start-up, planning): subtracted.
  const idle = spawn('/usr/bin/time', ['-f', 'CPU %U %S', 'node', cf, 'build', '-q', '-n'], { cwd: coord, stdio: ['ignore', 'pipe', 'pipe'] });
  let err2 = '';
  idle.stderr.on('data', (d) => (err2 += d));
  await new Promise((r) => idle.once('exit', r));
  const [, u2, s2] = /CPU ([\d.]+) ([\d.]+)/.exec(err2) ?? [];
  const perJobMs = ((Number(user) + Number(sys) - Number(u2) - Number(s2)) * 1000) / BATCHES;
  const one = rows.find((r) => r.n === 1)?.wall ?? rows[0].wall;
  const table = [
    `| workers | wall (s) | speed-up vs 1 | ideal (s) | Redis commands per job |`,
    `|---:|---:|---:|---:|---:|`,
    ...rows.map((r) => `| ${r.n} | ${r.wall.toFixed(1)} | ${(one / r.wall).toFixed(2)} | ${((BATCHES * SLEEP_MS) / 1000 / r.n).toFixed(1)} | ${r.redisPerJob.toFixed(0)} |`),
  ].join('\n');
  const summary = `${BATCHES} batches, agents sleeping ${SLEEP_MS} ms, each worker \`cf worker -j 1\` in its own checkout; coordinator CPU per job: ${perJobMs.toFixed(1)} ms (build ${(Number(user) + Number(sys)).toFixed(2)} s CPU minus a dry run's ${(Number(u2) + Number(s2)).toFixed(2)} s)`;
  process.stdout.write(`${summary}\n\n${table}\n`);
  const file = path.join(root, 'bench', 'WORKERS.md');
  const md = readFileSync(file, 'utf8');
  writeFileSync(file, md.replace(/<!-- measured -->[\s\S]*<!-- \/measured -->/, `<!-- measured -->\n${summary}\n\n${table}\n<!-- /measured -->`));
} finally {
  redis.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
}
