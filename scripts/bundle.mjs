// Bundles cf into dist/bundle/ with esbuild: one file for start-up, dynamic imports (commands, YAML and
// the schema library, the API clients, chokidar…) as chunks loaded only when used. Fewer files to resolve
// and compile is most of a no-op build's time at 20,000 seeds.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { writePipelineSchema } from './pipeline-schema.mjs';

/** A hash of every source file: which build of cf runs (src/version.ts CF_BUILD). */
function sourceHash(dir) {
  const h = createHash('sha256');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
  for (const f of files) h.update(`${f}\0`).update(readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}

// Chunk names carry content hashes: without a clean outdir, every rebuild leaves the old ones behind.
rmSync('dist/bundle', { recursive: true, force: true });

/**
 * commander requires node:child_process at load, only to run executable subcommands (cf has none). Loading
 * it costs every cf command, the no-op build included, a few ms: commander gets it when it first uses it.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) => (/[\\/]commander[\\/]/.test(args.importer) ? { path: 'lazy', namespace: 'lazy-child-process' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= require('node:child_process'))[k] });",
      loader: 'js',
    }));
  },
};

// The JSON Schema of pipeline.yaml (schema/pipeline.schema.json) is generated beside the bundle.
const schema = writePipelineSchema();

await build({
  plugins: [lazyChildProcess],
  entryPoints: { main: 'src/cli/main.ts', spawner: 'src/exec/processes/spawnerChild.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: 'dist/bundle',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  legalComments: 'none',
  define: { __CF_BUILD__: JSON.stringify(sourceHash('src')) },
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM still call require() and read __filename / __dirname.
  banner: {
    js: [
      "import { createRequire as __cfRequire } from 'node:module';",
      "import { fileURLToPath as __cfPath } from 'node:url';",
      'const require = __cfRequire(import.meta.url);',
      'const __filename = __cfPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
});
await schema;
