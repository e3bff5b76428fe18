import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Project } from './helpers/project.js';
import { SHARED_SSI, sharedData } from './helpers/sharedData.js';

/** Real course data, read from beside the repository when present (never copied into it). */
const SSI = SHARED_SSI;
const SPA = path.join(SSI, 'spa_for_eng');

let p: Project | undefined;
afterEach(async () => {
  await p?.remove();
  p = undefined;
});

interface CheckJson {
  kind: string;
  rules: Record<string, { checked: number; failed: number }>;
  errors: Array<{ seedId: string; legoId?: string; type: string; message: string }>;
}

/** The real course through replay runners, over the real canonical seeds (copied into the temp project). */
function realPipeline(runner: 'replay' | 'fail', strict = false): string {
  const run = (f: string): string =>
    runner === 'replay' ? `{kind: replay, recording: ${JSON.stringify(path.join(SPA, f))}}` : `{command: "echo no agent may run here >&2; exit 1"}`;
  const lenient = (rules: string): string => (strict ? '' : `, severity: {${rules}}`);
  return `seeds: canonical_seeds.json
id: seed_id
batch_size: 20
course: {code: spa_for_eng, target_language: spa, known_language: eng, target_name: Spanish}
runners:
  translate: ${run('seed_pairs.json')}
  split: ${run('lego_pairs.json')}
phases:
  - name: seed_pairs
    intelligence: prompts/pairs.md
    runner: translate
    output: out/seed_pairs.json
    merge: ssi:seed_pairs
    validate: {rules: ssi:seed_pairs${lenient('known_matches_canonical: warning')}}
  - name: lego_pairs
    intelligence: prompts/legos.md
    runner: split
    output: out/lego_pairs.json
    merge: ssi:lego_pairs
    validate: {rules: ssi:lego_pairs${lenient('tiling: warning, has_legos: warning, m_components: warning')}}
`;
}

async function realProject(runner: 'replay' | 'fail', strict = false): Promise<Project> {
  const project = await Project.create({ pipeline: realPipeline(runner, strict) });
  await copyFile(path.join(SSI, 'canonical_seeds.json'), project.file('canonical_seeds.json'));
  return project;
}

// Replay builds and adoptions of the real course are tested in process through the Workspace
// (ssi.workspace.test.ts). Here: cf check, and cf adopt and cf status as processes (exit codes, --json).
describe.runIf(sharedData('the real SSi course (../shared/data/ssi)'))('the real SSi course (../shared/data/ssi)', () => {
  it('cf check lego_pairs.json: per-rule counts that agree with the data README', async () => {
    p = await Project.create({ seeds: 1 });
    const r = await p.cf(['check', path.join(SPA, 'lego_pairs.json'), '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as CheckJson;
    expect(report.kind).toBe('lego_pairs');
    expect(report.rules.tiling).toEqual({ checked: 668, failed: 145 });
    expect(report.rules.has_legos).toEqual({ checked: 668, failed: 11 });
    expect(report.rules.m_components).toEqual({ checked: 2264, failed: 2 });
    expect(report.errors.filter((e) => e.type === 'm_components').map((e) => e.legoId)).toEqual(['S0068L04', 'S0081L03']);
    expect(report.errors.filter((e) => e.type === 'tiling')).toHaveLength(145);
    const human = await p.cf(['check', path.join(SPA, 'lego_pairs.json'), '--rules', 'has_legos']);
    expect(human.stdout).toMatch(/has_legos\s+668\s+11/);
    expect(human.stdout).toContain('S0442 [has_legos]');
  });

  it('cf check on the basket sample reports GATE violations by phrase', async () => {
    p = await Project.create({ seeds: 1 });
    const r = await p.cf(['check', path.join(SPA, 'lego_baskets.sample_S0001-S0100.json'), '--json']);
    const report = JSON.parse(r.stdout) as CheckJson;
    const gate = report.errors.filter((e) => e.type === 'gate');
    expect(report.rules.gate!.checked).toBe(2724);
    expect(gate.length).toBe(report.rules.gate!.failed);
    expect(gate.length).toBeGreaterThan(0);
    for (const e of gate) expect(e.message).toMatch(/^phrase ".+" uses ".+", not taught/);
    expect(gate.every((e) => e.legoId?.startsWith(e.seedId))).toBe(true);
  });

  it('strict rules: batches with invalid items are reported and not adopted', async () => {
    p = await realProject('fail', true);
    await p.cf(['adopt', 'seed_pairs', '--from', path.join(SPA, 'seed_pairs.json')]);
    const r = await p.cf(['adopt', 'lego_pairs', '--from', path.join(SPA, 'lego_pairs.json'), '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { adopted: string[]; rejected: Array<{ target: string; errors: Array<{ item: string; rule: string }> }> };
    expect(report.rejected.length).toBeGreaterThan(0);
    expect(report.adopted.length + report.rejected.length).toBe(34);
    expect(report.rejected.flatMap((x) => x.errors).some((e) => e.item === 'S0003' && e.rule === 'tiling')).toBe(true);
    const status = await p.cf(['status', '--json']);
    const lego = (JSON.parse(status.stdout) as { phases: Array<{ phase: string; fresh: number }> }).phases.find((x) => x.phase === 'lego_pairs');
    expect(lego!.fresh).toBe(report.adopted.length);
  });
});

describe('cf check on invented files', () => {
  it('a malformed seed is one "shape" failure; the other seeds are still checked; warnings are counted apart', async () => {
    p = await Project.create({ seeds: 0 });
    const lego = (id: string, type: string, known: string, target: string) => ({ id, type, lego: { known, target } });
    await p.write(
      'lego_pairs.json',
      JSON.stringify({
        course: 'spa_for_eng',
        seeds: [
          { seed_id: 'S0001', seed_pair: { known: 'I want', target: 'Quiero' }, legos: [lego('S0001L01', 'A', 'I want', 'quiero')] },
          { seed_id: 'S0002', seed_pair: { known: 'not now', target: 'no ahora' }, legos: [{ id: 'S0002L01', type: 'A' }] },
          { seed_id: 'S0003', seed_pair: { known: 'not now', target: 'No ahora' }, legos: [lego('S0003L01', 'A', 'not', 'no'), lego('S0003L02', 'A', 'now', 'ahora')] },
        ],
      }),
    );
    const r = await p.cf(['check', 'lego_pairs.json', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as CheckJson & { items: number };
    expect(report.items).toBe(3);
    expect(report.rules.shape).toEqual({ checked: 3, failed: 1 });
    expect(report.errors.find((e) => e.type === 'shape')).toMatchObject({ seedId: 'S0002' });
    expect(report.rules.tiling).toEqual({ checked: 2, failed: 0 });
    // "no" alone is a warning for Spanish by default: counted as warned, not failed.
    expect(report.rules.standalone_negation).toEqual({ checked: 3, failed: 0, warned: 1 });
    const human = await p.cf(['check', 'lego_pairs.json']);
    expect(human.stdout).toContain('cf check: 1 error, 1 warning');
  });
});
