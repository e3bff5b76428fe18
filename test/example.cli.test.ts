import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CF_BIN, REPO } from './helpers/project.js';

let dir: string;
const cf = async (...args: string[]) => {
  const r = await execa('node', [CF_BIN, ...args], { cwd: dir, reject: false, env: { CI: '1' } });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cf-example-'));
  await cp(path.join(REPO, 'pipeline.yaml'), path.join(dir, 'pipeline.yaml'));
  for (const sub of ['seeds', 'agent', 'intelligence']) await cp(path.join(REPO, 'vfs', sub), path.join(dir, 'vfs', sub), { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the example course (README quick start)', () => {
  it('builds lego_pairs.json end to end offline, then everything, then nothing', async () => {
    const first = await cf('build', 'lego_pairs.json');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('wrote vfs/courses/spa_demo/lego_pairs.json: 60 items from 3 batches');
    const lego = JSON.parse(await readFile(path.join(dir, 'vfs/courses/spa_demo/lego_pairs.json'), 'utf8')) as Array<{ seed_id: string; legos: Array<{ id: string }> }>;
    expect(lego).toHaveLength(60);
    expect(lego[0]!.legos[0]!.id).toBe('S0001L01');
    const all = await cf('build');
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('3 ran, 6 fresh');
    const again = await cf('build');
    expect(again.stdout).toContain('0 ran, 9 fresh');
    expect((await cf('status')).stdout).toContain('everything is up to date');
  });
});
