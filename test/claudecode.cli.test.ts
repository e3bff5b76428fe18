import { chmod, copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { events, Project, REPO, targetsOf } from './helpers/project.js';

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

const PIPELINE = `seeds: seeds.json
batch_size: 10
runners:
  claude:
    preset: claude-code
    model: claude-sonnet-4-5
    args: [--max-turns, "3"]
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: claude
    output: out/pairs.json
`;

async function withFakeClaude(): Promise<{ project: Project; env: Record<string, string> }> {
  const project = await Project.create({ seeds: 20, pipeline: PIPELINE });
  await mkdir(project.file('bin'));
  await copyFile(path.join(REPO, 'test/fixtures/fake-claude.mjs'), project.file('bin/claude'));
  await chmod(project.file('bin/claude'), 0o755);
  return { project, env: { PATH: `${project.file('bin')}:${process.env.PATH}`, FAKE_CLAUDE_LOG: project.file('claude.log') } };
}

describe('preset: claude-code (a fake claude binary)', () => {
  it('runs claude -p headless per batch in its own directory and reads the answer, tokens and cost from its JSON', async () => {
    const { project, env } = await withFakeClaude();
    p = project;
    const r = await p.cf(['build', '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const calls = (await p.read('claude.log')).trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; cwd: string });
    expect(calls).toHaveLength(2);
    // Its output streamed; no transcript; one system prompt for all batches; writes confined to the attempt's directory (no --add-dir).
    expect(calls[0]!.argv).toEqual([
      '-p',
      '--no-session-persistence',
      '--exclude-dynamic-system-prompt-sections',
      '--allowedTools',
      `Read(/${p.dir}/**)`,
      '--output-format',
      'stream-json',
      '--verbose',
      '--include-partial-messages',
      '--forward-subagent-text',
      '--permission-mode',
      'acceptEdits',
      '--model',
      'claude-sonnet-4-5',
      '--max-turns',
      '3',
    ]);
    expect(calls.map((c) => path.relative(p!.dir, c.cwd)).sort()).toEqual(['.cf/runs/pairs/1/attempt-1', '.cf/runs/pairs/2/attempt-1']);
    const out = JSON.parse(await p.read('out/pairs.json')) as Array<{ id: string; text: string }>;
    expect(out[0]).toEqual({ id: 'S0001', text: 'claude(seed number 1)' });
    const summary = events(r.stdout).at(-1)! as { usage: Record<string, { costUsd: number; cacheWriteTokens: number }> };
    expect(summary.usage.pairs).toMatchObject({ attempts: 2, costUsd: 0.025, cacheWriteTokens: 4000 });
    const status = await p.cf(['status']);
    expect(status.stdout).toMatch(/pairs\s+4\.2k tokens in \(0% from cache\), 600 out, \$0\.0250/);
  });

  it('an error envelope is a failed attempt with its message; --max-cost stops before the budget is exceeded', async () => {
    const { project, env } = await withFakeClaude();
    p = project;
    const bad = await p.cf(['build', 'pairs#1'], { ...env, FAKE_CLAUDE_ERROR: '1' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('I could not do that.');
    await p.cf(['clean']);
    await readFile(p.file('claude.log')).then(() => p!.write('claude.log', ''));
    // One attempt costs $0.0125: a $0.02 budget allows one, then stops.
    const capped = await p.cf(['build', '-j', '1', '--max-cost', '0.02'], env);
    expect(capped.code).toBe(1);
    expect(capped.stdout).toContain('--max-cost $0.0200 reached: 1 batch not started; nothing built was lost');
    const more = await p.cf(['build', '--max-cost', '1'], env);
    expect(more.code).toBe(0);
    expect(more.stdout).toContain('1 ran, 1 fresh');
    const nothingLeft = await p.cf(['build', '--max-cost', '1'], env);
    expect(nothingLeft.code).toBe(0);
    expect(targetsOf(await p.takeRuns())).toEqual([]);
  });

  it('any CLI agent may print its answer on stdout (whole, or the last fenced json block) instead of writing CF_OUTPUT_FILE', async () => {
    const agent = `const fs = require('fs');
const items = JSON.parse(fs.readFileSync(process.env.CF_INPUT_FILE, 'utf8'));
console.log('Thinking out loud first.');
console.log('\x60\x60\x60json');
console.log(JSON.stringify(items.map((it) => ({ id: it.id, said: true }))));
console.log('\x60\x60\x60');
`;
    p = await Project.create({
      seeds: 12,
      pipeline: PIPELINE.replace(/  claude:[\s\S]*?phases:/, '  claude:\n    command: [node, talk.cjs]\nphases:'),
      files: { 'talk.cjs': agent },
    });
    const r = await p.cf(['build']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(await p.read('out/pairs.json'))).toEqual(Array.from({ length: 12 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, said: true })));
  });
});
