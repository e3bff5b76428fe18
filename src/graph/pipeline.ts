import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { UserError } from '../util/errors.js';
import { hashString, initHashing } from '../util/hash.js';
import { err, ok, type Result } from '../util/result.js';
import { declareSecretNames } from '../util/secrets.js';
import type { RuleOptions, Severity, SsiKind } from '../rules/ssi/types.js';
import type { Batching } from './batching.js';
import type { Limits } from '../runners/limits.js';
import type { Price } from '../runners/pricing.js';
import { STATE_FORMAT } from '../version.js';

export const PIPELINE_FILE = 'pipeline.yaml';

/** Bumped when the parsed Pipeline's shape changes: a .cf/pipeline.json of another shape is parsed again. */
const PARSED_FORMAT = 2;

/** How a process is started: an argv run without a shell, or a string run by /bin/sh. */
export type CommandSpec = { argv: string[] } | { shell: string };

interface RunnerBase {
  name: string;
  timeoutMs: number;
  env: Record<string, string>;
  /** Extra files whose content is part of every key that uses this runner (e.g. data the agent reads). */
  deps: string[];
}

/** Model settings: on an API runner, and overridable per phase (they shape the answer: part of the key). */
export interface ModelSettings {
  model?: string;
  maxTokens?: number;
  temperature?: number;
}

/** A local process per attempt. */
export interface CommandRunnerConfig extends RunnerBase {
  kind: 'command';
  command: CommandSpec;
  /** claude-code: Claude Code headless; its JSON envelope gives the answer, tokens and cost. */
  preset: 'claude-code' | null;
  /** Working directory of each run: the pipeline directory, or the attempt's own directory. */
  cwd: 'pipeline' | 'run';
  model: ModelSettings;
  limits: Limits;
}

/** A model behind an HTTP API, through its official client. */
export interface ApiRunnerConfig extends RunnerBase {
  kind: 'anthropic' | 'openai';
  model: ModelSettings & { model: string; maxTokens: number };
  /** The environment variable holding the API key (never the key itself). */
  apiKeyEnv: string;
  /** null: the client's own default (which honours ANTHROPIC_BASE_URL / OPENAI_BASE_URL). */
  baseUrl: string | null;
  /** messages: one request per attempt; batch: a phase's stale batches go out as one Message Batch (anthropic). */
  mode: 'messages' | 'batch';
  pollIntervalMs: number;
  /** Transport retries (429, 529, 5xx, resets) per request, with backoff honouring Retry-After. */
  maxRetries: number;
  limits: Limits;
}

/** Answers each batch from a recorded output file, by item id (offline rebuilds, tests). */
export interface ReplayRunnerConfig extends RunnerBase {
  kind: 'replay';
  recording: string;
  /** The recording's format; detected from its content when null. */
  as: SsiKind | null;
}

export type RunnerConfig = CommandRunnerConfig | ReplayRunnerConfig | ApiRunnerConfig;

export const RUNNER_KINDS = ['command', 'replay', 'anthropic', 'openai'] as const;

/** A phase's validation after the built-in checks: a rule set, a command, or both (rules first). */
export interface ValidateConfig {
  rules: SsiKind | null;
  command: CommandSpec | null;
  timeoutMs: number;
  severity: Record<string, Severity | 'off'>;
  lists: RuleOptions['lists'];
}

/** How a phase's merged output is written: a JSON array of items, or an SSi document. */
export interface MergeConfig {
  format: 'json' | SsiKind;
  version: string | null;
}

export interface CourseConfig {
  code: string;
  targetLanguage: string;
  knownLanguage: string;
  /** Substituted for {target} in every seed. */
  targetName: string | null;
}

export interface PhaseConfig {
  name: string;
  index: number;
  /** "seeds" or an earlier phase's name. */
  from: string;
  intelligence: string;
  runner: string;
  output: string;
  attempts: number;
  /** Bytes: a larger answer is an invalid output, refused before it is read (not part of any key). */
  maxOutput: number;
  validate: ValidateConfig | null;
  merge: MergeConfig;
  deps: string[];
  /** Overrides of the runner's model settings for this phase. */
  model: ModelSettings;
  /** batch: a batch's key covers all its items; independent: every item is cached on its own. */
  items: 'batch' | 'independent';
  /** Data derived from earlier seeds that this phase reads (see context.ts). */
  context: ContextConfig | null;
}

/** vocabulary: the words of the LEGO targets of the named phase, over every seed before the item. */
export interface ContextConfig {
  vocabulary: string;
}

export interface Pipeline {
  /** Absolute directory holding pipeline.yaml; every relative path is relative to it. */
  dir: string;
  file: string;
  seeds: string;
  idField: string;
  batchSize: number;
  /** How seeds are cut into batches (batching.ts). */
  batching: Batching;
  jobs: number;
  course: CourseConfig | null;
  runners: Map<string, RunnerConfig>;
  phases: PhaseConfig[];
  /** Model-id prefix → USD per million tokens (defaults for current Claude models, extended here). */
  prices: Record<string, Price>;
}


/**
 * Reads pipeline.yaml. The parsed result is kept in .cf/pipeline.json under the hash of the file's text:
 * an unchanged pipeline.yaml is not parsed again (YAML and the schema library are not even loaded).
 * The files it names are checked every time.
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
  const cacheFile = path.join(dir, '.cf', 'pipeline.json');
  const key = `${STATE_FORMAT}\u0000${PARSED_FORMAT}\u0000${dir}\u0000${hashString(text)}`;
  const cached = await readFile(cacheFile, 'utf8').then(
    (t) => JSON.parse(t) as { key: string; pipeline: Omit<Pipeline, 'runners'> & { runners: Array<[string, RunnerConfig]> } },
    () => null,
  );
  if (cached?.key === key) {
    const pipeline: Pipeline = { ...cached.pipeline, file: shown, runners: new Map(cached.pipeline.runners) };
    // A named file that went missing is reported by the full parse, with its line.
    if (await namedFilesExist(pipeline)) return ok(declareKeys(pipeline));
  }
  const { parsePipeline } = await import('./pipelineParse.js');
  const r = await parsePipeline(dir, file, text);
  if (r.ok) {
    const { writeAtomic } = await import('../util/fsx.js');
    await writeAtomic(cacheFile, JSON.stringify({ key, pipeline: { ...r.value, runners: [...r.value.runners] } })).catch(() => undefined);
    declareKeys(r.value);
  }
  return r;
}

/** The variables the pipeline names as holding API keys are secrets whatever their names (util/secrets.ts). */
function declareKeys(p: Pipeline): Pipeline {
  declareSecretNames([...p.runners.values()].flatMap((r) => (r.kind === 'anthropic' || r.kind === 'openai' ? [r.apiKeyEnv] : [])));
  return p;
}

/** The files a pipeline names (seeds, intelligence, deps, recordings). */
export function namedFiles(p: Pipeline): string[] {
  const files = [p.seeds];
  for (const phase of p.phases) files.push(phase.intelligence, ...phase.deps);
  for (const r of p.runners.values()) {
    files.push(...r.deps);
    if (r.kind === 'replay') files.push(r.recording);
  }
  return files;
}

async function namedFilesExist(p: Pipeline): Promise<boolean> {
  for (const f of namedFiles(p)) {
    const st = await stat(path.resolve(p.dir, f)).catch(() => null);
    if (!st?.isFile()) return false;
  }
  return true;
}

/** The model settings a phase runs with: its runner's, overridden by the phase's own. */
export function effectiveModel(runner: RunnerConfig, phase: PhaseConfig): ModelSettings {
  return runner.kind === 'replay' ? {} : { ...runner.model, ...phase.model };
}
