import type { Item } from '../config/seeds.js';
import type { AttemptError, AttemptUsage, BatchOutcome, CheckResult } from './attempts.js';
import type { BudgetStop } from './budget.js';
import type { AgentResult } from './runners/types.js';
import type { ValidationError } from './validate.js';

/*
 * The execution seam: the engine decides what to run and records what comes back; an executor runs it.
 * A job is plain JSON (no closures, no signals, no handles): it can be queued, sent to another machine,
 * or round-tripped through JSON.stringify/parse, and the build is the same (a test proves it). The
 * executor resolves the phase's runner and validator from its own pipeline, by the phase's name.
 */

/**
 * The vocabulary a validator may use (the GATE), as data: the words taught before the first item, then
 * the words each later position first teaches, and the seed position of each item of the job.
 */
export interface VocabularySpec {
  before: string[];
  taught: Array<[position: number, words: string[]]>;
  positions: Record<string, number>;
}

/** What a job's items see beyond themselves: a prompt section, and what the validator may use. */
export interface ContextSpec {
  prompt: string;
  vocabulary?: VocabularySpec;
}

interface JobBase {
  v: 1;
  /** A batch target (`phase#k`), or the label of a run packing several batches' items (`phase#3+7`). */
  target: string;
  phase: string;
  batch: number;
  batchCount: number;
  /** -j slots go to lower values first (batch order, then phase order). */
  priority: number;
  idField: string;
  /** The phase's intelligence, as the key was computed with. */
  intelligence: string;
  inputItems: Item[];
  inputIds: string[];
  context?: ContextSpec;
  /** Where the attempts keep their files (an executor elsewhere uses its own); null: in memory. */
  runDir: string | null;
  /** A batch job's key (what it is made from, hashed): a queue names the job by it, so it is enqueued once. */
  key?: string;
}

/** The attempt loop over a whole batch: agent, validation, retries with the errors. */
export interface BatchJobSpec extends JobBase {
  kind: 'batch';
}

/**
 * One agent run over some items (items: independent, possibly of several batches): its answer is checked
 * item by item (built-in checks only); each batch then validates its own items assembled (a `check` job).
 */
export interface ItemsJobSpec extends JobBase {
  kind: 'items';
  /** Which attempt this run is (1: the items' first). */
  attempt: number;
  /** Errors of the previous outputs of these items, for the prompt. */
  previousErrors: ValidationError[];
}

/** A check of an output no agent wrote now: a batch assembled from cached items, an adopted file, a hand edit. */
export interface CheckJobSpec extends JobBase {
  kind: 'check';
  output: Item[];
  /** What the output is, for the files a command validator reads ("assembled from cached and new items"). */
  note: string;
}

export type JobSpec = BatchJobSpec | ItemsJobSpec | CheckJobSpec;

/** What an items job gave: the items that came back well formed, and each other item's errors. */
export type ItemsOutcome =
  | { kind: 'ran'; items: Record<string, Item>; failed: Record<string, Array<ValidationError & { source: AttemptError['source'] }>>; fatal: boolean; usage: AttemptUsage | null }
  | { kind: 'stopped'; stop: BudgetStop }
  | { kind: 'cancelled' };

export type JobOutcome<S extends JobSpec = JobSpec> = S extends BatchJobSpec ? BatchOutcome : S extends ItemsJobSpec ? ItemsOutcome : CheckResult;

/** What happens while a job runs, as it happens (the engine turns these into build events). */
export type JobEvent =
  /** An attempt's agent got its slot and starts (`worker`: on which worker of a queue). */
  | { kind: 'attempt'; attempt: number; of: number; worker?: string }
  /** A process of the job (agent or validator) took a -j slot, or gave it back. */
  | { kind: 'process'; what: 'agent' | 'validator'; state: 'start' | 'end' }
  /** An attempt was rejected; the next one starts with these errors in its prompt. */
  | { kind: 'retried'; attempt: number; of: number; errors: AttemptError[] }
  /** An attempt's agent run ended: what it consumed (null when the runner reports nothing), and where its files are. */
  | { kind: 'attempt-done'; attempt: number; usage: AttemptUsage | null; dir: string | null }
  /** A worker of a queue would not run the job (its checkout's runner or validator differs): another takes it. */
  | { kind: 'refused'; worker: string; reason: string };

/**
 * Around each agent run of a job: what a queue's worker puts there (the limits and the budget every worker
 * shares, in Redis). `estimateUsd`: the runner's own estimate of the run's cost, when it has one. It runs
 * `run` or answers for it (a budget stop).
 */
export type AroundRun = (phase: string, estimateUsd: number | null, run: () => Promise<AgentResult>) => Promise<AgentResult>;

export interface JobOptions {
  /** Stops the job: its processes' trees are killed, and it ends `cancelled`. */
  signal: AbortSignal;
  onEvent?(e: JobEvent): void;
  around?: AroundRun;
}

export interface BatchExecutor {
  execute<S extends JobSpec>(spec: S, o: JobOptions): Promise<JobOutcome<S>>;
}

/**
 * An executor that passes every job and outcome through JSON, as a queue or another machine would:
 * anything that does not survive it (a Map, a closure, undefined where a value is meant) breaks the build.
 */
export class JsonRoundTrip implements BatchExecutor {
  constructor(private readonly inner: BatchExecutor) {}

  async execute<S extends JobSpec>(spec: S, o: JobOptions): Promise<JobOutcome<S>> {
    const sent = JSON.parse(JSON.stringify(spec)) as S;
    const outcome = await this.inner.execute(sent, { signal: o.signal, ...(o.onEvent ? { onEvent: (e: JobEvent) => o.onEvent!(JSON.parse(JSON.stringify(e)) as JobEvent) } : {}) });
    return JSON.parse(JSON.stringify(outcome)) as JobOutcome<S>;
  }
}
