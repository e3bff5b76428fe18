import { storeLayout } from '../store/layout.js';
import { readFile } from 'node:fs/promises';
import { mark } from '../util/timing.js';
import path from 'node:path';
import { Decider } from '../engine/decide.js';
import { Corrections } from '../engine/corrections.js';
import { correctionsFile, loadCorrections, updateCorrectionsFile } from '../config/corrections.js';
import { phaseParts, statCacheHasher, type PhaseParts } from '../engine/fingerprint.js';
import { DiskOutputStore } from '../store/outputs.js';
import { loadPipeline } from '../config/loadPipeline.js';
import { registry } from '../config/registry.js';
import { registerSsi } from '../domains/ssi/index.js';
import { pipelineInputs, PIPELINE_FILE, type Pipeline } from '../config/pipeline.js';
import { loadSeeds } from '../config/seeds.js';
import type { BuildStore } from '../store/buildStore.js';
import { LocalStore } from '../store/localStore.js';
import { StatCache } from '../config/statCache.js';
import { BuildGraph } from '../engine/targets.js';
import type { UserError } from '../util/errors.js';
import { removeStaleTemporaries } from '../util/fsx.js';
import { initHashing } from '../util/hash.js';
import { err, ok, type Result } from '../util/result.js';
import type { Budget } from '../exec/budget.js';
import { LocalExecutor } from '../exec/localExecutor.js';
import { createRunner } from '../exec/runners/index.js';
import type { AgentRunner } from '../exec/runners/types.js';
import type { Validator } from '../exec/validate.js';
import { createValidator } from '../exec/validators.js';
import type { PhaseConfig } from '../config/pipeline.js';

/** The inputs of a pipeline, read and hashed: everything but the recorded state. */
export interface Inputs {
  pipeline: Pipeline;
  graph: BuildGraph;
  cache: StatCache;
  /** The reviewers' corrections (corrections/PHASE.jsonl), shared by every decider of these inputs. */
  corrections: Corrections;
  decider(store: BuildStore): Decider;
}

/**
 * Reads and checks pipeline.yaml and every file it names. Touches nothing: bad input stops here (exit 2).
 * `pipeline`: use this already-loaded pipeline (cf watch keeps the last good one while pipeline.yaml is broken).
 */
export async function loadInputs(dir: string, given?: Pipeline, statCache?: StatCache): Promise<Result<Inputs, UserError>> {
  mark('modules loaded');
  await initHashing();
  // The domains pipeline.yaml may name kinds of (merge formats, rule sets, contexts, `course:`): first.
  registerSsi(registry);
  let pipeline: Pipeline;
  if (given) pipeline = given;
  else {
    const p = await loadPipeline(dir);
    if (!p.ok) return p;
    pipeline = p.value;
  }
  mark('pipeline loaded');
  const paths = storeLayout(dir);
  const cache = statCache ?? (await StatCache.load(paths.statCache));
  // Schema files are read with the inputs (cf watch keeps its pipeline.yaml, not the schemas it names).
  if (pipeline.phases.some((p) => p.schema && 'file' in p.schema.from)) {
    const { readSchemaFiles } = await import('../config/itemSchemas.js');
    const read = await readSchemaFiles(pipeline, cache);
    if (!read.ok) return read;
    pipeline = read.value;
  }
  const seeds = await loadSeeds(dir, pipeline.seeds, pipeline.idField, cache, registry.seedTransform(pipeline.course));
  mark('seeds loaded');
  if (!seeds.ok) return seeds;
  const parts = new Map<string, PhaseParts>();
  const hasher = statCacheHasher(dir, cache);
  for (const phase of pipeline.phases) {
    try {
      parts.set(phase.name, await phaseParts(pipeline, phase, hasher));
    } catch (e) {
      return err({ kind: 'config', file: pipeline.file, message: `phase ${phase.name}: ${(e as Error).message}` });
    }
  }
  mark('phase inputs hashed');
  const loaded = await loadCorrections(pipeline.dir, pipeline.phases.map((p) => p.name));
  if (!loaded.ok) return loaded;
  const corrections = new Corrections(loaded.value, (phase, change) => updateCorrectionsFile(pipeline.dir, phase, change));
  const graph = new BuildGraph(pipeline, seeds.value.ids);
  return ok({
    pipeline,
    graph,
    cache,
    corrections,
    decider: (store) => new Decider(graph, seeds.value, parts, store, corrections),
  });
}

/**
 * The executor of this checkout: the phases' runners and validators, made once each, processes in -j
 * slots, every attempt within `budget`.
 */
export function localExecutor(inputs: Inputs, o: { jobs: number; budget?: Budget }): { executor: LocalExecutor; runnerFor(phase: PhaseConfig): AgentRunner } {
  const { pipeline } = inputs;
  const runners = new Map<string, AgentRunner>();
  const validators = new Map<string, Validator | null>();
  const runnerFor = (phase: PhaseConfig): AgentRunner => {
    let r = runners.get(phase.runner);
    if (!r) runners.set(phase.runner, (r = createRunner(pipeline.runners.get(phase.runner)!, pipeline)));
    return r;
  };
  const executor = new LocalExecutor({
    phase: (name) => inputs.graph.phase(name),
    jobs: o.jobs,
    runnerFor,
    validatorFor: (phase) => {
      if (!validators.has(phase.name)) validators.set(phase.name, createValidator(phase, pipeline));
      return validators.get(phase.name)!;
    },
    ...(o.budget ? { budget: o.budget } : {}),
  });
  return { executor, runnerFor };
}

/** The directory's store (`readOnly`: status, explain, dry runs). */
export function openStore(dir: string, readOnly: boolean): Promise<LocalStore> {
  return LocalStore.open(dir, { readOnly });
}

export function outputStore(dir: string): DiskOutputStore {
  return new DiskOutputStore(dir, storeLayout(dir).replaced);
}

export function readIntelligence(pipeline: Pipeline, rel: string): Promise<string> {
  return readFile(path.resolve(pipeline.dir, rel), 'utf8');
}


/** Every file a target reads (and the merged outputs, whose hand edits feed downstream; and the corrections). */
export function watchedFiles(p: Pipeline): string[] {
  const files = new Set<string>([PIPELINE_FILE, ...pipelineInputs(p).map((f) => f.rel)]);
  for (const phase of p.phases) files.add(phase.output);
  for (const phase of p.phases) files.add(correctionsFile(phase.name));
  return [...files].map((f) => path.resolve(p.dir, f));
}

/**
 * The temporary files a cf killed mid-write left beside the merged outputs and in .cf/ (a kill -9 during a
 * merge leaves a whole output's worth): removed before a build, under the lock.
 */
export function removeStaleTemporariesOf(p: Pipeline): Promise<number> {
  return removeStaleTemporaries([...p.phases.map((phase) => path.resolve(p.dir, phase.output)), { dir: storeLayout(p.dir).root }]);
}
