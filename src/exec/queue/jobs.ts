import { createHash } from 'node:crypto';
import type { Limits } from '../runners/limits.js';
import type { JobOutcome, JobSpec } from '../executor.js';

/*
 * What travels through the queue (BullMQ on Redis) between a coordinator (`cf build --queue`) and its
 * workers (`cf worker`): a job is the exec seam's plain-JSON spec with what a worker must check before it
 * runs it (the coordinator's runner and validator hashes) and where the result goes; a result is the
 * job's outcome, its output in the shared cache when there is one. Nothing here holds a closure, a path
 * of the coordinator's machine, or a secret.
 */

/** The BullMQ queue of cf's jobs (one per Redis database: a database per project if several share a server). */
export const QUEUE_NAME = 'cf-jobs';

/**
 * What a phase's batches are made with besides their inputs and intelligence, as the coordinator's checkout
 * hashes it (the phase's part of every key: engine/fingerprint.ts PhaseParts, without the intelligence,
 * which travels in the job). A worker whose checkout hashes otherwise would make other outputs.
 */
export interface CheckoutParts {
  phase: string;
  runner: { config: string; files: Record<string, string> };
  validator: { config: string; files: Record<string, string> } | null;
  deps: Record<string, string>;
  schema?: string;
}

export interface QueuedJob {
  v: 1;
  /** The job as the engine gave it; its runDir relative to the pipeline directory (each worker uses its own). */
  spec: JobSpec;
  /** The coordinator's hashes of the phase's runner, validator, deps and schema. */
  parts: CheckoutParts;
  /** The phase's runner, by name, and its limits as the coordinator's pipeline.yaml sets them (shared by every worker). */
  runner: { name: string; limits: Limits };
  /** --max-cost: the build's budget in Redis (sharedBudget.ts); null: none. */
  budget: { key: string; maxUsd: number } | null;
  /** The shared cache the coordinator reads outputs from (its `where`); null: outputs come back in the result. */
  blobs: string | null;
  /** Who enqueued it (host:pid), for messages. */
  coordinator: string;
}

/** What a worker returns (BullMQ's return value): the outcome, with a valid batch's items in the shared cache when `blob` is set. */
export interface JobReturn {
  v: 1;
  worker: string;
  outcome: JobOutcome;
  /** The SHA-256 of the output's text, stored in the shared cache (store/remote/names.ts objectName('blob', …)); its items are then left out of `outcome`. */
  blob?: string;
}

/**
 * What a worker tells the coordinator while a job runs (BullMQ progress): a JobEvent, who sends it, and the
 * attempt running (from the first attempt on; cf status reads it from the job's last progress).
 */
export type JobProgress = { worker: string; current?: { attempt: number; of: number } } & Record<string, unknown>;

function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (x && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x);
}

/**
 * The job's id: a batch job's key (what it is made from, hashed), so a second coordinator, or this one
 * restarted, finds the job there instead of enqueueing the same work again. A job without a key (a run of
 * items: independent) is named by the SHA-256 of what it is (spec and parts, not where its files go).
 * BullMQ ids are strings that are not integers and hold no colon: prefixed.
 */
export function jobIdOf(spec: JobSpec, parts: CheckoutParts): string {
  if (spec.kind === 'batch' && spec.key) return `b-${spec.key}`;
  const { runDir: _runDir, priority: _priority, ...what } = spec;
  return `r-${createHash('sha256').update(canonical({ what, parts })).digest('hex').slice(0, 32)}`;
}

function fileDifferences(what: string, theirs: Record<string, string>, ours: Record<string, string>): string[] {
  const out: string[] = [];
  for (const f of new Set([...Object.keys(theirs), ...Object.keys(ours)])) {
    if (!(f in ours)) out.push(`${what} ${f} is missing here`);
    else if (!(f in theirs)) out.push(`${what} ${f} is here but not in the coordinator's checkout`);
    else if (theirs[f] !== ours[f]) out.push(`${what} ${f} differs here`);
  }
  return out;
}

/**
 * Why a worker must not run a job made with `theirs` (the coordinator's) when its own checkout hashes
 * `ours`: each difference named, or null when they are the same.
 */
export function partsDifference(runner: string, theirs: CheckoutParts, ours: CheckoutParts): string | null {
  const diffs: string[] = [];
  if (theirs.phase !== ours.phase) diffs.push("the phase's settings differ (its from, the id field, or cf's prompt template: another cf version?)");
  if (theirs.runner.config !== ours.runner.config) diffs.push(`runner "${runner}" is configured differently here (its command, env or model)`);
  diffs.push(...fileDifferences(`runner "${runner}": the file`, theirs.runner.files, ours.runner.files));
  if (!theirs.validator !== !ours.validator || (theirs.validator && ours.validator && theirs.validator.config !== ours.validator.config)) {
    diffs.push('the validator is configured differently here');
  }
  diffs.push(...fileDifferences('the validator file', theirs.validator?.files ?? {}, ours.validator?.files ?? {}));
  diffs.push(...fileDifferences('the dependency', theirs.deps, ours.deps));
  if (theirs.schema !== ours.schema) diffs.push('the item schema differs here');
  return diffs.length ? diffs.join('; ') : null;
}
