#!/usr/bin/env node
// Writes schema/pipeline.schema.json: the JSON Schema of pipeline.yaml for editors, generated from cf's own
// zod schema (src/app/pipelineJsonSchema.ts), never written by hand. Run by `npm run build` (bundle.mjs);
// shipped in the package, copied by `cf init` beside the pipeline.yaml it writes.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_FILE = path.join(root, 'schema', 'pipeline.schema.json');

/** Generates the schema (the TypeScript module bundled to a temporary file and run); writes it only if it changed. */
export async function writePipelineSchema() {
  // Inside the repository, so that the packages it imports (left out of the bundle: faster) are found.
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  const dir = mkdtempSync(path.join(root, 'dist', 'schema-'));
  try {
    const out = path.join(dir, 'schema.mjs');
    await build({
      entryPoints: [path.join(root, 'src', 'app', 'pipelineJsonSchema.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile: out,
      packages: 'external',
      logLevel: 'warning',
    });
    const { pipelineJsonSchema } = await import(pathToFileURL(out).href);
    const text = `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`;
    let old = null;
    try {
      old = readFileSync(SCHEMA_FILE, 'utf8');
    } catch {
      // Not written yet.
    }
    if (old !== text) {
      mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
      writeFileSync(`${SCHEMA_FILE}.tmp`, text);
      renameSync(`${SCHEMA_FILE}.tmp`, SCHEMA_FILE);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await writePipelineSchema();
