import { copyFile, readFile } from 'node:fs/promises';
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

const stripNew = (seeds: Array<{ legos: Array<Record<string, unknown>> }>) => seeds.map((s) => ({ ...s, legos: s.legos.map(({ new: _n, ...l }) => l) }));

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

  it('replay rebuilds seed_pairs.json and lego_pairs.json with the same seeds and LEGOs; a second build runs nothing', async () => {
    p = await realProject('replay');
    const first = await p.cf(['build']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('68 ran');
    const original = JSON.parse(await readFile(path.join(SPA, 'lego_pairs.json'), 'utf8')) as { seeds: Array<{ seed_id: string; seed_pair: unknown; legos: Array<Record<string, unknown>> }> };
    const rebuilt = JSON.parse(await p.read('out/lego_pairs.json')) as typeof original & { total_seeds: number; total_legos: number };
    expect(rebuilt.total_seeds).toBe(668);
    expect(rebuilt.total_legos).toBe(2796); // the original header says 2945
    expect(stripNew(rebuilt.seeds)).toEqual(stripNew(original.seeds));
    const pairs = JSON.parse(await readFile(path.join(SPA, 'seed_pairs.json'), 'utf8')) as { translations: unknown };
    expect((JSON.parse(await p.read('out/seed_pairs.json')) as { translations: unknown }).translations).toEqual(pairs.translations);
    const second = await p.cf(['build']);
    expect(second.stdout).toContain('0 ran, 68 fresh');
    // S0130's known side fixes a typo of the canonical seed: a warning here, recorded with its batch.
    expect((await p.cf(['explain', 'seed_pairs#7'])).stdout).toContain('S0130: [known_matches_canonical]');
  });

  it('cf adopt then cf build runs no agent; editing one seed afterwards reruns one batch', async () => {
    p = await realProject('replay');
    const tooEarly = await p.cf(['adopt', 'lego_pairs', '--from', path.join(SPA, 'lego_pairs.json')]);
    expect(tooEarly.code).toBe(1);
    expect(tooEarly.stdout).toContain('upstream seed_pairs#1 is not built; build or adopt seed_pairs first');
    const a1 = await p.cf(['adopt', 'seed_pairs', '--from', path.join(SPA, 'seed_pairs.json')]);
    expect(a1.stdout).toContain('34 of 34 batches of seed_pairs adopted');
    const a2 = await p.cf(['adopt', 'lego_pairs', '--from', path.join(SPA, 'lego_pairs.json')]);
    expect(a2.code, a2.stdout).toBe(0);
    const build = await p.cf(['build']);
    expect(build.code, build.stdout).toBe(0);
    expect(build.stdout).toContain('0 ran, 68 fresh');
    expect(JSON.parse(await p.read('out/lego_pairs.json'))).toMatchObject({ total_seeds: 668, total_legos: 2796 });

    // Edit one seed: only its seed_pairs batch runs (the replayed translation comes back the same, so
    // lego_pairs stays fresh by early cutoff).
    const seeds = (await p.read('canonical_seeds.json')).replace('"I\'m trying to learn."', '"I\'m trying hard to learn."');
    await p.write('canonical_seeds.json', seeds);
    const dry = await p.cf(['build', '-n']);
    expect(dry.stdout).toContain('would run  seed_pairs#1: seed S0002 changed');
    const edited = await p.cf(['build', '--json']);
    const summary = JSON.parse(edited.stdout.trim().split('\n').at(-1)!) as { ran: string[] };
    expect(summary.ran).toEqual(['seed_pairs#1']);
  });

  it('cf adopt of a phase with the vocabulary context (lego_baskets) records what a build finds fresh', async () => {
    const baskets = `  - name: lego_baskets
    intelligence: prompts/baskets.md
    runner: split
    output: out/lego_baskets.json
    context: {vocabulary: lego_pairs}
    merge: ssi:lego_baskets
    validate: {rules: ssi:lego_baskets, severity: {gate: warning, phrase_contains_lego: warning, final_lego_ends_with_seed: warning, no_duplicate_phrases: warning, basket_matches_lego: warning}}
`;
    p = await Project.create({ pipeline: realPipeline('fail') + baskets, files: { 'prompts/baskets.md': '# Baskets\n' } });
    await copyFile(path.join(SSI, 'canonical_seeds.json'), p.file('canonical_seeds.json'));
    for (const [phase, file] of [['seed_pairs', 'seed_pairs.json'], ['lego_pairs', 'lego_pairs.json']]) {
      expect((await p.cf(['adopt', phase!, '--from', path.join(SPA, file!)])).code).toBe(0);
    }
    // The sample holds S0001-S0100: batches 1-5; the others are not in it.
    const a = await p.cf(['adopt', 'lego_baskets', '--from', path.join(SPA, 'lego_baskets.sample_S0001-S0100.json'), '--json']);
    const report = JSON.parse(a.stdout) as { adopted: string[]; rejected: Array<{ target: string }> };
    expect(report.adopted).toEqual(['lego_baskets#1', 'lego_baskets#2', 'lego_baskets#3', 'lego_baskets#4', 'lego_baskets#5']);
    // No agent may run (the runner fails): the adopted batches and what they read are fresh.
    const build = await p.cf(['build', 'lego_baskets#1', 'lego_baskets#2', 'lego_baskets#3', 'lego_baskets#4', 'lego_baskets#5', '--json']);
    expect(build.code, build.stdout + build.stderr).toBe(0);
    expect((JSON.parse(build.stdout.trim().split('\n').at(-1)!) as { ran: string[]; fresh: string[] }).ran).toEqual([]);
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
