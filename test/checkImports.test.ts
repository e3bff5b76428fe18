import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { coreImportsOfDomains } from '../scripts/check-imports.mjs';
import { REPO } from './helpers/project.js';
import { withTempDir } from './helpers/tempDir.js';

describe('the import rule: core (config, engine, store, exec, events) imports nothing from src/domains/', () => {
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
});
