import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PhaseConfig } from '../graph/pipeline.js';
import type { Item } from '../graph/seeds.js';
import { formatDuration } from '../util/duration.js';
import { unreachable } from '../util/result.js';
import type { AgentFailure, AgentRunner, AttemptFiles } from '../runners/types.js';
import { renderPrompt } from './prompt.js';
import { builtinValidate, type ValidationError, type Validator } from './validate.js';

/** One error of one attempt, as recorded and shown by `cf status`. */
export interface AttemptError {
  attempt: number;
  /** agent: the run itself failed; output: the built-in checks; validator: the phase's validator. */
  source: 'agent' | 'output' | 'validator';
  item?: string;
  message: string;
}

export interface BatchJob {
  target: string;
  phase: PhaseConfig;
  batch: number;
  batchCount: number;
  idField: string;
  intelligence: string;
  inputItems: Item[];
  inputIds: string[];
  runner: AgentRunner;
  validator: Validator | null;
  /** .cf/runs/PHASE/BATCH: where each attempt's prompt, input, output and logs are kept; null in memory. */
  runDir: string | null;
  signal: AbortSignal;
  onAttempt(attempt: number): void;
  onRetry(attempt: number, errors: AttemptError[]): void;
}

export type BatchOutcome =
  | { kind: 'valid'; items: Item[]; attempts: number }
  | { kind: 'failed'; attempts: number; errors: AttemptError[] }
  | { kind: 'cancelled' };

function agentFailureMessage(f: Exclude<AgentFailure, { kind: 'cancelled' }>): string {
  switch (f.kind) {
    case 'exit':
      return `the agent exited with code ${f.code}${f.detail ? `: ${f.detail}` : ''}`;
    case 'signal':
      return `the agent was killed by ${f.signal}${f.detail ? `: ${f.detail}` : ''}`;
    case 'timeout':
      return `the agent timed out after ${formatDuration(f.ms)}; its process tree was killed`;
    case 'spawn':
      return `the agent could not be started: ${f.message}`;
    default:
      return unreachable(f);
  }
}

async function prepareFiles(runDir: string, attempt: number, prompt: string, inputJson: string): Promise<AttemptFiles> {
  const dir = path.join(runDir, `attempt-${attempt}`);
  await mkdir(dir, { recursive: true });
  const files: AttemptFiles = {
    dir,
    prompt: path.join(dir, 'prompt.md'),
    input: path.join(dir, 'input.json'),
    output: path.join(dir, 'output.json'),
    stdout: path.join(dir, 'stdout.log'),
    stderr: path.join(dir, 'stderr.log'),
  };
  await Promise.all([writeFile(files.prompt, prompt), writeFile(files.input, inputJson)]);
  return files;
}

/**
 * Runs one batch: up to `attempts` fresh agent runs, each validated (built-in checks, then the phase's
 * validator); a retry's prompt carries the previous attempt's errors. Failures that no retry can fix
 * (the agent or the validator cannot start) end the batch at once.
 */
export async function runBatch(job: BatchJob): Promise<BatchOutcome> {
  const inputJson = JSON.stringify(job.inputItems, null, 2);
  const all: AttemptError[] = [];
  let previous: ValidationError[] = [];
  if (job.runDir) await rm(job.runDir, { recursive: true, force: true });
  const max = job.phase.attempts;
  for (let attempt = 1; attempt <= max; attempt++) {
    const env: Record<string, string> = {
      CF_PHASE: job.phase.name,
      CF_BATCH: String(job.batch),
      CF_BATCH_COUNT: String(job.batchCount),
      CF_ATTEMPT: String(attempt),
      CF_TARGET: job.target,
    };
    const outputFile = job.runDir ? path.join(job.runDir, `attempt-${attempt}`, 'output.json') : '$CF_OUTPUT_FILE';
    const prompt = renderPrompt({
      intelligence: job.intelligence,
      phase: job.phase.name,
      batch: job.batch,
      batchCount: job.batchCount,
      attempt,
      attempts: max,
      idField: job.idField,
      itemIds: job.inputIds,
      inputJson,
      outputFile,
      previousErrors: previous,
    });
    const files = job.runDir ? await prepareFiles(job.runDir, attempt, prompt, inputJson) : null;
    if (files) Object.assign(env, { CF_PROMPT_FILE: files.prompt, CF_INPUT_FILE: files.input, CF_OUTPUT_FILE: files.output });
    job.onAttempt(attempt);

    const errors: AttemptError[] = [];
    let fatal = false;
    const result = await job.runner.run({
      target: job.target,
      phase: job.phase.name,
      batch: job.batch,
      batchCount: job.batchCount,
      attempt,
      prompt,
      inputItems: job.inputItems,
      env,
      files,
      signal: job.signal,
    });
    if (!result.ok) {
      if (result.failure.kind === 'cancelled') return { kind: 'cancelled' };
      errors.push({ attempt, source: 'agent', message: agentFailureMessage(result.failure) });
      fatal = result.failure.kind === 'spawn';
    } else {
      const text = result.output ?? (files ? await readFile(files.output, 'utf8').catch(() => null) : null);
      const built = builtinValidate(text, job.inputIds, job.idField);
      if (!built.ok) {
        errors.push(...built.errors.map((e) => ({ attempt, source: 'output' as const, ...e })));
      } else if (!job.validator) {
        return { kind: 'valid', items: built.items, attempts: attempt };
      } else {
        const v = await job.validator.validate({ items: built.items, itemIds: job.inputIds, env, files, signal: job.signal });
        switch (v.kind) {
          case 'valid':
            return { kind: 'valid', items: built.items, attempts: attempt };
          case 'invalid':
            errors.push(...v.errors.map((e) => ({ attempt, source: 'validator' as const, ...e })));
            break;
          case 'broken':
            errors.push({ attempt, source: 'validator', message: v.message });
            fatal = true;
            break;
          case 'cancelled':
            return { kind: 'cancelled' };
          default:
            unreachable(v);
        }
      }
    }
    all.push(...errors);
    if (files) {
      const lines = errors.map((e) => `${e.item ? `${e.item}: ` : ''}${e.message}`);
      await writeFile(path.join(files.dir, 'errors.txt'), `${lines.join('\n')}\n`);
    }
    if (fatal || attempt === max) return { kind: 'failed', attempts: attempt, errors: all };
    previous = errors.map(({ item, message }) => (item ? { item, message } : { message }));
    job.onRetry(attempt + 1, errors);
  }
  return { kind: 'failed', attempts: max, errors: all };
}
