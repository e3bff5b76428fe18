import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Item } from '../src/config/seeds.js';
import { readDocument } from '../src/domains/ssi/formats.js';
import type { SsiKind } from '../src/domains/ssi/types.js';
import { CF_BIN, REPO } from './helpers/project.js';
import { Bench } from './helpers/workspace.js';

let dir: string;
const cf = async (...args: string[]) => {
  const r = await execa('node', [CF_BIN, ...args], { cwd: dir, reject: false, env: { CI: '1' } });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
};
const OUT = 'vfs/courses/spa_for_eng_demo';
const readJson = async <T>(rel: string): Promise<T> => JSON.parse(await readFile(path.join(dir, rel), 'utf8')) as T;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cf-example-'));
  await cp(path.join(REPO, 'pipeline.yaml'), path.join(dir, 'pipeline.yaml'));
  for (const sub of ['seeds', 'agent', 'intelligence']) await cp(path.join(REPO, 'vfs', sub), path.join(dir, 'vfs', sub), { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the example course (README quick start)', () => {
  it('builds lego_pairs.json end to end offline, in the SSi formats, then everything, then nothing', async () => {
    const first = await cf('build', 'lego_pairs.json');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain(`wrote ${OUT}/lego_pairs.json: 60 items from 3 batches`);
    const pairs = await readJson<{ course: string; target_language: string; total_seeds: number; translations: Record<string, { known: string }> }>(`${OUT}/seed_pairs.json`).catch(() => null);
    expect(pairs).toBeNull(); // only what lego_pairs.json needs: batches, not the seed_pairs merge
    const lego = await readJson<{ course: string; total_seeds: number; total_legos: number; seeds: Array<{ seed_id: string; legos: Array<{ id: string; new: boolean }> }> }>(`${OUT}/lego_pairs.json`);
    expect(lego).toMatchObject({ course: 'spa_for_eng_demo', total_seeds: 60 });
    expect(lego.total_legos).toBe(lego.seeds.reduce((n, s) => n + s.legos.length, 0));
    expect(lego.seeds[0]!.legos[0]).toMatchObject({ id: 'S0001L01', new: true });

    const all = await cf('build');
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('3 ran, 6 fresh');
    const seedPairs = await readJson<{ target_language: string; translations: Record<string, { known: string }> }>(`${OUT}/seed_pairs.json`);
    expect(seedPairs.target_language).toBe('spa');
    // The seeds say "{target}"; the course setting makes it "Spanish" before any agent sees it.
    expect(seedPairs.translations.S0001!.known).toContain('Spanish');
    const again = await cf('build');
    expect(again.stdout).toContain('0 ran, 9 fresh');
    expect((await cf('status')).stdout).toContain('everything is up to date');
    // Baskets as a course writer would fill them (the real course has 6.5 phrases a basket), every phrase
    // passing the GATE below: not the two mechanical windows of each LEGO's seed the agent once wrote.
    const baskets = Object.values((await readJson<{ baskets: Record<string, { practice_phrases: Array<{ target: string }> }> }>(`${OUT}/lego_baskets.json`)).baskets);
    const phrases = baskets.flatMap((b) => b.practice_phrases.map((p) => p.target));
    expect(phrases.length / baskets.length).toBeGreaterThan(5);
    for (const f of ['seed_pairs', 'lego_pairs', 'lego_baskets']) {
      const check = await cf('check', `${OUT}/${f}.json`, '--json');
      expect(check.code, check.stdout).toBe(0);
      expect(JSON.parse(check.stdout)).toMatchObject({ kind: f, errors: [] });
    }
  });

  it('adopting its three phases (lego_baskets reads the vocabulary context) leaves nothing to run (the Workspace, in memory)', async () => {
    // The inputs of the example and the outputs the CLI build wrote above; records and outputs in memory,
    // the phases' real validators (rules and command) checking what is adopted.
    const bench = Bench.on(dir);
    bench.runDirs = true;
    const phases = ['seed_pairs', 'lego_pairs', 'lego_baskets'];
    const old = new Map<string, Record<string, unknown>>();
    for (const f of phases) {
      const doc = await readJson<Record<string, unknown>>(`${OUT}/${f}.json`);
      old.set(f, doc);
      const read = readDocument(f as SsiKind, doc);
      if (!read.ok) throw new Error(read.error);
      const report = await bench.adopt(f, read.items as Item[], `old-${f}.json`);
      expect(report.rejected, f).toEqual([]);
      expect(report.adopted, f).toHaveLength(3);
    }
    const built = await bench.build();
    expect(built.exitCode).toBe(0);
    expect(built.runs).toEqual([]);
    expect(built.summary.ran).toEqual([]);
    expect(built.summary.fresh).toHaveLength(9);
    // The same documents, but for when they were generated (the adoption's time).
    for (const f of phases) expect({ ...(JSON.parse(bench.output(`${OUT}/${f}.json`)!) as object), generated: null }).toEqual({ ...old.get(f)!, generated: null });
  });
});
