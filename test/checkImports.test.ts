import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { coreImportsOfDomains, importCycles } from '../scripts/check-imports.mjs';
import { REPO } from './helpers/project.js';
import { withTempDir } from './helpers/tempDir.js';

describe('the import rules: the core (config, engine, store, exec, events) imports no domain and nothing above it; no cycles', () => {
  it('holds for cf itself', () => {
    const r = coreImportsOfDomains(REPO);
    expect(r.files).toBeGreaterThan(50);
    expect(r.breaches).toEqual([]);
  });

  it('finds every form of import from a core file, and allows the composition root and the domain itself', async () => {
    await withTempDir('imports', async (root) => {
      const write = async (rel: string, text: string): Promise<void> => {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), text);
      };
      await write(
        'src/engine/a.ts',
        [
          "import { x } from '../domains/ssi/x.js';",
          "import type { T } from '../domains/ssi/types.js';",
          "export { y } from '../domains/ssi/y.js';",
          "const z = await import('../domains/ssi/z.js');",
          "import { ok } from '../config/registry.js';",
        ].join('\n'),
      );
      await write('src/exec/runners/b.ts', "import { r } from '../../domains/ssi/formats.js';\n");
      await write('src/app/session.ts', "import { registerSsi } from '../domains/ssi/index.js';\n");
      await write('src/domains/ssi/index.ts', "import type { Registry } from '../../config/registry.js';\n");
      const r = coreImportsOfDomains(root);
      expect(r.breaches).toEqual([
        { file: path.join('src', 'engine', 'a.ts'), line: 1, spec: '../domains/ssi/x.js' },
        { file: path.join('src', 'engine', 'a.ts'), line: 2, spec: '../domains/ssi/types.js' },
        { file: path.join('src', 'engine', 'a.ts'), line: 3, spec: '../domains/ssi/y.js' },
        { file: path.join('src', 'engine', 'a.ts'), line: 4, spec: '../domains/ssi/z.js' },
        { file: path.join('src', 'exec', 'runners', 'b.ts'), line: 1, spec: '../../domains/ssi/formats.js' },
      ]);
    });
  });

  it('finds import cycles among the modules of src/ (type-only imports too), and none in cf itself', async () => {
    expect(importCycles(REPO).cycles).toEqual([]);
    await withTempDir('cycles', async (root) => {
      const write = async (rel: string, text: string): Promise<void> => {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), text);
      };
      await write('src/cli/main.ts', "import { build } from './commands/build.js';\n");
      await write('src/cli/commands/build.ts', "import type { Options } from '../main.js';\n");
      await write('src/exec/a.ts', "import { b } from './b.js';\n");
      await write('src/exec/b.ts', "import { c } from './runners/c.js';\n");
      await write('src/exec/runners/c.ts', "import type { A } from '../a.js';\n");
      await write('src/exec/d.ts', "import { a } from './a.js';\nimport { c } from './runners/c.js';\n");
      const r = importCycles(root);
      expect(r.files).toBe(6);
      expect(r.cycles.map((c) => c.join(' > ')).sort()).toEqual(
        [path.join('cli', 'commands', 'build.ts') + ' > ' + path.join('cli', 'main.ts'), ['exec/a.ts', 'exec/b.ts', 'exec/runners/c.ts'].map((x) => path.join(...x.split('/'))).join(' > ')].sort(),
      );
    });
  });

  it('keeps the core from importing the composition root or the command line', async () => {
    await withTempDir('above', async (root) => {
      await mkdir(path.join(root, 'src', 'engine'), { recursive: true });
      await writeFile(path.join(root, 'src', 'engine', 'e.ts'), "import type { Workspace } from '../app/workspace.js';\nimport { x } from '../util/x.js';\n");
      expect(coreImportsOfDomains(root).breaches).toEqual([{ file: path.join('src', 'engine', 'e.ts'), line: 1, spec: '../app/workspace.js' }]);
    });
  });
});
