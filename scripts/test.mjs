#!/usr/bin/env node
// `npm test`: the bundle, the import rules and the tests, each failing the run.
//
// The bundle comes before the tests (the CLI tests run bin/cf.js). The import check runs beside the bundle
// and the tests; its output is printed after the tests'. The type check is `npm run typecheck`, a step of
// its own in CI (.ci/run) and in an editor: on a 2-core machine the suite keeps both cores busy, and tsc's
// 20 s of CPU (a clean clone) would add some 10 s to every run of it. Arguments are passed to vitest
// (`npm test -- test/build.cli.test.ts`).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

const started = [];

/** Runs a command in the repository; its output printed as it comes (inherit) or kept to print later. */
function run(label, command, args, { inherit = false } = {}) {
  const child = spawn(command, args, { cwd: root, stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  return new Promise((resolve) => {
    child.on('error', (e) => resolve({ label, code: 1, output: `${label}: ${e.message}\n` }));
    child.on('close', (code, signal) => resolve({ label, code: code ?? (signal ? 1 : 0), output }));
  });
}

// The checks need no bundle: they start with it.
const checks = [run('check:imports', process.execPath, [path.join(root, 'scripts', 'check-imports.mjs')])];
const bundle = await run('build', process.execPath, [path.join(root, 'scripts', 'bundle.mjs')], { inherit: true });
if (bundle.code !== 0) {
  for (const child of started) child.kill();
  process.exit(bundle.code);
}
const tests = await run('vitest', bin('vitest'), ['run', ...process.argv.slice(2)], { inherit: true });

const failed = tests.code !== 0 ? ['the tests'] : [];
for (const c of await Promise.all(checks)) {
  if (c.output.trim()) process.stdout.write(`\n> ${c.label}\n${c.output}`);
  if (c.code !== 0) failed.push(c.label);
}
if (failed.length) {
  process.stderr.write(`\nnpm test: failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write('\nnpm test: the tests and check:imports passed (the type check: npm run typecheck)\n');
