import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { pipelineJsonSchema } from '../src/app/pipelineJsonSchema.js';
import { initCommand } from '../src/cli/commands/init.js';
import { scaffold } from '../src/cli/init/scaffold.js';
import { SCHEMA_LINE } from '../src/cli/init/templates.js';
import { UserErrorException } from '../src/util/errors.js';
import { REPO } from './helpers/project.js';
import { withTempDir } from './helpers/tempDir.js';
import { Bench } from './helpers/workspace.js';

/*
 * cf init (the scaffolding, on a temporary directory): a pipeline cf opens as it is, valid against the
 * JSON Schema its first line names (copied beside it), never over an existing file. That cf build builds
 * it, offline, is the CLI test's (init.cli.test.ts).
 */

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(pipelineJsonSchema());
const shown = (f: string): string => path.basename(f);

function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('cf init', () => {
  it('minimal: a one-phase pipeline with a schema:, its agent, validator, seeds and intelligence, in a new directory; cf opens it', async () => {
    await withTempDir('init', async (tmp) => {
      const dir = path.join(tmp, 'new', 'project');
      const r = await scaffold(REPO, 'minimal', dir, shown);
      expect(r).toEqual({ ok: true, value: { created: ['pipeline.yaml', 'pipeline.schema.json', '.gitignore', 'agent/agent.mjs', 'agent/validate.mjs', 'intelligence/headlines.md', 'seeds.txt'] } });
      const yaml = readFileSync(path.join(dir, 'pipeline.yaml'), 'utf8');
      expect(yaml.split('\n')[0]).toBe('# yaml-language-server: $schema=pipeline.schema.json');
      expect(JSON.parse(readFileSync(path.join(dir, 'pipeline.schema.json'), 'utf8'))).toEqual(pipelineJsonSchema());
      expect(validate(parse(yaml)), JSON.stringify(validate.errors)).toBe(true);
      expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toMatch(/^\.cf\/$/m);
      const ws = await Bench.on(dir).open();
      expect(ws.inputs.graph.seedCount).toBe(5);
      expect(ws.pipeline.phases.map((p) => [p.name, p.schema?.from, p.validate?.command])).toEqual([['headlines', { inline: true }, { argv: ['node', 'agent/validate.mjs'] }]]);
    });
  });

  it('course: the example course (pipeline.yaml and vfs/), its outputs left to cf build; cf opens it', async () => {
    await withTempDir('init', async (dir) => {
      const r = await scaffold(REPO, 'course', dir, shown);
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      const example = ['seeds', 'intelligence', 'agent'].flatMap((d) => filesIn(path.join(REPO, 'vfs', d)).map((f) => path.join('vfs', d, f)));
      expect(filesIn(dir)).toEqual(['.gitignore', 'pipeline.schema.json', 'pipeline.yaml', ...example].sort());
      for (const f of example) expect(readFileSync(path.join(dir, f), 'utf8')).toBe(readFileSync(path.join(REPO, f), 'utf8'));
      const yaml = readFileSync(path.join(dir, 'pipeline.yaml'), 'utf8');
      // The example's schema line (schema/pipeline.schema.json, the repository's) replaced by the copy's.
      const repoYaml = readFileSync(path.join(REPO, 'pipeline.yaml'), 'utf8');
      expect(repoYaml.split('\n')[0]).toBe('# yaml-language-server: $schema=schema/pipeline.schema.json');
      expect(yaml).toBe(`${SCHEMA_LINE}\n${repoYaml.split('\n').slice(1).join('\n')}`);
      expect(validate(parse(yaml)), JSON.stringify(validate.errors)).toBe(true);
      const ws = await Bench.on(dir).open();
      expect(ws.pipeline.phases.map((p) => p.name)).toEqual(['seed_pairs', 'lego_pairs', 'lego_baskets']);
    });
  });

  it('overwrites nothing: a file it would write exists → an error naming it, and nothing is written', async () => {
    await withTempDir('init', async (dir) => {
      await mkdir(path.join(dir, 'agent'));
      await writeFile(path.join(dir, 'agent', 'agent.mjs'), 'mine\n');
      const r = await scaffold(REPO, 'minimal', dir, (f) => path.relative(dir, f));
      expect(r).toEqual({ ok: false, error: { kind: 'usage', message: 'agent/agent.mjs already exists: cf init writes only new files, and wrote nothing', hint: 'cf init DIR: a new or empty directory (or move those files away)' } });
      expect(filesIn(dir)).toEqual(['agent/agent.mjs']);
      expect(readFileSync(path.join(dir, 'agent', 'agent.mjs'), 'utf8')).toBe('mine\n');
      // Other files are no obstacle: a directory with a README or a .git takes a pipeline.
      await writeFile(path.join(dir, 'README.md'), '# mine\n');
      const again = await scaffold(REPO, 'course', dir, (f) => path.relative(dir, f));
      expect(again.ok).toBe(true);
    });
  });

  it('an unknown template is a usage error with a did-you-mean, before anything is written', async () => {
    await withTempDir('init', async (dir) => {
      const refused = initCommand({ dir, template: 'curse' }, ['x'], REPO);
      await expect(refused).rejects.toThrow(UserErrorException);
      await expect(refused).rejects.toThrow('unknown template "curse" (did you mean "course"?)');
      expect(filesIn(dir)).toEqual([]);
    });
  });
});
