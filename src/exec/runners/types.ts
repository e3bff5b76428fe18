import type { BudgetStop } from '../budget.js';
import type { Item } from '../../config/seeds.js';
import type { Prompt } from '../prompt.js';
import type { Usage } from './usage.js';
import type { AttemptFiles } from '../attemptFiles.js';

import type { AttemptSchema } from '../schema/runSchema.js';

export type { AttemptFiles, AttemptSchema };

export interface AgentRequest {
  target: string;
  phase: string;
  batch: number;
  batchCount: number;
  attempt: number;
  prompt: Prompt;
  inputItems: Item[];
  /** The CF_* variables of the agent protocol. */
  env: Record<string, string>;
  files: AttemptFiles | null;
  /** The phase's max_output: an answer larger than this many bytes is refused before it is read. */
  maxOutput: number;
  /** The phase's schema for these items (absent: the phase has none). cf checks every answer against it whatever a runner does with it. */
  schema?: AttemptSchema;
  signal: AbortSignal;
  /**
   * The same object for every attempt of one batch (the attempt loop's): what a runner keeps across a
   * batch's attempts is keyed by it (the API runners' budget of repeated requests). Absent: the attempt
   * stands alone.
   */
  batchRun?: object;
}

export type AgentFailure =
  | { kind: 'exit'; code: number; detail: string }
  | { kind: 'signal'; signal: string; detail: string }
  /** `left`: what it started that could not be killed (`pid 123 (sleep)`); absent when the whole tree was seen gone. */
  | { kind: 'timeout'; ms: number; left?: string[] }
  /** The agent could not be started at all (no such command): retrying cannot help. */
  | { kind: 'spawn'; message: string }
  /** The API refused or failed after its transport retries (not an invalid answer). */
  | { kind: 'api'; message: string; fatal: boolean }
  /** The answer cannot be taken (over max_output, not UTF-8): an invalid output, retried as one. */
  | { kind: 'output'; message: string }
  /** The build's budget (--max-cost) would be exceeded by this attempt: it was not started. */
  | { kind: 'budget'; stop: BudgetStop }
  | { kind: 'cancelled' };

/**
 * On success the output is in files.output, or given here as text by runners that do not use files.
 * `usage`: what the attempt consumed (tokens, dollars), when the runner knows; failures can cost too.
 */
export type AgentResult =
  | { ok: true; output?: string; usage?: Usage; note?: string }
  /** `partial`: what the agent answered before it failed (an answer cut off at max_tokens), kept in the attempt's files. */
  | { ok: false; failure: AgentFailure; usage?: Usage; partial?: string };

/** A way to run an agent: one fresh run per attempt. */
export interface AgentRunner {
  /** file: the agent writes CF_OUTPUT_FILE; reply: the answer comes back in the result. */
  readonly delivery: 'file' | 'reply';
  /**
   * A runner whose agent hands in its answer through a tool that holds it to the batch schema (Claude
   * Code's StructuredOutput, with --json-schema), when the request's schema constrains: the tool's name,
   * for the prompt. Absent: the answer is delivered as `delivery` says.
   */
  readonly answerTool?: string;
  /** False for runners that only wait (e.g. a Message Batch): they do not take a -j slot. */
  readonly pooled?: boolean;
  /** True when its results carry a cost (so --max-cost can be enforced). */
  readonly priced?: boolean;
  /** An upper estimate of one attempt's cost in dollars, for the budget; null when unknown. */
  estimateCost?(req: AgentRequest): number | null;
  run(req: AgentRequest): Promise<AgentResult>;
}
