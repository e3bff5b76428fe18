import { readdirSync } from 'node:fs';
import path from 'node:path';

/*
 * What `cf init` can write: each template as the files it copies from cf's package (dest: relative to the
 * new project; source: relative to the package). `minimal` is templates/minimal/; `course` is the example
 * course at the package's root (pipeline.yaml and vfs/), the same files the quick start builds, so the
 * template never drifts from the example. Both get the pipeline's JSON Schema (schema/, made by
 * `npm run build`) beside pipeline.yaml and a .gitignore (written, not copied: npm leaves .gitignore files
 * out of packages).
 */

export const TEMPLATES = ['minimal', 'course'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

export interface TemplateFile {
  /** Relative to the new project, with "/". */
  dest: string;
  /** Relative to the package; null: `text` is the content. */
  source: string | null;
  text?: string;
}

/** The JSON Schema of pipeline.yaml in the package, and where a project gets its copy. */
export const SCHEMA_SOURCE = 'schema/pipeline.schema.json';
export const SCHEMA_DEST = 'pipeline.schema.json';
/** The first line of a pipeline.yaml cf init writes: editors that read it (the YAML language server:
 * VS Code's YAML extension, Neovim, Helix, Zed, JetBrains) complete and check its keys from the schema. */
export const SCHEMA_LINE = `# yaml-language-server: $schema=${SCHEMA_DEST}`;

const GITIGNORE = "# cf's state (records, stored outputs, run directories): local to this checkout\n.cf/\n";

/** The directories of the example course that a course project gets (its outputs are built, not copied). */
const COURSE_DIRS = ['vfs/seeds', 'vfs/intelligence', 'vfs/agent'];

/** Every file under `dir` (relative to `root`, with "/"), sorted. */
function filesUnder(root: string, dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** The files of a template, read from cf's package at `root` (pipeline.yaml first). */
export function templateFiles(root: string, name: TemplateName): TemplateFile[] {
  const common: TemplateFile[] = [
    { dest: SCHEMA_DEST, source: SCHEMA_SOURCE },
    { dest: '.gitignore', source: null, text: GITIGNORE },
  ];
  switch (name) {
    case 'minimal': {
      const base = 'templates/minimal';
      const files = filesUnder(root, base).map((f) => ({ dest: f.slice(base.length + 1), source: f }));
      return [...files.filter((f) => f.dest === 'pipeline.yaml'), ...common, ...files.filter((f) => f.dest !== 'pipeline.yaml')];
    }
    case 'course':
      return [{ dest: 'pipeline.yaml', source: 'pipeline.yaml' }, ...common, ...COURSE_DIRS.flatMap((d) => filesUnder(root, d)).map((f) => ({ dest: f, source: f }))];
  }
}
