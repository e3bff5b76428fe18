import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { events, FAKE_AGENT, Project } from './helpers/project.js';

/*
 * What agents and validators hand back, through the real CLI: keys they print, errors they die with, bytes
 * that are not UTF-8 and answers over max_output.
 */

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

async function everyFile(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

const KEYS = { MY_API_KEY: 'sk-my-0123456789abcdef', CLAUDE_KEY: 'ck-claude-9876543210' };

// Attempt 1 dies with a key on stderr; attempt 2 answers with keys in its items, which the validator
// rejects naming a key; attempt 3 is taken. Keys also go to stdout and stderr on every attempt.
const LEAKY_AGENT = `import { readFileSync, writeFileSync } from 'node:fs';
const { MY_API_KEY: a, CLAUDE_KEY: b, CF_ATTEMPT } = process.env;
console.log('keys', a, b);
console.error('keys', a, b);
if (CF_ATTEMPT === '1') {
  console.error('Error: the model refused key ' + a);
  process.exit(1);
}
const input = JSON.parse(readFileSync(process.env.CF_INPUT_FILE, 'utf8'));
writeFileSync(process.env.CF_OUTPUT_FILE, JSON.stringify(input.map((it) => ({ id: it.id, text: it.text + ' ' + a + ' ' + b }))));
`;
const LEAKY_VALIDATOR = `const { MY_API_KEY: a, CLAUDE_KEY: b, CF_ATTEMPT, CF_PHASE } = process.env;
if (CF_PHASE === 'legos') {
  console.error('debug: ' + b);
  console.error('Error: cannot reach the checker with ' + a);
  process.exit(1);
}
if (CF_ATTEMPT === '2') {
  console.log('S0001: leaked ' + a);
  process.exit(1);
}
`;

describe('secrets printed by agents and validators', () => {
  it('never reach .cf/, the outputs or what cf prints (the env vars named like keys, and a runner api_key_env)', async () => {
    p = await Project.create({
      seeds: 4,
      pipeline: `seeds: seeds.json
runners:
  leaky: {command: [node, agent.mjs]}
  claude: {kind: anthropic, model: claude-haiku-4-5, api_key_env: CLAUDE_KEY}
phases:
  - {name: pairs, intelligence: prompts/pairs.md, runner: leaky, output: out/pairs.json, validate: [node, check.mjs]}
  - {name: legos, from: seeds, intelligence: prompts/legos.md, runner: leaky, output: out/legos.json, validate: [node, check.mjs], items: independent}
`,
      files: { 'agent.mjs': LEAKY_AGENT, 'check.mjs': LEAKY_VALIDATOR },
    });
    const build = await p.cf(['build', '--json'], KEYS);
    expect(build.code, build.stdout + build.stderr).toBe(1);
    const errors = events(build.stdout).flatMap((e) => (e.errors as Array<{ message: string }> | undefined) ?? []).map((e) => e.message.split('\n')[0]);
    expect(errors).toEqual(
      expect.arrayContaining([
        'the agent exited with code 1: Error: the model refused key [secret $MY_API_KEY]',
        'leaked [secret $MY_API_KEY]',
        'validator exited with code 1 without printing an error: Error: cannot reach the checker with [secret $MY_API_KEY]',
      ]),
    );
    expect(JSON.parse(await p.read('out/pairs.json'))[0].text).toBe('seed number 1 [secret $MY_API_KEY] [secret $CLAUDE_KEY]');
    const status = await p.cf(['status'], KEYS);
    expect(status.stdout).toContain('validator exited with code 1 without printing an error: Error: cannot reach the checker with [secret $MY_API_KEY]');
    const printed = [build, status].map((r) => r.stdout + r.stderr).join('\n');
    const files = await everyFile(p.dir);
    expect(files.some((f) => f.includes(`${path.sep}.cf${path.sep}runs${path.sep}`))).toBe(true);
    for (const key of Object.values(KEYS)) {
      expect(printed).not.toContain(key);
      for (const f of files) expect(await readFile(f, 'utf8'), f).not.toContain(key);
    }
  });
});

describe("a failing agent or validator is told by its stderr's error line", () => {
  it('a Node script that cannot find a module, a validator that throws', async () => {
    p = await Project.create({
      seeds: 2,
      pipeline: `seeds: seeds.json
runners:
  broken: {command: [node, agent.cjs]}
  fake: {command: [node, ${JSON.stringify(FAKE_AGENT)}]}
phases:
  - {name: pairs, intelligence: prompts/pairs.md, runner: broken, output: out/pairs.json, attempts: 1}
  - {name: legos, from: seeds, intelligence: prompts/legos.md, runner: fake, output: out/legos.json, validate: [node, check.mjs]}
`,
      files: {
        'agent.cjs': "require('./lib/model-client');\n",
        'check.mjs': "import { readFileSync } from 'node:fs';\nJSON.parse(readFileSync('lexicon.json', 'utf8'));\n",
        'lexicon.json': '{"words": [',
      },
    });
    const r = await p.cf(['build']);
    expect(r.code).toBe(1);
    // The first line of each failure (what reports show) says what went wrong.
    expect(r.stderr).toContain("    the agent exited with code 1: Error: Cannot find module './lib/model-client'\n");
    expect(r.stderr).toMatch(/ {4}validator exited with code 1 without printing an error: SyntaxError: .*JSON.* \(at file:\/\/.*check\.mjs:2:\d+\)\n/);
    // The end of stderr stays with the attempt's errors.
    const errors = await p.read('.cf/runs/pairs/1/attempt-1/errors.txt');
    expect(errors).toContain('code: \'MODULE_NOT_FOUND\'');
  });
});

// Attempt 1 of batch 1 writes Latin-1 (not UTF-8); attempt 1 of batch 2 prints an answer over max_output
// on stdout. Attempt 2 answers well.
const SLOPPY_AGENT = `import { readFileSync, writeFileSync } from 'node:fs';
const { CF_ATTEMPT, CF_BATCH, CF_INPUT_FILE, CF_OUTPUT_FILE } = process.env;
const input = JSON.parse(readFileSync(CF_INPUT_FILE, 'utf8'));
const answer = JSON.stringify(input.map((it) => ({ id: it.id, text: it.text + ' café' })));
if (CF_ATTEMPT === '1' && CF_BATCH === '1') writeFileSync(CF_OUTPUT_FILE, Buffer.from(answer, 'latin1'));
else if (CF_ATTEMPT === '1') process.stdout.write(answer + ' '.repeat(2000));
else writeFileSync(CF_OUTPUT_FILE, answer);
`;

describe('answers that are not UTF-8 or over max_output', () => {
  it('are invalid outputs, retried, in batch and independent phases', async () => {
    p = await Project.create({
      seeds: 4,
      pipeline: `seeds: seeds.json
batch_size: 2
runners:
  sloppy: {command: [node, agent.mjs]}
phases:
  - {name: pairs, intelligence: prompts/pairs.md, runner: sloppy, output: out/pairs.json, max_output: 1kB}
  - {name: legos, from: seeds, intelligence: prompts/legos.md, runner: sloppy, output: out/legos.json, max_output: 1kB, items: independent}
`,
      files: { 'agent.mjs': SLOPPY_AGENT },
    });
    const r = await p.cf(['build', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const phase of ['pairs', 'legos']) {
      const retried = events(r.stdout).filter((e) => e.event === 'retried' && e.phase === phase);
      const messages = retried.flatMap((e) => (e.errors as Array<{ message: string; source: string }>).map((x) => `${x.source}: ${x.message}`)).sort();
      expect(messages, phase).toEqual([
        expect.stringMatching(new RegExp(`^output: the output \\(on stdout\\) is 2,\\d{3} bytes, over max_output 1 kB for phase ${phase}$`)),
        expect.stringMatching(/^output: the output is not valid UTF-8 at byte \d+ \(line 1\): 0xe9; write the output as UTF-8$/),
      ]);
      const out = JSON.parse(await p.read(`out/${phase}.json`)) as Array<{ text: string }>;
      expect(out.map((it) => it.text), phase).toEqual([1, 2, 3, 4].map((i) => `seed number ${i} café`));
    }
  });
});
