import { existsSync } from 'node:fs';
import path from 'node:path';
import { commandFiles, type PhaseConfig, type Pipeline } from '../config/pipeline.js';
import type { BatchState } from './inspect.js';

/*
 * `cf graph` as data: the pipeline's phases and what each one reads, each read labelled by what it is
 * (the items it is built from, its intelligence, schema, dependencies, its runner's and validator's
 * files, a context), and with --batches each phase's batches in runs of one state. The formats
 * (cli/format/graph.ts) draw it; the JSON format is this model.
 */

/** One thing a phase reads: a file, the seeds, or an earlier phase. */
export interface Read {
  /** items: what the phase is built from; context: an earlier phase's output as a context kind. */
  kind: 'items' | 'intelligence' | 'schema' | 'deps' | 'runner' | 'validator' | 'context';
  /** A file path, "seeds", or a phase's name (items from a phase, context). */
  from: string;
  /** A phase (items, context) or a file. */
  fromKind: 'seeds' | 'phase' | 'file';
  /** context: the context kind (vocabulary); runner: the runner's name. */
  label?: string;
}

/** Consecutive batches of one state: batches first … last. */
export interface BatchRun {
  first: number;
  last: number;
  state: BatchState;
}

export interface GraphPhase {
  name: string;
  output: string;
  runner: string;
  /** A kind (ssi:lego_pairs), a file, or "inline"; null: none. */
  schema: string | null;
  items: 'batch' | 'independent';
  reads: Read[];
  /** With --batches: the phase's batches in runs of one state, and the count of each state. */
  batches?: { total: number; counts: Record<BatchState, number>; runs: BatchRun[] };
}

export interface GraphModel {
  seeds: { file: string; count: number; batches: number };
  phases: GraphPhase[];
}

function schemaOf(p: PhaseConfig): string | null {
  if (!p.schema) return null;
  const f = p.schema.from;
  return 'file' in f ? f.file : 'kind' in f ? f.kind : 'inline';
}

/** The files a command names that exist (its words that could be files: `node` is not one). */
function commandReads(pipeline: Pipeline, words: string[]): string[] {
  return words.filter((f) => existsSync(path.join(pipeline.dir, f)));
}

function readsOf(pipeline: Pipeline, p: PhaseConfig): Read[] {
  const reads: Read[] = [{ kind: 'items', from: p.from, fromKind: p.from === 'seeds' ? 'seeds' : 'phase' }];
  if (p.context) reads.push({ kind: 'context', from: p.context.phase, fromKind: 'phase', label: p.context.kind });
  reads.push({ kind: 'intelligence', from: p.intelligence, fromKind: 'file' });
  if (p.schema && 'file' in p.schema.from) reads.push({ kind: 'schema', from: p.schema.from.file, fromKind: 'file' });
  for (const d of p.deps) reads.push({ kind: 'deps', from: d, fromKind: 'file' });
  const runner = pipeline.runners.get(p.runner);
  if (runner) {
    const files = [...(runner.kind === 'command' ? commandReads(pipeline, commandFiles(runner.command)) : []), ...(runner.kind === 'replay' ? [runner.recording] : []), ...runner.deps];
    for (const f of new Set(files)) reads.push({ kind: 'runner', from: f, fromKind: 'file', label: runner.name });
  }
  if (p.validate?.command) for (const f of commandReads(pipeline, commandFiles(p.validate.command))) reads.push({ kind: 'validator', from: f, fromKind: 'file' });
  return reads;
}

/** Consecutive batches of one state, as runs. */
export function runsOf(states: readonly BatchState[]): BatchRun[] {
  const runs: BatchRun[] = [];
  states.forEach((state, i) => {
    const last = runs[runs.length - 1];
    if (last && last.state === state && last.last === i) last.last = i + 1;
    else runs.push({ first: i + 1, last: i + 1, state });
  });
  return runs;
}

export function graphModel(pipeline: Pipeline, seeds: { count: number; batches: number }, states?: Map<string, BatchState[]>): GraphModel {
  return {
    seeds: { file: pipeline.seeds, ...seeds },
    phases: pipeline.phases.map((p) => {
      const phase: GraphPhase = { name: p.name, output: p.output, runner: p.runner, schema: schemaOf(p), items: p.items, reads: readsOf(pipeline, p) };
      const s = states?.get(p.name);
      if (s) {
        const counts: Record<BatchState, number> = { fresh: 0, stale: 0, waiting: 0, failed: 0 };
        for (const x of s) counts[x]++;
        phase.batches = { total: s.length, counts, runs: runsOf(s) };
      }
      return phase;
    }),
  };
}
