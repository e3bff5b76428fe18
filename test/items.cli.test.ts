import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_AGENT, Project, seedsJson, type Run } from './helpers/project.js';

const PIPELINE = `seeds: seeds.json
batch_size: 20
batching: stable
runners:
  fake: {command: [node, ${JSON.stringify(FAKE_AGENT)}]}
phases:
  - {name: pairs, intelligence: prompts/pairs.md, runner: fake, output: out/pairs.json, items: independent}
  - {name: legos, intelligence: prompts/legos.md, runner: fake, output: out/legos.json, items: independent}
`;

const projects: Project[] = [];
afterEach(async () => {
  await Promise.all(projects.splice(0).map((p) => p.remove()));
});

async function project(seeds: string): Promise<Project> {
  const p = await Project.create({ pipeline: PIPELINE, files: { 'seeds.json': seeds } });
  projects.push(p);
  return p;
}

/** Item ids each phase's agent was given. */
function itemsOf(runs: Run[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of runs) (out[r.phase] ??= []).push(...r.ids);
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

describe('pay per changed seed (real CLI, a fake agent that logs the items it is given)', () => {
  it('edit, insert, delete, reorder: the agents see only new or changed items; merges equal a clean build', async () => {
    const items = JSON.parse(seedsJson(200)) as Array<{ id: string; text: string }>;
    const p = await project(JSON.stringify(items));
    expect((await p.cf(['build'])).code).toBe(0);
    expect(itemsOf(await p.takeRuns()).pairs).toHaveLength(200);
    const step = async (next: typeof items, expected: Record<string, string[]>): Promise<void> => {
      await p.write('seeds.json', JSON.stringify(next));
      const dry = await p.cf(['build', '-n']);
      if (Object.keys(expected).length) expect(dry.stdout).toMatch(/items stale: /);
      const r = await p.cf(['build']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(itemsOf(await p.takeRuns())).toEqual(expected);
      const clean = await project(JSON.stringify(next));
      expect((await clean.cf(['build'])).code).toBe(0);
      expect(await p.read('out/legos.json')).toBe(await clean.read('out/legos.json'));
    };
    items[44]!.text = 'edited';
    await step(items, { pairs: ['S0045'], legos: ['S0045'] });
    items.splice(99, 0, { id: 'S9001', text: 'inserted' });
    await step(items, { pairs: ['S9001'], legos: ['S9001'] });
    await step(items.filter((x) => x.id !== 'S0150'), {});
    const moved = items.filter((x) => x.id !== 'S0150');
    [moved[3], moved[170]] = [moved[170]!, moved[3]!];
    await step(moved, {});
  });
});

/** Two items: independent phases in positional batches of 20. */
const POSITIONAL = PIPELINE.replace('batching: stable\n', '');

describe('items: independent, dry run and clean (real CLI)', () => {
  it('cf build -n says which batches are reassembled from cached items, apart from those that run', async () => {
    const p = await Project.create({ pipeline: POSITIONAL, files: { 'seeds.json': seedsJson(60) } });
    projects.push(p);
    expect((await p.cf(['build'])).code).toBe(0);
    await p.takeRuns();
    const items = JSON.parse(await p.read('seeds.json')) as Array<{ id: string; text: string }>;
    items.splice(4, 0, { id: 'S9001', text: 'inserted' });
    await p.write('seeds.json', JSON.stringify(items));

    const dry = await p.cf(['build', '-n']);
    expect(dry.stdout).toContain('would run  pairs#1: 1 of 20 items stale: S9001 (new)');
    expect(dry.stdout).toContain('\nwould reassemble pairs#2 from cached items (no agent run): S0020 added; S0040 removed\n');
    expect(dry.stdout).toContain('would reassemble pairs#4 from cached items (no agent run): never built');
    expect(dry.stdout).not.toMatch(/would run {2}pairs#[234]/);
    // legos#4 was never built: it runs whatever pairs#4 gives.
    expect(dry.stdout).toContain('cf: dry run: 2 would run, 3 would reassemble from cached items (no agent run), 3 may run');
    const json = (await p.cf(['build', '-n', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.at(-1)).toMatchObject({ wouldRun: ['pairs#1', 'legos#4'], wouldReassemble: ['pairs#2', 'pairs#3', 'pairs#4'] });
    expect(json.find((e) => e.target === 'pairs#3')).toMatchObject({ event: 'would-reassemble' });

    expect((await p.cf(['build'])).code).toBe(0);
    expect(itemsOf(await p.takeRuns())).toEqual({ pairs: ['S9001'], legos: ['S9001'] });
  });

  it('cf clean PHASE#k forgets the batch\'s cached items too: the next build makes them again', async () => {
    const p = await Project.create({ pipeline: POSITIONAL, files: { 'seeds.json': seedsJson(40) } });
    projects.push(p);
    expect((await p.cf(['build'])).code).toBe(0);
    await p.takeRuns();
    const clean = await p.cf(['clean', 'pairs#1']);
    expect(clean.stdout).toContain('forgot 1 batch record');
    const r = await p.cf(['build']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The same answers again, so legos#1 finds its inputs unchanged.
    expect(itemsOf(await p.takeRuns())).toEqual({ pairs: Array.from({ length: 20 }, (_, i) => `S${String(i + 1).padStart(4, '0')}`) });
  });
});
