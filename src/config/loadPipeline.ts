import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { UserError } from '../util/errors.js';
import { hashString, initHashing } from '../util/hash.js';
import { err, ok, type Result } from '../util/result.js';
import { declareSecretNames } from '../util/secrets.js';
import { CF_BUILD, STATE_FORMAT } from '../version.js';
import { storeLayout } from '../store/layout.js';
import { PIPELINE_FILE, pipelineInputs, type Pipeline, type RunnerConfig } from './pipeline.js';
import { registry } from './registry.js';

/**
 * Reads pipeline.yaml. The parsed result is kept in .cf/pipeline.json under the hash of the file's text:
 * an unchanged pipeline.yaml is not parsed again (YAML and the schema library are not even loaded).
 * The files it names are checked every time. The kinds it may name are the registry's: the domains that
 * provide them are registered first (app/session.ts).
 */
export async function loadPipeline(dir: string): Promise<Result<Pipeline, UserError>> {
  const file = path.join(dir, PIPELINE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return err({
      kind: 'config',
      file,
      message: `no ${PIPELINE_FILE} here`,
      hint: 'run cf in the directory that holds pipeline.yaml, or pass -C DIR',
    });
  }
  const shown = path.relative(process.cwd(), file) || file;
  await initHashing();
  const cacheFile = storeLayout(dir).pipelineCache;
  // Parsed against these registered kinds: another set of domains parses it again.
  const key = `${STATE_FORMAT}\u0000${CF_BUILD}\u0000${registry.signature}\u0000${dir}\u0000${hashString(text)}`;
  const cached = await readFile(cacheFile, 'utf8').then(
    (t) => JSON.parse(t) as { key: string; sum: string; pipeline: string },
    () => null,
  );
  // Trusted only when it is this very pipeline.yaml parsed by this very cf, and intact (its sum).
  if (cached?.key === key && typeof cached.pipeline === 'string' && hashString(cached.pipeline) === cached.sum) {
    const parsed = JSON.parse(cached.pipeline) as Omit<Pipeline, 'runners'> & { runners: Array<[string, RunnerConfig]> };
    const pipeline: Pipeline = { ...parsed, file: shown, runners: new Map(parsed.runners) };
    // A named file that went missing is reported by the full parse, with its line.
    if (await namedFilesExist(pipeline)) return ok(declareKeys(pipeline));
  }
  const { parsePipeline } = await import('./parse.js');
  const r = await parsePipeline(dir, file, text);
  if (r.ok) {
    const { writeAtomic } = await import('../util/fsx.js');
    const json = JSON.stringify({ ...r.value, runners: [...r.value.runners] });
    await writeAtomic(cacheFile, JSON.stringify({ key, sum: hashString(json), pipeline: json })).catch(() => undefined);
    declareKeys(r.value);
  }
  return r;
}

/** The variables the pipeline names as holding API keys are secrets whatever their names (util/secrets.ts). */
function declareKeys(p: Pipeline): Pipeline {
  declareSecretNames([...p.runners.values()].flatMap((r) => (r.kind === 'anthropic' || r.kind === 'openai' ? [r.apiKeyEnv] : [])));
  return p;
}

async function namedFilesExist(p: Pipeline): Promise<boolean> {
  for (const f of pipelineInputs(p)) {
    if (!f.required) continue;
    const st = await stat(path.resolve(p.dir, f.rel)).catch(() => null);
    if (!st?.isFile()) return false;
  }
  return true;
}
