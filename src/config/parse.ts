import { stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { UserError } from '../util/errors.js';
import { initHashing } from '../util/hash.js';
import { err, ok, type Result } from '../util/result.js';
import { DEFAULT_PRICES, type Price } from '../exec/runners/pricing.js';
import { formatKeyPath, Locator, schemaError, type Fail } from './diagnostics.js';
import { checkInlineSchemas } from './itemSchemas.js';
import { phaseConfigs } from './phaseConfig.js';
import { PIPELINE_FILE, pipelineInputs, type Pipeline } from './pipeline.js';
import { registry } from './registry.js';
import { runnerConfigs } from './runnerConfig.js';
import { pipelineSchema, type RawPrice } from './schema.js';
import { CREDENTIALS_HINT, isCredentialKey } from './cacheConfig.js';

/*
 * Reading pipeline.yaml: YAML with source positions, a zod schema (schema.ts), the runners and phases
 * normalised (runnerConfig.ts, phaseConfig.ts), then the checks on the files the whole pipeline names.
 * Loaded only when pipeline.yaml changed since cf last read it (loadPipeline.ts keeps the result).
 */

function toPrices(p: Record<string, RawPrice>): Record<string, Price> {
  const out: Record<string, Price> = {};
  for (const [model, x] of Object.entries(p)) {
    out[model] = { input: x.input, output: x.output, cacheWrite: x.cache_write ?? x.input * 1.25, cacheRead: x.cache_read ?? x.input / 10 };
  }
  return out;
}

export async function parsePipeline(dir: string, file: string, text: string): Promise<Result<Pipeline, UserError>> {
  const shown = path.relative(process.cwd(), file) || file;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    return err({
      kind: 'config',
      file: shown,
      line: pos?.line,
      column: pos?.col,
      message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    });
  }
  const loc = new Locator(doc, lines);
  const raw: unknown = doc.toJS();
  // Schemas' canonical hashes are taken as the phases are read.
  await initHashing();
  // Credentials never go in pipeline.yaml: said so, rather than "unknown key".
  const cache = (raw as { cache?: unknown } | null)?.cache;
  const secretKey = cache && typeof cache === 'object' ? Object.keys(cache).find(isCredentialKey) : undefined;
  if (secretKey) {
    return err({ kind: 'config', file: shown, ...loc.at(['cache'], secretKey), path: `cache.${secretKey}`, message: 'credentials never go in pipeline.yaml (it is shared, and committed)', hint: CREDENTIALS_HINT });
  }
  // The kinds pipeline.yaml may name are the registered ones (registry.ts: its domains are registered first).
  const schema = pipelineSchema(registry);
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) return err(schemaError(schema, parsed.error.issues, shown, loc));
  const cfg = parsed.data;
  const fail: Fail = (at, message, hint) => err({ kind: 'config', file: shown, ...loc.at(at), path: formatKeyPath(at), message, hint });

  const runners = runnerConfigs(cfg.runners, registry, fail);
  if (!runners.ok) return runners;
  const phases = phaseConfigs(cfg.phases, runners.value, cfg.course !== undefined, registry, fail);
  if (!phases.ok) return phases;

  const pipeline: Pipeline = {
    dir,
    file: shown,
    seeds: path.normalize(cfg.seeds),
    idField: cfg.id ?? 'id',
    batchSize: cfg.batch_size ?? 20,
    batching: cfg.batching ?? 'positional',
    jobs: cfg.jobs ?? 4,
    course: cfg.course
      ? {
          code: cfg.course.code,
          targetLanguage: cfg.course.target_language,
          knownLanguage: cfg.course.known_language,
          targetName: cfg.course.target_name ?? registry.targetName(cfg.course.target_language),
        }
      : null,
    runners: runners.value,
    phases: phases.value,
    prices: { ...DEFAULT_PRICES, ...toPrices(cfg.prices ?? {}) },
    cache: cfg.cache ? { remote: cfg.cache.remote, endpoint: cfg.cache.endpoint ?? null, region: cfg.cache.region ?? null, mode: cfg.cache.mode ?? 'read-write' } : null,
    queue: cfg.queue ?? null,
  };
  // Where the commands are set: a command that cannot start is reported there (commandCheck.ts).
  const locations: Record<string, { line?: number; column?: number }> = {};
  for (const r of pipeline.runners.values()) {
    if (r.kind !== 'command') continue;
    const key = r.preset ? 'preset' : 'command';
    locations[`runners.${r.name}.${key}`] = loc.at(['runners', r.name, key]);
  }
  for (const [i, p] of pipeline.phases.entries()) {
    if (p.validate?.command) locations[`phases[${i}].validate`] = loc.at(['phases', i, 'validate', 'command']);
    // A schema file that goes missing or turns invalid later is reported at the line naming it (itemSchemas.ts).
    if (p.schema && 'file' in p.schema.from) locations[`phases[${i}].schema`] = loc.at(['phases', i, 'schema']);
  }
  pipeline.locations = locations;
  const inline = await checkInlineSchemas(pipeline, shown, text);
  if (!inline.ok) return inline;

  // An output is a file only cf writes: one that is also read (an input of this pipeline) would be
  // overwritten by the merge, and the next build would read what it wrote.
  const inputs = pipelineInputs(pipeline);
  for (const [i, p] of pipeline.phases.entries()) {
    const read = p.output === PIPELINE_FILE ? { what: 'pipeline file', at: [] } : inputs.find((f) => path.normalize(f.rel) === p.output);
    if (read) {
      const where = read.at.length ? ` (${read.what}, ${formatKeyPath(read.at)})` : '';
      return fail(['phases', i, 'output'], `${p.output} is read by this pipeline${where}; an output must be a file that only cf writes`, `name a new file for the merged output, e.g. out/${p.name}.json`);
    }
  }
  // Files the pipeline names must exist: checked now, before anything is built or touched.
  for (const m of inputs) {
    if (!m.required) continue;
    const st = await stat(path.resolve(dir, m.rel)).catch(() => null);
    if (!st?.isFile()) {
      return fail(m.at, `${m.what} ${m.rel} ${st ? 'is not a file' : 'does not exist'}`, `paths are relative to ${shown}'s directory`);
    }
  }
  return ok(pipeline);
}
