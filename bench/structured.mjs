#!/usr/bin/env node
// Structured outputs, measured: one phase with an item schema built by the real cf (bin/cf.js) against the
// tests' fake API (test/helpers/fakeApi.ts, bundled here with esbuild) whose stand-in model
// (test/helpers/schemaModel.ts) fills the schema it is sent with deterministic values obeying it, and
// without one answers as a weak model: the right items in a ```json block, each with a chance (--rate) of
// one defect (a property missing, a number as a string or out of range, an extra property, a tag not in
// the enum), decided by a hash of the item and the prompt. The same workload with every `structured:`
// mode of the openai and anthropic runners: attempts, tokens and dollars per batch, batches failed, for
// each defect rate. The fake counts a schema as input and as part of the cached prefix (OpenAI's and
// Anthropic's APIs), except for `loose`, a local server's grammar (llama.cpp, vLLM, Ollama), which is not
// in the prompt.
// Usage: node bench/structured.mjs [--seeds 100] [--batch 20] [--rates 0,0.05,0.2] [--attempts 5].
// Needs `npm run build`. Prints Markdown tables (bench/README.md, "structured.mjs").
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const CF = path.join(root, 'bin', 'cf.js');
const { values: opt } = parseArgs({
  options: { seeds: { type: 'string', default: '100' }, batch: { type: 'string', default: '20' }, rates: { type: 'string', default: '0,0.05,0.2' }, attempts: { type: 'string', default: '5' } },
});
const N = Number(opt.seeds);
const BATCH = Number(opt.batch);
const BATCHES = Math.ceil(N / BATCH);

// The fake API and its stand-in model, as the tests use them.
const tmp = mkdtempSync(path.join(tmpdir(), 'cf-structured-'));
await build({
  entryPoints: { fakeApi: path.join(root, 'test/helpers/fakeApi.ts'), schemaModel: path.join(root, 'test/helpers/schemaModel.ts') },
  bundle: true,
  format: 'esm',
  platform: 'node',
  outdir: tmp,
  logLevel: 'warning',
});
const { startFakeApi } = await import(pathToFileURL(path.join(tmp, 'fakeApi.js')).href);
const { standInModel } = await import(pathToFileURL(path.join(tmp, 'schemaModel.js')).href);

const SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    known: { type: 'string', minLength: 1 },
    target: { type: 'string', minLength: 1 },
    level: { type: 'integer', minimum: 1, maximum: 5 },
    tags: { type: 'array', items: { enum: ['noun', 'verb', 'phrase'] }, minItems: 1 },
  },
  required: ['id', 'known', 'target', 'level', 'tags'],
  additionalProperties: false,
};
const weak = {
  item: (it) => ({ id: it.id, known: it.text, target: `${it.text} (es)`, level: 2, tags: ['phrase'] }),
  defects: [
    ({ target: _t, ...rest }) => rest,
    (it) => ({ ...it, level: String(it.level) }),
    (it) => ({ ...it, level: 7 }),
    (it) => ({ ...it, note: 'a remark' }),
    (it) => ({ ...it, tags: ['Phrase'] }),
  ],
  rate: 0,
};
const INTELLIGENCE = `# Seed pairs\n\n${'Translate each seed into Spanish, keeping its meaning and register; give its level (1-5) and its tags. '.repeat(60)}\n`;

const RUNS = [
  ['openai', 'off'],
  ['openai', 'strict'],
  ['openai', 'loose'],
  ['anthropic', 'off'],
  ['anthropic', 'format'],
  ['anthropic', 'tool'],
];

const api = await startFakeApi();
const tables = [];
try {
  for (const rate of opt.rates.split(',').map(Number)) {
  api.answer = standInModel({ ...weak, rate });
  const rows = [];
  tables.push({ rate, rows });
  for (const [kind, mode] of RUNS) {
    const dir = path.join(tmp, `${kind}-${mode}-${rate}`);
    mkdirSync(path.join(dir, 'prompts'), { recursive: true });
    const runner =
      kind === 'openai'
        ? `    kind: openai\n    model: gpt-4.1-mini\n    base_url: ${api.url}/v1\n`
        : `    kind: anthropic\n    model: claude-haiku-4-5\n    base_url: ${api.url}\n`;
    writeFileSync(
      path.join(dir, 'pipeline.yaml'),
      `seeds: seeds.json\nbatch_size: ${BATCH}\nprices:\n  gpt-4.1-mini: {input: 0.4, output: 1.6, cache_read: 0.1}\nrunners:\n  model:\n${runner}    max_tokens: 8000\n    structured: ${mode}\nphases:\n  - name: pairs\n    intelligence: prompts/pairs.md\n    runner: model\n    output: out/pairs.json\n    attempts: ${opt.attempts}\n    schema: schema.json\n`,
    );
    writeFileSync(path.join(dir, 'schema.json'), JSON.stringify(SCHEMA, null, 2));
    writeFileSync(path.join(dir, 'prompts', 'pairs.md'), INTELLIGENCE);
    writeFileSync(path.join(dir, 'seeds.json'), JSON.stringify(Array.from({ length: N }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: `seed sentence number ${i + 1}` }))));
    api.resetCache();
    api.schemaInPrompt = mode !== 'loose';
    const before = api.requests.length;
    let out;
    try {
      // Not execFileSync: the fake API answers from this process's event loop.
      ({ stdout: out } = await promisify(execFile)(process.execPath, [CF, 'build', '--json', '-j', '2'], { cwd: dir, env: { ...process.env, ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '' } }));
    } catch (e) {
      out = e.stdout; // exit 1: some batch failed
    }
    const events = out.trim().split('\n').map((l) => JSON.parse(l));
    const done = events.filter((e) => e.event === 'ran' || e.event === 'failed');
    const failed = done.filter((e) => e.event === 'failed').length;
    const summary = events.find((e) => e.event === 'summary' || e.summary)?.summary ?? events.at(-1);
    const u = summary.usage?.pairs ?? {};
    const input = (u.inputTokens ?? 0) + (u.cacheWriteTokens ?? 0) + (u.cacheReadTokens ?? 0);
    rows.push({
      runner: `${kind}, structured: ${mode}`,
      attempts: (done.reduce((s, e) => s + e.attempts, 0) / BATCHES).toFixed(2),
      failed: `${failed}/${BATCHES}`,
      input: Math.round(input / BATCHES),
      cached: Math.round((u.cacheReadTokens ?? 0) / BATCHES),
      output: Math.round((u.outputTokens ?? 0) / BATCHES),
      cost: u.costUsd !== undefined ? `$${(u.costUsd / BATCHES).toFixed(5)}` : '-',
      requests: api.requests.length - before,
    });
  }
  }
} finally {
  await api.close();
  rmSync(tmp, { recursive: true, force: true });
}

console.log(`${N} seeds, ${BATCHES} batches of ${BATCH}, attempts: ${opt.attempts}\n`);
for (const { rate, rows } of tables) {
  console.log(`Defect rate per item without a schema: ${rate}\n`);
  console.log('| runner | attempts / batch | batches failed | tokens in / batch | of which cached | tokens out / batch | $ / batch |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.runner} | ${r.attempts} | ${r.failed} | ${r.input} | ${r.cached} | ${r.output} | ${r.cost} |`);
  console.log('');
}
