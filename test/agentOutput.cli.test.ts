import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_AGENT, Project } from './helpers/project.js';

/*
 * What agents and validators hand back, through the real CLI: errors they die with.
 */

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
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
    expect(r.stdout).toContain("    the agent exited with code 1: Error: Cannot find module './lib/model-client'\n");
    expect(r.stdout).toMatch(/ {4}validator exited with code 1 without printing an error: SyntaxError: .*JSON.* \(at file:\/\/.*check\.mjs:2:\d+\)\n/);
    // The end of stderr stays with the attempt's errors.
    const errors = await p.read('.cf/runs/pairs/1/attempt-1/errors.txt');
    expect(errors).toContain('code: \'MODULE_NOT_FOUND\'');
  });
});
