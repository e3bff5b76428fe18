import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_AGENT, Project, targetsOf } from './helpers/project.js';

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

const onePhase = (seeds: string, extra = ''): string => `seeds: ${seeds}
batch_size: 2
runners:
  fake:
    command: [node, ${JSON.stringify(FAKE_AGENT)}]
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: fake
    output: out/pairs.json
${extra}`;

// .txt and .jsonl seeds are read through the Workspace in memory (workspace.build.test.ts). Here: command
// validators, which are processes.
describe('the validate command', () => {
  it('its lines are errors attributed to items, carried into the retry prompt', async () => {
    // Rejects S0002 and S0003 on attempt 1.
    const check = `const fs = require('fs');
const out = JSON.parse(fs.readFileSync(process.env.CF_OUTPUT_FILE, 'utf8'));
const bad = process.env.CF_ATTEMPT === '1' ? out.filter((it) => it.id === 'S0002' || it.id === 'S0003') : [];
for (const it of bad) console.log(it.id + ': needs more enthusiasm');
process.exit(bad.length ? 1 : 0);
`;
    p = await Project.create({ pipeline: onePhase('seeds.json', '    validate: [node, check.cjs]\n'), seeds: 4, files: { 'check.cjs': check } });
    const r = await p.cf(['build', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const runs = await p.takeRuns();
    expect(runs.filter((x) => x.batch === 1).map((x) => x.attempt)).toEqual([1, 2]);
    expect(runs.filter((x) => x.batch === 2).map((x) => x.attempt)).toEqual([1, 2]);
    expect(r.stdout).toContain('"errors":[{"attempt":1,"source":"validator","item":"S0002","message":"needs more enthusiasm"}]');
    expect(await p.read('.cf/runs/pairs/1/attempt-2/prompt.md')).toContain('- S0002: needs more enthusiasm');
    // Editing the validator script changes the key: the batches run again.
    await p.write('check.cjs', `${check}\n// stricter now\n`);
    expect((await p.cf(['explain', 'pairs#1'])).stdout).toContain('validator file check.cjs changed');
  });

  it('a validator that fails without printing an error ends the batch at once (no paid retries)', async () => {
    p = await Project.create({ pipeline: onePhase('seeds.json', '    validate: [node, -e, "process.exit(3)"]\n'), seeds: 2 });
    const r = await p.cf(['build']);
    expect(r.code).toBe(1);
    expect(targetsOf(await p.takeRuns())).toEqual(['pairs#1']);
    expect(r.stderr).toContain('validator exited with code 3 without printing an error');
  });
});
