import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkCommand } from '../src/cli/commands/check.js';
import { UserErrorException } from '../src/util/errors.js';

/** `cf check seed_pairs.json --seeds canonical.json`, in process: the canonical seeds are read as the SSi reader reads them. */
let dir: string;
let out: string[];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cf-check-canonical-'));
  out = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  await writeFile(path.join(dir, 'seed_pairs.json'), JSON.stringify([{ seed_id: 'S0001', known: 'I speak Spanish.', target: 'Hablo español.' }]));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const check = (canonical: unknown): Promise<number> =>
  writeFile(path.join(dir, 'canonical.json'), JSON.stringify(canonical)).then(() =>
    checkCommand({ dir, json: true }, ['seed_pairs.json'], { seeds: 'canonical.json', targetName: 'Spanish' }),
  );

describe('cf check --seeds', () => {
  it('compares the known side with the canonical seed, {target} substituted', async () => {
    expect(await check([{ seed_id: 'S0001', source: 'I speak {target}.' }])).toBe(0);
    const report = JSON.parse(out.join('')) as { rules: Record<string, { checked: number; failed: number }> };
    expect(report.rules.known_matches_canonical).toEqual({ checked: 1, failed: 0 });
    expect(report.rules.canonical_coverage).toEqual({ checked: 1, failed: 0 });
  });

  it('a canonical seed without its source is a usage error naming the entry (exit 2), not a check against an empty text', async () => {
    const e = await check([{ seed_id: 'S0001' }]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserErrorException);
    expect((e as UserErrorException).error).toMatchObject({ kind: 'usage', message: expect.stringContaining('canonical.json: canonical_seeds[0].source: expected a string') });
    expect(out).toEqual([]);
  });
});
