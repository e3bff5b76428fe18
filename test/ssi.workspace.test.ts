import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeStatus } from '../src/cli/format/statuses.js';
import { formatErrors } from '../src/cli/reporters.js';
import type { Item } from '../src/config/seeds.js';
import { readDocument } from '../src/domains/ssi/formats.js';
import { SHARED_SSI, sharedData } from './helpers/sharedData.js';
import { Bench } from './helpers/workspace.js';

/*
 * The real course data (../shared/data/ssi, read there) through the composed Workspace: replay runners and
 * the SSi rules are the pipeline's own, in process; the store and the outputs in memory. Moved here from
 * ssi.cli.test.ts with their assertions (what cf printed, as the data it prints); `cf check`, and `cf adopt`
 * and `cf status` with their exit codes and --json, stay there.
 */

const SPA = path.join(SHARED_SSI, 'spa_for_eng');

let bench: Bench | undefined;
afterEach(async () => {
  await bench?.remove();
  bench = undefined;
});

/** The real course through replay runners (or a runner that must not run), over the real canonical seeds. */
function realPipeline(runner: 'replay' | 'fail'): string {
  const run = (f: string): string =>
    runner === 'replay' ? `{kind: replay, recording: ${JSON.stringify(path.join(SPA, f))}}` : `{command: "echo no agent may run here >&2; exit 1"}`;
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
    validate: {rules: ssi:seed_pairs, severity: {known_matches_canonical: warning}}
  - name: lego_pairs
    intelligence: prompts/legos.md
    runner: split
    output: out/lego_pairs.json
    merge: ssi:lego_pairs
    validate: {rules: ssi:lego_pairs, severity: {tiling: warning, has_legos: warning, m_components: warning}}
`;
}

async function realBench(runner: 'replay' | 'fail', extra = '', files: Record<string, string> = {}): Promise<Bench> {
  const b = await Bench.create({ pipeline: realPipeline(runner) + extra, files });
  await copyFile(path.join(SHARED_SSI, 'canonical_seeds.json'), b.file('canonical_seeds.json'));
  b.realAgents = true;
  bench = b;
  return b;
}

/** `cf adopt PHASE --from FILE` of an SSi document: its items, as the command reads them. */
async function adoptFile(b: Bench, phase: 'seed_pairs' | 'lego_pairs' | 'lego_baskets', file: string): ReturnType<Bench['adopt']> {
  const read = readDocument(phase, JSON.parse(await readFile(file, 'utf8')));
  if (!read.ok) throw new Error(read.error);
  return b.adopt(phase, read.items as Item[], file);
}

const stripNew = (seeds: Array<{ legos: Array<Record<string, unknown>> }>) => seeds.map((s) => ({ ...s, legos: s.legos.map(({ new: _n, ...l }) => l) }));

describe.runIf(sharedData('the real SSi course through the Workspace (../shared/data/ssi)'))('the real SSi course, through the Workspace in memory', () => {
  it('replay rebuilds seed_pairs.json and lego_pairs.json with the same seeds and LEGOs; a second build runs nothing', async () => {
    const b = await realBench('replay');
    const first = await b.build();
    expect(first.exitCode).toBe(0);
    expect(first.summary.ran).toHaveLength(68);
    const original = JSON.parse(await readFile(path.join(SPA, 'lego_pairs.json'), 'utf8')) as { seeds: Array<{ seed_id: string; seed_pair: unknown; legos: Array<Record<string, unknown>> }> };
    const rebuilt = JSON.parse(b.output('out/lego_pairs.json')!) as typeof original & { total_seeds: number; total_legos: number };
    expect(rebuilt.total_seeds).toBe(668);
    expect(rebuilt.total_legos).toBe(2796); // the original header says 2945
    expect(stripNew(rebuilt.seeds)).toEqual(stripNew(original.seeds));
    const pairs = JSON.parse(await readFile(path.join(SPA, 'seed_pairs.json'), 'utf8')) as { translations: unknown };
    expect((JSON.parse(b.output('out/seed_pairs.json')!) as { translations: unknown }).translations).toEqual(pairs.translations);
    const second = await b.build();
    expect(second.summary.ran).toEqual([]);
    expect(second.summary.fresh).toHaveLength(68);
    // S0130's known side fixes a typo of the canonical seed: a warning here, recorded with its batch.
    const explained = (await b.explain(['seed_pairs#7']))[0]!;
    expect(explained.kind === 'batch' && formatErrors(explained.last?.warnings ?? [])).toContain('S0130: [known_matches_canonical]');
  });

  it('adopt then build runs no agent; editing one seed afterwards reruns one batch', async () => {
    const b = await realBench('replay');
    const tooEarly = await adoptFile(b, 'lego_pairs', path.join(SPA, 'lego_pairs.json'));
    expect(tooEarly.rejected.length).toBeGreaterThan(0);
    expect(tooEarly.rejected[0]!.reason).toBe('upstream seed_pairs#1 is not built; build or adopt seed_pairs first');
    const a1 = await adoptFile(b, 'seed_pairs', path.join(SPA, 'seed_pairs.json'));
    expect(a1.adopted).toHaveLength(34);
    const a2 = await adoptFile(b, 'lego_pairs', path.join(SPA, 'lego_pairs.json'));
    expect(a2.rejected).toEqual([]);
    const build = await b.build();
    expect(build.exitCode).toBe(0);
    expect(build.summary.ran).toEqual([]);
    expect(build.summary.fresh).toHaveLength(68);
    expect(JSON.parse(b.output('out/lego_pairs.json')!)).toMatchObject({ total_seeds: 668, total_legos: 2796 });

    // Edit one seed: only its seed_pairs batch runs (the replayed translation comes back the same, so
    // lego_pairs stays fresh by early cutoff).
    const seeds = (await b.read('canonical_seeds.json')).replace('"I\'m trying to learn."', '"I\'m trying hard to learn."');
    await b.write('canonical_seeds.json', seeds);
    const dry = await b.dryRun();
    expect(describeStatus(dry.rows.find((s) => s.target === 'seed_pairs#1')!)).toMatch(/^seed S0002 changed/);
    const edited = await b.build();
    expect(edited.summary.ran).toEqual(['seed_pairs#1']);
  });

  it('adopt of a phase with the vocabulary context (lego_baskets) records what a build finds fresh', async () => {
    const baskets = `  - name: lego_baskets
    intelligence: prompts/baskets.md
    runner: split
    output: out/lego_baskets.json
    context: {vocabulary: lego_pairs}
    merge: ssi:lego_baskets
    validate: {rules: ssi:lego_baskets, severity: {gate: warning, phrase_contains_lego: warning, final_lego_ends_with_seed: warning, no_duplicate_phrases: warning, basket_matches_lego: warning}}
`;
    const b = await realBench('fail', baskets, { 'prompts/baskets.md': '# Baskets\n' });
    for (const [phase, file] of [['seed_pairs', 'seed_pairs.json'], ['lego_pairs', 'lego_pairs.json']] as const) {
      expect((await adoptFile(b, phase, path.join(SPA, file))).rejected).toEqual([]);
    }
    // The sample holds S0001-S0100: batches 1-5; the others are not in it.
    const report = await adoptFile(b, 'lego_baskets', path.join(SPA, 'lego_baskets.sample_S0001-S0100.json'));
    expect(report.adopted).toEqual(['lego_baskets#1', 'lego_baskets#2', 'lego_baskets#3', 'lego_baskets#4', 'lego_baskets#5']);
    // No agent may run (the runner fails): the adopted batches and what they read are fresh.
    const build = await b.build(['lego_baskets#1', 'lego_baskets#2', 'lego_baskets#3', 'lego_baskets#4', 'lego_baskets#5']);
    expect(build.exitCode).toBe(0);
    expect(build.summary.ran).toEqual([]);
  });
});
