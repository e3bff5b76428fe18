import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CF_BIN } from './helpers/project.js';
import { withTempDir } from './helpers/tempDir.js';

/* A newcomer's first commands, through the real CLI (the bundle finds its templates in the package). */

const cf = async (cwd: string, ...args: string[]) => {
  const r = await execa('node', [CF_BIN, ...args], { cwd, reject: false, env: { CI: '1' } });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
};

describe('cf init, then cf build (the real CLI)', () => {
  it('init writes a pipeline that cf build -C builds offline at once; init again refuses (exit 2); build --help is its help', async () => {
    await withTempDir('init-cli', async (tmp) => {
      const init = await cf(tmp, 'init', 'demo');
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toContain('cf init: created 7 files in demo/ (template minimal):\n  pipeline.yaml\n');
      expect(init.stdout).toContain('next:\n  cd demo\n  cf build');
      // The refusal and the help need nothing built: they run beside the build.
      const [build, again, help] = await Promise.all([cf(tmp, 'build', '-C', 'demo'), cf(tmp, 'init', 'demo'), cf(tmp, 'build', '--help')]);
      expect(build.code, build.stdout + build.stderr).toBe(0);
      expect(build.stdout).toContain('wrote out/headlines.json: 5 items from 3 batches');
      const out = JSON.parse(await readFile(path.join(tmp, 'demo', 'out', 'headlines.json'), 'utf8')) as Array<{ id: string; words: number }>;
      expect(out.map((x) => x.id)).toEqual(['S0001', 'S0002', 'S0003', 'S0004', 'S0005']);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('cf: error: demo/pipeline.yaml, demo/pipeline.schema.json, demo/.gitignore and 4 more already exist');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: cf build \[options\] \[TARGET\.\.\.\]\n/);
    });
  });
});
