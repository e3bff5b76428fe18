import type { BudgetStop } from './budget.js';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PhaseConfig } from '../config/pipeline.js';
import type { Item } from '../config/seeds.js';
import { formatDuration } from '../util/duration.js';
import { unreachable } from '../util/result.js';
import { scrubSecrets } from '../util/secrets.js';
import { itemsText, prepareFiles, protocolEnv, resetRunDir, schemaPaths, type AttemptLabel } from './attemptFiles.js';
import { overMaxOutput, readAnswerFile } from './runners/answerText.js';
import type { AgentFailure, AgentRunner, AttemptFiles } from './runners/types.js';
import type { Usage } from './runners/usage.js';
import { renderPrompt } from './prompt.js';
import { attemptSchema } from './schema/runSchema.js';
import { builtinValidate, describeError, type ValidationError, type Validator, type ValidatorContext } from './validate.js';

/** How an agent's run failed (not its output): what a dashboard or a retry policy reads, typed. */
export type AgentRunFailure = Exclude<AgentFailure, { kind: 'cancelled' | 'output' | 'budget' }>;

/** One error of one attempt, as recorded and shown by `cf status`. */
export interface AttemptError extends ValidationError {
  attempt: number;
  /** agent: the run itself failed; output: the built-in checks; validator: the phase's validator. */
  source: 'agent' | 'output' | 'validator';
  /** source agent: how the run failed (exit code and stderr, signal, timeout, spawn, API), as data. */
  failure?: AgentRunFailure;
}

/** What one attempt consumed, as recorded with its batch. */
export interface AttemptUsage extends Usage {
  attempt: number;
}

/** One agent run: what it is given and where its files go (no validation: see BatchJob). */
export interface AttemptJob {
  target: string;
  phase: PhaseConfig;
  batch: number;
  batchCount: number;
  idField: string;
  intelligence: string;
  inputItems: Item[];
  inputIds: string[];
  runner: AgentRunner;
  /** .cf/runs/PHASE/BATCH: where each attempt's prompt, input, output and logs are kept; null in memory. */
  runDir: string | null;
  /** The phase's context, for the prompt (rendered) and the validator. */
  context?: { prompt: string; validator: ValidatorContext };
  signal: AbortSignal;
  /**
   * Runs a process of this batch (its agent, its validator) in one of the build's -j slots. Without it the
   * caller already holds a slot for the whole attempt. Preparing files and recording the output happen
   * outside the slot, so the next agent can start while this batch does its bookkeeping.
   */
  exclusive?: Exclusive;
  onAttempt(attempt: number): void;
  /** After each attempt's agent run that started (not one cancelled or refused by the budget): what it consumed, when known, and where its files are. */
  onAttemptDone?(attempt: number, usage: AttemptUsage | null, dir: string | null): void;
}

export interface BatchJob extends AttemptJob {
  validator: Validator | null;
  onRetry(attempt: number, errors: AttemptError[]): void;
}

/** What one agent run gave, before any validation. */
export type AgentAttempt =
  /** The agent finished: its answer (null when it wrote none), with the environment and files a validator reads. */
  | { kind: 'answered'; text: string | null; env: Record<string, string>; files: AttemptFiles | null; usage: AttemptUsage | null }
  /** The run failed; `fatal`: no retry can help (the agent cannot start, the API refuses). */
  | { kind: 'failed'; error: AttemptError; fatal: boolean; files: AttemptFiles | null; usage: AttemptUsage | null }
  /** Not started because of the budget. */
  | { kind: 'stopped'; stop: BudgetStop }
  | { kind: 'cancelled' };

export type BatchOutcome =
  | { kind: 'valid'; items: Item[]; attempts: number; warnings: ValidationError[]; usage: AttemptUsage[] }
  | { kind: 'failed'; attempts: number; errors: AttemptError[]; usage: AttemptUsage[] }
  /** Not started (or not continued) because of the budget; earlier attempts' errors and usage kept. */
  | { kind: 'stopped'; stop: BudgetStop; attempts: number; errors: AttemptError[]; usage: AttemptUsage[] }
  | { kind: 'cancelled' };

// An attempt's files and variables (attemptFiles.ts), with the loop that uses them.
export { checkFiles, itemsText, prepareFiles, protocolEnv, resetRunDir, type AttemptLabel } from './attemptFiles.js';

function agentFailureMessage(f: AgentRunFailure): string {
  switch (f.kind) {
    case 'exit':
      return `the agent exited with code ${f.code}${f.detail ? `: ${f.detail}` : ''}`;
    case 'signal':
      return `the agent was killed by ${f.signal}${f.detail ? `: ${f.detail}` : ''}`;
    case 'timeout':
      return f.left?.length
        ? `the agent timed out after ${formatDuration(f.ms)}; still running after SIGKILL: ${f.left.join(', ')}`
        : `the agent timed out after ${formatDuration(f.ms)}; its process tree was killed`;
    case 'spawn':
      return `the agent could not be started: ${f.message}`;
    case 'api':
      return `the API call failed: ${f.message}`;
    default:
      return unreachable(f);
  }
}

/** Runs a process of a batch (its agent, or its validator) in one of the build's -j slots (or, `direct`, at once). */
export type Exclusive = <T>(what: 'agent' | 'validator', run: () => Promise<T>) => Promise<T>;
const direct: Exclusive = (_what, run) => run();

export type CheckResult =
  | { kind: 'valid'; items: Item[]; warnings: ValidationError[] }
  /** `fatal`: the validator itself is broken; another attempt cannot help. */
  | { kind: 'invalid'; errors: Array<ValidationError & { source: 'output' | 'validator' }>; fatal: boolean }
  | { kind: 'cancelled' };

/** Judges one output: the built-in checks (ids), then the phase's validator. Used by attempts and by adopt. */
export async function checkOutput(o: {
  text: string | null;
  inputItems: Item[];
  inputIds: string[];
  idField: string;
  validator: Validator | null;
  env: Record<string, string>;
  files: AttemptFiles | null;
  signal: AbortSignal;
  context?: ValidatorContext;
  /** Runs the validator in a -j slot (see AttemptJob.exclusive). */
  exclusive?: Exclusive;
}): Promise<CheckResult> {
  const built = builtinValidate(o.text, o.inputIds, o.idField);
  if (!built.ok) return { kind: 'invalid', errors: built.errors.map((e) => ({ source: 'output' as const, ...e })), fatal: false };
  if (!o.validator) return { kind: 'valid', items: built.items, warnings: [] };
  const validator = o.validator;
  const v = await (o.exclusive ?? direct)('validator', () =>
    validator.validate({
      items: built.items,
      inputItems: o.inputItems,
      itemIds: o.inputIds,
      env: o.env,
      files: o.files,
      signal: o.signal,
      ...(o.context ? { context: o.context } : {}),
    }),
  );
  switch (v.kind) {
    case 'valid':
      return { kind: 'valid', items: built.items, warnings: v.warnings ?? [] };
    case 'invalid':
      return { kind: 'invalid', errors: v.errors.map((e) => ({ source: 'validator' as const, ...e })), fatal: false };
    case 'broken':
      return { kind: 'invalid', errors: [{ source: 'validator', message: v.message }], fatal: true };
    case 'cancelled':
      return v;
    default:
      return unreachable(v);
  }
}

/**
 * What of an attempt's errors goes into the next attempt's prompt: the errors of its output (the built-in
 * checks, the validator), for the model to fix. How the run itself failed (an exit code, a timeout, an API
 * error such as an HTTP 500 or an answer cut off at max_tokens) is not the model's to fix: it is recorded
 * and shown, not put in a prompt.
 */
export function promptErrors(errors: readonly AttemptError[]): ValidationError[] {
  return errors.filter((e) => e.source !== 'agent').map(({ attempt: _a, source: _s, failure: _f, ...e }) => e);
}

/** A path as people read it: from the working directory when it is under it, else absolute. */
function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/**
 * One agent run: its prompt (with the previous errors, on a retry) and files prepared, the agent run, its
 * answer read. `attempt` 1 starts the run directory afresh. `batchRun`: the same object for every attempt
 * of one batch (runners key what spans attempts by it); a fresh one makes the attempt stand alone.
 */
export async function runAgentAttempt(job: AttemptJob, attempt: number, previous: ValidationError[], batchRun: object = {}): Promise<AgentAttempt> {
  const inputJson = itemsText(job.inputItems);
  if (attempt === 1 && job.runDir) resetRunDir(job.runDir);
  const label: AttemptLabel = { phase: job.phase.name, batch: job.batch, batchCount: job.batchCount, attempt, target: job.target };
  const dir = job.runDir ? path.join(job.runDir, `attempt-${attempt}`) : null;
  const schema = attemptSchema(job.phase, job.inputIds, job.idField);
  // An agent that writes files reads the schema from them (the API runners send it to constrain decoding).
  // One that hands it in through a tool holding it to the batch schema (claude-code's --json-schema) is told that tool.
  const answerTool = schema?.constrain ? job.runner.answerTool : undefined;
  const schemaFiles = schema && job.runner.delivery === 'file' && !answerTool ? (dir ? schemaPaths(dir) : { schema: '$CF_SCHEMA_FILE', itemSchema: '$CF_ITEM_SCHEMA_FILE' }) : undefined;
  const prompt = renderPrompt({
    intelligence: job.intelligence,
    phase: job.phase.name,
    batch: job.batch,
    batchCount: job.batchCount,
    attempt,
    attempts: job.phase.attempts,
    idField: job.idField,
    delivery: job.runner.delivery,
    itemIds: job.inputIds,
    inputJson,
    outputFile: dir ? path.join(dir, 'output.json') : '$CF_OUTPUT_FILE',
    previousErrors: previous,
    ...(job.context ? { context: job.context.prompt } : {}),
    ...(schemaFiles ? { schemaFiles } : {}),
    ...(answerTool ? { answerTool } : {}),
  });
  const files = dir ? prepareFiles(dir, prompt.full, inputJson, schema) : null;
  const env = protocolEnv(label, files);
  const result = await (job.exclusive ?? direct)('agent', () => {
    job.onAttempt(attempt);
    return job.runner.run({
      target: job.target,
      phase: job.phase.name,
      batch: job.batch,
      batchCount: job.batchCount,
      attempt,
      prompt,
      inputItems: job.inputItems,
      env,
      files,
      maxOutput: job.phase.maxOutput,
      ...(schema ? { schema } : {}),
      signal: job.signal,
      batchRun,
    });
  });
  const usage: AttemptUsage | null = result.usage ? { attempt, ...result.usage } : null;
  // A run that started is reported, a cancelled one too when it spent something (Ctrl-C mid-run: the
  // dollars its stream showed are counted); one the budget refused never started.
  if (result.ok || (result.failure.kind !== 'budget' && (result.failure.kind !== 'cancelled' || usage))) job.onAttemptDone?.(attempt, usage, dir);
  // Text from outside (an answer, a failure's detail, an API's error message) is scrubbed of secrets here,
  // before anything is recorded, written or shown.
  const invalid = (message: string): AgentAttempt => ({ kind: 'failed', error: { attempt, source: 'output', message: scrubSecrets(message) }, fatal: false, files, usage });
  if (!result.ok) {
    const f = result.failure;
    if (f.kind === 'cancelled') return { kind: 'cancelled' };
    if (f.kind === 'budget') return { kind: 'stopped', stop: f.stop };
    if (f.kind === 'output') return invalid(f.message);
    let failure = JSON.parse(scrubSecrets(JSON.stringify(f))) as AgentRunFailure;
    // What came before the run failed (an answer cut off at max_tokens) is kept for people to read.
    if (result.partial !== undefined && files && failure.kind === 'api') {
      await writeFile(files.output, scrubSecrets(result.partial));
      failure = { ...failure, message: `${failure.message} (the answer as far as it came is kept in ${shownPath(files.output)})` };
    }
    return { kind: 'failed', error: { attempt, source: 'agent', message: scrubSecrets(agentFailureMessage(failure)), failure }, fatal: f.kind === 'spawn' || (f.kind === 'api' && f.fatal), files, usage };
  }
  let text: string | null;
  if (result.output !== undefined) {
    // A runner that answers in memory still leaves its answer on disk, for validators and for people.
    const over = overMaxOutput(Buffer.byteLength(result.output), job.phase.maxOutput, job.phase.name);
    if (over) return invalid(over);
    text = scrubSecrets(result.output);
    if (files) await writeFile(files.output, text);
  } else {
    const read = files ? readAnswerFile(files.output, job.phase.maxOutput, job.phase.name) : null;
    if (read && !read.ok) return invalid(read.message);
    text = read ? scrubSecrets(read.text) : null;
    if (read && files && text !== read.text) await writeFile(files.output, text!);
  }
  return { kind: 'answered', text, env, files, usage };
}

/** Keeps an attempt's errors beside its files (.cf/runs/…/attempt-N/errors.txt). */
export async function writeErrors(files: AttemptFiles | null, errors: ValidationError[]): Promise<void> {
  if (files && errors.length) await writeFile(path.join(files.dir, 'errors.txt'), `${errors.map(describeError).join('\n')}\n`);
}

/**
 * Runs one batch: up to `attempts` fresh agent runs, each validated (built-in checks, then the phase's
 * validator); a retry's prompt carries the errors of the last output that was judged (promptErrors).
 * Failures that no retry can fix (the agent or the validator cannot start, the API refuses, the batch's
 * repeated requests are spent) end the batch at once. The attempts share one `batchRun`: an API runner's
 * repeated requests count against one budget for the whole batch.
 */
export async function runBatch(job: BatchJob): Promise<BatchOutcome> {
  const all: AttemptError[] = [];
  const usage: AttemptUsage[] = [];
  let previous: ValidationError[] = [];
  const max = job.phase.attempts;
  const batchRun = {};
  for (let attempt = 1; attempt <= max; attempt++) {
    const run = await runAgentAttempt(job, attempt, previous, batchRun);
    if (run.kind === 'cancelled') return run;
    if (run.kind === 'stopped') return { kind: 'stopped', stop: run.stop, attempts: attempt - 1, errors: all, usage };
    if (run.usage) usage.push(run.usage);
    let errors: AttemptError[];
    let fatal: boolean;
    if (run.kind === 'failed') {
      errors = [run.error];
      fatal = run.fatal;
    } else {
      const checked = await checkOutput({
        text: run.text,
        inputItems: job.inputItems,
        inputIds: job.inputIds,
        idField: job.idField,
        validator: job.validator,
        env: run.env,
        files: run.files,
        signal: job.signal,
        ...(job.context ? { context: job.context.validator } : {}),
        ...(job.exclusive ? { exclusive: job.exclusive } : {}),
      });
      if (checked.kind === 'cancelled') return checked;
      if (checked.kind === 'valid') return { kind: 'valid', items: checked.items, attempts: attempt, warnings: checked.warnings, usage };
      errors = checked.errors.map((e) => ({ attempt, ...e }));
      fatal = checked.fatal;
    }
    all.push(...errors);
    await writeErrors(run.files, errors);
    if (fatal || attempt === max) return { kind: 'failed', attempts: attempt, errors: all, usage };
    // A run that failed (not its output) leaves the last judged output's errors in place: still what to fix.
    const forPrompt = promptErrors(errors);
    if (forPrompt.length) previous = forPrompt;
    job.onRetry(attempt + 1, errors);
  }
  return { kind: 'failed', attempts: max, errors: all, usage };
}
