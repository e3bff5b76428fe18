import type { ContextSpec } from '../exec/executor.js';
import type { Validator } from '../exec/validate.js';
import type { CourseConfig, Pipeline, ValidateConfig } from './pipeline.js';
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
  create(config: ValidateConfig, pipeline: Pipeline): Validator;
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

/** A domain: what it registers, under the namespace pipeline.yaml writes its merge formats and rule sets with. */
export interface Domain {
  namespace: string;
  mergeFormats?: readonly MergeFormat[];
  documentKinds?: readonly DocumentKind[];
  ruleSets?: readonly RuleSet[];
  contextKinds?: readonly ContextKind[];
  course?: CourseSupport;
}
