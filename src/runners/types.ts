import type { Item } from '../graph/seeds.js';

/** Files of one attempt, under .cf/runs/PHASE/BATCH/attempt-N/ (absent for in-memory runs). */
export interface AttemptFiles {
  dir: string;
  prompt: string;
  input: string;
  output: string;
  stdout: string;
  stderr: string;
}

export interface AgentRequest {
  target: string;
  phase: string;
  batch: number;
  batchCount: number;
  attempt: number;
  prompt: string;
  inputItems: Item[];
  /** The CF_* variables of the agent protocol. */
  env: Record<string, string>;
  files: AttemptFiles | null;
  signal: AbortSignal;
}

export type AgentFailure =
  | { kind: 'exit'; code: number; detail: string }
  | { kind: 'signal'; signal: string; detail: string }
  | { kind: 'timeout'; ms: number }
  /** The agent could not be started at all (no such command): retrying cannot help. */
  | { kind: 'spawn'; message: string }
  | { kind: 'cancelled' };

/** On success the output is in files.output, or given here as text by runners that do not use files. */
export type AgentResult = { ok: true; output?: string } | { ok: false; failure: AgentFailure };

/** A way to run an agent: one fresh run per attempt. */
export interface AgentRunner {
  run(req: AgentRequest): Promise<AgentResult>;
}
