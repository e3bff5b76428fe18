import { mkdirSync, readdirSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AttemptSchema } from './schema/runSchema.js';

/*
 * An attempt's files, under .cf/runs/PHASE/BATCH/attempt-N/: what an agent and a command validator read
 * (the prompt, the input items, the phase's schemas), where the agent writes, and the CF_* variables of the
 * agent protocol that name them.
 */

/** Files of one attempt, under .cf/runs/PHASE/BATCH/attempt-N/ (absent for in-memory runs). */
export interface AttemptFiles {
  dir: string;
  prompt: string;
  input: string;
  output: string;
  stdout: string;
  stderr: string;
  /** The batch schema of the attempt's items (schema.json) and the phase's item schema (item-schema.json), when the phase has a schema. */
  schema?: string;
  itemSchema?: string;
}

/**
 * Items as a JSON array with one item a line: compact for prompts (tokens cost money), easy on line-based
 * tools, still readable.
 */
export function itemsText(items: readonly unknown[]): string {
  return items.length ? `[\n${items.map((it) => JSON.stringify(it)).join(',\n')}\n]` : '[]';
}

/** The files every attempt writes again (truncating them): kept when a run directory is reused. */
const REWRITTEN = new Set(['prompt.md', 'input.json', 'stdout.log', 'stderr.log']);

/**
 * Empties a batch's run directory for a new run: every earlier attempt's files go, except the first
 * attempt's own files that the new run writes again anyway. Overwriting a file costs the filesystem far
 * less than deleting it and creating another (a rebuild after an intelligence edit reruns every batch).
 */
export function resetRunDir(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // not there: nothing to reset
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.name === 'attempt-1' && e.isDirectory()) {
      for (const f of readdirSync(p, { withFileTypes: true })) {
        if (!(REWRITTEN.has(f.name) && f.isFile())) rmSync(path.join(p, f.name), { recursive: true, force: true });
      }
    } else {
      rmSync(p, { recursive: true, force: true });
    }
  }
}

/** Where an attempt's schema files go (CF_SCHEMA_FILE, CF_ITEM_SCHEMA_FILE). */
export const schemaPaths = (dir: string): { schema: string; itemSchema: string } => ({ schema: path.join(dir, 'schema.json'), itemSchema: path.join(dir, 'item-schema.json') });

/**
 * The attempt's directory and its prompt and input files (and, when the phase has a schema, the batch
 * schema and the item schema). Synchronous on purpose: small writes between one agent run and the next;
 * through the thread pool each waited its turn behind the running agents.
 */
export function prepareFiles(dir: string, prompt: string, inputJson: string, schema?: AttemptSchema): AttemptFiles {
  mkdirSync(dir, { recursive: true });
  const files: AttemptFiles = {
    dir,
    prompt: path.join(dir, 'prompt.md'),
    input: path.join(dir, 'input.json'),
    output: path.join(dir, 'output.json'),
    stdout: path.join(dir, 'stdout.log'),
    stderr: path.join(dir, 'stderr.log'),
    ...(schema ? schemaPaths(dir) : {}),
  };
  writeFileSync(files.prompt, prompt);
  writeFileSync(files.input, inputJson);
  if (schema) {
    writeFileSync(files.schema!, `${JSON.stringify(schema.batch, null, 2)}\n`);
    writeFileSync(files.itemSchema!, `${JSON.stringify(schema.item, null, 2)}\n`);
  }
  return files;
}

/** Who an attempt is for: what the CF_* variables of the agent protocol name. */
export interface AttemptLabel {
  phase: string;
  batch: number;
  batchCount: number;
  /** 1, 2, …: an agent run; 0: a check of an output no agent wrote now (assembled, adopted, edited by hand). */
  attempt: number;
  target: string;
}

/** The CF_* variables an agent or a command validator gets (and the attempt's files, when on disk). */
export function protocolEnv(a: AttemptLabel, files: AttemptFiles | null): Record<string, string> {
  return {
    CF_PHASE: a.phase,
    CF_BATCH: String(a.batch),
    CF_BATCH_COUNT: String(a.batchCount),
    CF_ATTEMPT: String(a.attempt),
    CF_TARGET: a.target,
    ...(files ? { CF_PROMPT_FILE: files.prompt, CF_INPUT_FILE: files.input, CF_OUTPUT_FILE: files.output } : {}),
    ...(files?.schema && files.itemSchema ? { CF_SCHEMA_FILE: files.schema, CF_ITEM_SCHEMA_FILE: files.itemSchema } : {}),
  };
}

/**
 * The files of a check of an output no agent wrote now (a batch assembled from cached items, an adopted
 * file, a hand edit): in `dir`, a note for the prompt, the input items and the output, where a command
 * validator reads them as after an agent run. Null in memory (no `dir`).
 */
export async function checkFiles(dir: string | null, note: string, inputItems: readonly unknown[], output: string, schema?: AttemptSchema): Promise<AttemptFiles | null> {
  if (!dir) return null;
  const files = prepareFiles(dir, `${note}\n`, itemsText(inputItems), schema);
  await writeFile(files.output, output);
  return files;
}
