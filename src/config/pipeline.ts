import path from 'node:path';
import type { Batching } from '../engine/batching.js';
import type { CacheConfig } from './cacheConfig.js';
import type { Limits } from '../exec/runners/limits.js';
import type { Price } from '../exec/runners/pricing.js';

/*
 * A pipeline as cf holds it once pipeline.yaml is read (loadPipeline.ts, parse.ts), and the facts derived
 * from it alone: the files it reads, the model settings a phase runs with.
 */

export const PIPELINE_FILE = 'pipeline.yaml';

/**
 * A command's argument (or its shell text) naming the pipeline's directory: replaced when the command
 * starts (agents and validators also get it as the variable CF_PIPELINE_DIR). Written so, an absolute
 * path does not make keys depend on where a checkout is.
 */
export const PIPELINE_DIR = '$CF_PIPELINE_DIR';

/** How a process is started: an argv run without a shell, or a string run by /bin/sh. */
export type CommandSpec = { argv: string[] } | { shell: string };

/** What every runner's config holds, whatever its kind. */
export interface RunnerBase {
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
  /** claude-code: Claude Code reads CLAUDE.md files (`claude_md: true`); off, it reads none. */
  claudeMd?: boolean;
  /**
   * claude-code: how a phase's schema reaches the run (exec/runners/claudeCode.ts): tool, the CLI's
   * `--json-schema` (its StructuredOutput tool, whose input the CLI checks against the batch schema); off,
   * the schema files named in the prompt. Absent: tool.
   */
  structured?: 'tool' | 'off';
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
  /**
   * How a phase's schema constrains decoding (exec/runners/structured.ts): openai strict | loose | off,
   * anthropic format | tool | off; null: the kind's default for the runner's base_url (openai) or the
   * phase's model (anthropic).
   */
  structured: StructuredMode | null;
}

/** `structured:` of an API runner: what it sends of a phase's schema (exec/runners/structured.ts). */
export type StructuredMode = 'strict' | 'loose' | 'format' | 'tool' | 'off';

/** Answers each batch from a recorded output file, by item id (offline rebuilds, tests). */
export interface ReplayRunnerConfig extends RunnerBase {
  kind: 'replay';
  recording: string;
  /** The recording's document kind (plugins.ts); detected from its content when null. */
  as: string | null;
}

/**
 * A runner of a kind a domain registered (plugins.ts, RunnerPlugin): pipeline.yaml names it
 * `<namespace>:<name>` and gives its own settings under `options:`, which its kind checked. `options` is
 * JSON, the same on every machine (it is part of the keys, and of .cf/pipeline.json).
 */
export interface PluginRunnerConfig<O = unknown> extends RunnerBase {
  kind: `${string}:${string}`;
  model: ModelSettings;
  limits: Limits;
  options: O;
}

/** cf's own kinds, and the registered ones: every kind is looked up by name in the registry (registry.ts). */
export type RunnerConfig = CommandRunnerConfig | ReplayRunnerConfig | ApiRunnerConfig | PluginRunnerConfig;

export type Severity = 'error' | 'warning';

/** A phase's validation after the built-in checks: a rule set, a command, or both (rules first). */
export interface ValidateConfig {
  /** A registered rule set's name (plugins.ts), without its namespace: `ssi:lego_pairs` is "lego_pairs". */
  rules: string | null;
  command: CommandSpec | null;
  timeoutMs: number;
  /** Per rule of the rule set: "error", "warning" or "off". */
  severity: Record<string, Severity | 'off'>;
  /** Per category the rule set names: words that are an error or a warning (e.g. a LEGO of an article alone). */
  lists: Partial<Record<string, { error?: string[]; warning?: string[] }>>;
  /** The rule set's own settings, as it checked them (plugins.ts, RuleSet.options); absent when it takes none. */
  options?: unknown;
}

/** How a phase's merged output is written: "json" (an array of items) or a registered format's name (plugins.ts). */
export interface MergeConfig {
  format: string;
  version: string | null;
}

export interface CourseConfig {
  code: string;
  targetLanguage: string;
  knownLanguage: string;
  /** Substituted for {target} in every seed. */
  targetName: string | null;
}

/** A JSON Schema as cf holds it: a parsed JSON object. */
export type JsonSchema = { [key: string]: unknown };

/**
 * The JSON Schema (draft 2020-12) of one output item of a phase: checked on every item (exec/schema), sent to
 * the model where its runner can constrain decoding with it, and part of the phase's keys (its canonical
 * content's hash: reformatting a schema file changes nothing).
 */
export interface SchemaConfig {
  /** `schema: schemas/x.json` (a JSON or YAML file), an inline mapping, or a domain's kind (`ssi:lego_pairs`, also the default of a phase of that kind). */
  from: { file: string } | { inline: true } | { kind: string };
  schema: JsonSchema;
  /** Its canonical content's hash; "" for a file not read yet (config/itemSchemas.ts reads it with every load of the inputs). */
  hash: string;
  /** A file's content hash when it was read: read and checked again only when the file's differs. */
  fileHash?: string;
  /**
   * The phase's kind gave it (no `schema:` in pipeline.yaml). Such a schema checks every item but is not
   * part of the keys, as a rule set's code is not: upgrading cf to a version whose domain ships schemas
   * must not rerun (and pay for) every batch of an existing course. `schema: ssi:KIND` written out is keyed.
   */
  implicit?: true;
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
  /** Data derived from earlier seeds that this phase reads (a registered context kind: plugins.ts). */
  context: ContextConfig | null;
  /** The schema of one output item (none: only the built-in checks and `validate`). */
  schema: SchemaConfig | null;
}

/** `context: {vocabulary: lego_pairs}`: a context kind, and the earlier phase whose output it derives from. */
export interface ContextConfig {
  kind: string;
  phase: string;
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
  /** `cache:`: the shared cache builds read from and publish to (null: none). */
  cache?: CacheConfig | null;
  /** `queue:`: the Redis URL of a coordinator and its workers (null: none; queueConfig.ts). */
  queue?: string | null;
  /** Where pipeline.yaml sets the commands (key path → line, column), for errors found when they are run. */
  locations?: Record<string, { line?: number; column?: number }>;
}

/**
 * A file a pipeline reads, where pipeline.yaml names it (`at`: its key path) and what it is. `required`:
 * it must exist (the files a command names are guessed from its words: see commandFiles).
 */
export interface NamedFile {
  rel: string;
  at: PropertyKey[];
  what: string;
  required: boolean;
}

/**
 * Every file a pipeline reads: seeds, intelligence, deps, schema files, recordings and the files its
 * commands name (runners' and validators'), in that order. The one list behind the checks that they
 * exist, that no output overwrites one, and what cf watch watches.
 */
export function pipelineInputs(p: Pipeline): NamedFile[] {
  const files: NamedFile[] = [{ rel: p.seeds, at: ['seeds'], what: 'seeds file', required: true }];
  for (const [i, phase] of p.phases.entries()) {
    files.push({ rel: phase.intelligence, at: ['phases', i, 'intelligence'], what: 'intelligence file', required: true });
    phase.deps.forEach((d, j) => files.push({ rel: d, at: ['phases', i, 'deps', j], what: 'dependency', required: true }));
    if (phase.schema && 'file' in phase.schema.from) files.push({ rel: phase.schema.from.file, at: ['phases', i, 'schema'], what: 'schema file', required: true });
  }
  for (const r of p.runners.values()) {
    if (r.kind === 'replay') files.push({ rel: r.recording, at: ['runners', r.name, 'recording'], what: 'recording', required: true });
    r.deps.forEach((d, j) => {
      // claude_md: true makes the pipeline's CLAUDE.md a dependency: told as its own.
      if (r.kind === 'command' && r.claudeMd && d === 'CLAUDE.md') files.push({ rel: d, at: ['runners', r.name, 'claude_md'], what: "Claude Code's instructions file", required: true });
      else if (r.kind !== 'replay' || d !== r.recording) files.push({ rel: d, at: ['runners', r.name, 'deps', j], what: 'dependency', required: true });
    });
    if (r.kind === 'command') {
      for (const f of commandFiles(r.command)) files.push({ rel: f, at: ['runners', r.name, 'command'], what: 'file its command names', required: false });
    }
  }
  for (const [i, phase] of p.phases.entries()) {
    if (!phase.validate?.command) continue;
    for (const f of commandFiles(phase.validate.command)) files.push({ rel: f, at: ['phases', i, 'validate'], what: 'file its validator names', required: false });
  }
  return files;
}

/** Arguments of a command that name files inside the pipeline directory: their content is part of the key. */
export function commandFiles(cmd: CommandSpec): string[] {
  const words = 'argv' in cmd ? cmd.argv : cmd.shell.split(/\s+/);
  const out: string[] = [];
  for (const w of words) {
    if (!w || w.startsWith('-') || /[$`|&;<>*?]/.test(w)) continue;
    const rel = path.normalize(w);
    if (path.isAbsolute(rel) || rel.startsWith('..')) continue;
    out.push(rel);
  }
  return out;
}

/** The model settings a phase runs with: its runner's, overridden by the phase's own. */
export function effectiveModel(runner: RunnerConfig, phase: PhaseConfig): ModelSettings {
  return runner.kind === 'replay' ? {} : { ...runner.model, ...phase.model };
}
