import type { ContextSpec } from '../exec/executor.js';
import type { Limits } from '../exec/runners/limits.js';
import type { AgentRunner } from '../exec/runners/types.js';
import type { Validator } from '../exec/validate.js';
import type { UserError } from '../util/errors.js';
import type { Result } from '../util/result.js';
import type { Fail } from './diagnostics.js';
import type { CourseConfig, JsonSchema, ModelSettings, Pipeline, PluginRunnerConfig, RunnerBase, RunnerConfig, ValidateConfig } from './pipeline.js';
import type { RawRunner } from './schema.js';
import type { Item } from './seeds/item.js';
import type { SeedTransform } from './seeds/load.js';

/*
 * What a domain (e.g. src/domains/ssi, the language course) plugs into cf: the kinds pipeline.yaml may
 * name beyond cf's own. The generic engine knows them only through these interfaces; a domain is
 * registered by the composition root (registry.ts), never by importing it from core.
 */

/** Items read from a document, or what is wrong with it (naming the part, e.g. `seeds[3] (S0004).legos[1]`). */
export type ReadResult = { ok: true; items: Item[]; warnings: string[] } | { ok: false; error: string };

/**
 * How a phase's merged output is written from its items and read back into them (hand edits, cf adopt).
 * pipeline.yaml names it `<namespace>:<name>` (`merge: ssi:lego_pairs`); phases keep `name` alone, as
 * merge keys have always held it.
 */
export interface MergeFormat {
  name: string;
  /** The document is written for pipeline.yaml's `course:`: refused without one (this message and hint). */
  needsCourse?: { message: string; hint: string };
  /** The document carries the time of its newest batch: batch times are then part of the merge key. */
  timed: boolean;
  /** Items in seed order → the document's text. Deterministic: the same items and time give the same bytes. */
  write(items: readonly Item[], o: { course: CourseConfig | null; generated: string; version: string | null }): string;
  /** A document's text → its items, in document order. */
  read(text: string): ReadResult;
}

/**
 * A kind of JSON document a domain reads as items, found from its content: a replay runner's recording
 * (`as:` names it), a file given to cf adopt.
 */
export interface DocumentKind {
  name: string;
  detect(doc: unknown): boolean;
  read(doc: unknown): ReadResult;
}

/**
 * A rule set a phase validates with (`validate: ssi:lego_pairs`, or `rules:`), named like a merge format.
 * Its rule names are checked at parse time (`severity:`), its list categories by the schema (`lists:`).
 */
export interface RuleSet {
  name: string;
  rules: readonly string[];
  lists?: readonly string[];
  /**
   * Its own settings (`validate: {rules: csv:lengths, options: {max: 80}}`; {} when absent) → what its
   * validators get as config.options: JSON, the same on every machine (part of the keys). `fail`: at a key
   * path under `options`. A rule set without it takes no options.
   */
  options?(raw: Record<string, unknown>, fail: Fail): Result<unknown, UserError>;
  create(config: ValidateConfig, pipeline: Pipeline): Validator;
}

/**
 * The JSON Schema (draft 2020-12) of one output item of a kind the domain knows. pipeline.yaml names it
 * `<namespace>:<name>` (`schema: ssi:lego_pairs`); a phase without `schema:` whose merge format (else whose
 * rule set) has the same name gets it. It is part of the keys of the phases that use it, by content.
 */
export interface ItemSchemaKind {
  name: string;
  schema: JsonSchema;
}

/**
 * What a context kind keeps in each batch record of the phase it reads (JSON, one entry per output item,
 * in the record's `vocab` field): the data its cumulative state is grown from.
 */
export type ContextEntries = unknown[];

/**
 * Data derived from an earlier phase's output over every seed before an item (`context: {vocabulary:
 * lego_pairs}`). The engine does the mechanics: the context phase's batch records in order, each adding its
 * entries; a position's hash is part of the keys; a job gets the prompt section and validator data its
 * items' positions call for. The kind says what the data is.
 */
export interface ContextKind {
  name: string;
  /** A batch's output items → what its record keeps for this kind. */
  index(items: readonly Item[], idField: string): ContextEntries;
  /** True when a record's entries must be made again from its output (none, or of an older shape). */
  stale(entries: ContextEntries | undefined): boolean;
  /** An empty cumulative state: positions are added batch by batch, in seed order. */
  create(): ContextState;
}

export interface ContextState {
  /** Adds the next batch's entries (the next positions). */
  add(entries: ContextEntries): void;
  /**
   * What a key holds for the context before `position`: a hash that changes only when what the item may
   * see changes, and a size (`words`: the name keys have always used) for explanations. `readsItems`: the
   * phase reads the context phase's items as its input (asInput applies).
   */
  at(position: number, readsItems: boolean): { hash: string; words: number };
  /** A job's context over items at these positions: a prompt section and what its validator may use. */
  spec(o: { phase: string; ids: readonly string[]; positions: readonly number[]; seedIds: readonly string[] }): ContextSpec;
  /** An input item as a phase reading the context phase's items sees it (e.g. LEGO `new` flags), if it differs. */
  asInput?(item: Item, position: number): Item;
}

/** What pipeline.yaml's `course:` means to a domain. */
export interface CourseSupport {
  /** target_name when pipeline.yaml leaves it out (e.g. "spa" → "Spanish"), or null. */
  targetName(targetLanguage: string): string | null;
  /** The seeds as the course reads them (e.g. "{target}" → "Spanish"); null: as written. */
  seeds(course: CourseConfig): SeedTransform | null;
}

/** A runner's entry of pipeline.yaml, as its kind is given it: as written, and what every kind reads alike. */
export interface RunnerEntry {
  /** The entry as the schema took it (any runner key may be set: the kind refuses those it does not take). */
  raw: RawRunner;
  /** Its key path, `['runners', name]`: where its errors point. */
  at: PropertyKey[];
  /** The kind as pipeline.yaml names it (`command`, `csv:echo`). */
  kind: string;
  /** name, timeout, env, deps. */
  base: RunnerBase;
  /** model, max_tokens, temperature as given (kinds that take none refuse them). */
  model: ModelSettings;
  limits: Limits;
}

/** What a runner may read of the registered kinds when it is made: documents (a replay runner's recording). */
export interface RunnerContext {
  readDocument(doc: unknown, as: string | null): ReadResult | null;
  documentNames(): string[];
}

/**
 * A kind of runner as the registry holds it (`kind:` of a runner in pipeline.yaml): cf's own (command, replay,
 * anthropic, openai: exec/runners/builtins.ts) and every domain's (a RunnerPlugin, made into one when its
 * domain is registered). The parser, the keys and the executor find a runner's kind by its name, here.
 */
export interface RunnerKind<C extends RunnerConfig = RunnerConfig> {
  /** As pipeline.yaml names it, and as its configs' `kind` holds it. */
  name: string;
  /** The entry checked and normalised, or what is wrong with it (`fail`: at a key path under entry.at, with a hint). */
  parse(entry: RunnerEntry, fail: Fail): Result<C, UserError>;
  /**
   * What of a config shapes the answers (`model`: the phase's settings over the runner's): hashed into every
   * key of the phases it runs. The same on every machine. Not in it: timeouts, limits, retries.
   */
  keyed(config: C, model: ModelSettings): unknown;
  /**
   * How its runners hold a model's decoding to a phase's schema (structured outputs), when they can: keyed
   * beside `keyed` for the phases whose schema is keyed (a phase without one keys as it always has).
   */
  structured?(config: C, model: ModelSettings): unknown;
  /** The runner of one build, made once per runner and shared by its phases. */
  create(config: C, pipeline: Pipeline, kinds: RunnerContext): AgentRunner;
}

/**
 * A runner kind a domain brings: pipeline.yaml names it `<namespace>:<name>` (`kind: csv:echo`), with the
 * keys every runner takes (timeout, env, deps, model, max_tokens, temperature, limits) and its own settings
 * under `options:`, which it checks here. Its options are part of the keys of the phases it runs.
 */
export interface RunnerPlugin<O = unknown> {
  name: string;
  /**
   * `options:` as pipeline.yaml gives it ({} when absent) → the settings its runners get: JSON, the same on
   * every machine (paths relative to the pipeline directory). `fail`: at a key path under `options`.
   */
  options(raw: Record<string, unknown>, fail: Fail): Result<O, UserError>;
  create(config: PluginRunnerConfig<O>, pipeline: Pipeline): AgentRunner;
}

/** A domain: what it registers, under the namespace pipeline.yaml writes its merge formats, rule sets and runner kinds with. */
export interface Domain {
  namespace: string;
  mergeFormats?: readonly MergeFormat[];
  documentKinds?: readonly DocumentKind[];
  ruleSets?: readonly RuleSet[];
  itemSchemas?: readonly ItemSchemaKind[];
  contextKinds?: readonly ContextKind[];
  runnerKinds?: readonly RunnerPlugin[];
  course?: CourseSupport;
}
