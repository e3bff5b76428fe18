import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resetRunDir } from '../src/exec/attempts.js';
import { withTempDir } from './helpers/tempDir.js';

describe('a batch run directory reused by a new run', () => {
  it('keeps only the files the new first attempt writes again; earlier answers, errors and attempts go', async () => {
    await withTempDir('rundir', async (dir) => {
      const a1 = path.join(dir, 'attempt-1');
      await mkdir(path.join(a1, 'scratch'), { recursive: true });
      await mkdir(path.join(dir, 'attempt-2'));
      for (const f of ['prompt.md', 'input.json', 'stdout.log', 'stderr.log', 'output.json', 'errors.txt', 'notes.md']) await writeFile(path.join(a1, f), 'old');
      await writeFile(path.join(dir, 'attempt-2', 'output.json'), 'old');
      resetRunDir(dir);
      expect(await readdir(dir)).toEqual(['attempt-1']);
      expect((await readdir(a1)).sort()).toEqual(['input.json', 'prompt.md', 'stderr.log', 'stdout.log']);
      resetRunDir(path.join(dir, 'missing')); // nothing there: nothing to do
    });
  });
});
