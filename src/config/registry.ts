import { BUILTIN_RUNNER_KINDS } from '../exec/runners/builtins.js';
import type { CourseConfig } from './pipeline.js';
import type { ContextKind, CourseSupport, DocumentKind, Domain, ItemSchemaKind, MergeFormat, ReadResult, RuleSet, RunnerKind } from './plugins.js';
import { pluginRunnerKind } from './pluginRunner.js';
import type { SeedTransform } from './seeds/load.js';
import type { Item } from './seeds/item.js';

/*
 * The kinds pipeline.yaml may name: cf's own runner kinds and `json` merge, and beyond them merge formats,
 * document kinds, rule sets, item schemas, context kinds, runner kinds and what `course:` means, as domains
 * register them (plugins.ts). One process-wide registry, filled by the composition root (app/session.ts;
 * tests that build pipelines) before a pipeline is read: the parser checks names against it, the engine,
 * the executor and the runners look kinds up in it.
 */

/** cf's own merge format: the items as one JSON array (written in a stream by engine/merge.ts). */
const JSON_FORMAT: MergeFormat = {
  name: 'json',
  timed: false,
  write: (items) => `${JSON.stringify(items, null, 2)}\n`,
  read(text) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    return Array.isArray(doc) ? { ok: true, items: doc as Item[], warnings: [] } : { ok: false, error: 'expected a JSON array of items' };
  },
};

/** A kind as pipeline.yaml names it: `<namespace>:<name>`. */
interface Named<T> {
  ref: string;
  kind: T;
}

export class Registry {
  private readonly domains = new Set<Domain>();
  private readonly formats = new Map<string, Named<MergeFormat>>([['json', { ref: 'json', kind: JSON_FORMAT }]]);
  private readonly documents = new Map<string, DocumentKind>();
  private readonly ruleSets = new Map<string, Named<RuleSet>>();
  private readonly itemSchemas = new Map<string, Named<ItemSchemaKind>>();
  private readonly contexts = new Map<string, ContextKind>();
  /** By the name pipeline.yaml gives: cf's own (`command`) and the domains' (`csv:echo`), looked up alike. */
  private readonly runners = new Map<string, RunnerKind>(BUILTIN_RUNNER_KINDS.map((k) => [k.name, k]));
  private courseSupport: CourseSupport | undefined;
  /** Changes with every registration: a pipeline parsed against other kinds is parsed again (loadPipeline.ts). */
  private generation = 0;

  /** Registers everything a domain brings. The same domain again is a no-op; a name taken by another is an error. */
  use(domain: Domain): this {
    if (this.domains.has(domain)) return this;
    const ref = (name: string): string => `${domain.namespace}:${name}`;
    const taken = (what: string, name: string): never => {
      throw new Error(`${what} "${name}" of domain ${domain.namespace} is already registered`);
    };
    for (const f of domain.mergeFormats ?? []) if (this.formats.has(f.name)) taken('merge format', f.name);
    for (const d of domain.documentKinds ?? []) if (this.documents.has(d.name)) taken('document kind', d.name);
    for (const r of domain.ruleSets ?? []) if (this.ruleSets.has(r.name)) taken('rule set', r.name);
    for (const x of domain.itemSchemas ?? []) if (this.itemSchemas.has(x.name)) taken('item schema', x.name);
    for (const c of domain.contextKinds ?? []) {
      if (this.contexts.has(c.name)) taken('context kind', c.name);
      // A key's context value is keyed by its kind, beside the engine's `{missing}` (engine/decide.ts).
      if (c.name === 'missing') throw new Error(`context kind "missing" of domain ${domain.namespace}: the name is cf's own`);
    }
    for (const k of domain.runnerKinds ?? []) if (this.runners.has(ref(k.name))) taken('runner kind', k.name);
    if (domain.course && this.courseSupport) taken('course support', domain.namespace);
    for (const f of domain.mergeFormats ?? []) this.formats.set(f.name, { ref: ref(f.name), kind: f });
    for (const d of domain.documentKinds ?? []) this.documents.set(d.name, d);
    for (const r of domain.ruleSets ?? []) this.ruleSets.set(r.name, { ref: ref(r.name), kind: r });
    for (const x of domain.itemSchemas ?? []) this.itemSchemas.set(x.name, { ref: ref(x.name), kind: x });
    for (const c of domain.contextKinds ?? []) this.contexts.set(c.name, c);
    for (const k of domain.runnerKinds ?? []) this.runners.set(ref(k.name), pluginRunnerKind(ref(k.name), k));
    if (domain.course) this.courseSupport = domain.course;
    this.domains.add(domain);
    this.generation++;
    return this;
  }

  /** What the registered kinds are, for the parse cache's key. */
  get signature(): string {
    return [...this.domains].map((d) => d.namespace).join(',') + `#${this.generation}`;
  }

  // ---------------------------------------------------------------------------------------------- names

  /** The merge formats' names as pipeline.yaml writes them, but cf's own `json`. */
  mergeRefs(): string[] {
    return [...this.formats.values()].filter((f) => f.kind !== JSON_FORMAT).map((f) => f.ref);
  }

  ruleSetRefs(): string[] {
    return [...this.ruleSets.values()].map((r) => r.ref);
  }

  documentNames(): string[] {
    return [...this.documents.keys()];
  }

  contextNames(): string[] {
    return [...this.contexts.keys()];
  }

  /** Every runner kind's name as pipeline.yaml writes it: cf's own first. */
  runnerKindRefs(): string[] {
    return [...this.runners.keys()];
  }

  /** Every category a rule set's `lists:` may name. */
  listCategories(): string[] {
    return [...new Set([...this.ruleSets.values()].flatMap((r) => r.kind.lists ?? []))];
  }

  /** The item schemas' names as pipeline.yaml writes them (`ssi:lego_pairs`). */
  itemSchemaRefs(): string[] {
    return [...this.itemSchemas.values()].map((x) => x.ref);
  }

  /** The registered domains' namespaces: `ssi:…` names a kind, not a file. */
  namespaces(): string[] {
    return [...this.domains].map((d) => d.namespace);
  }

  /** How pipeline.yaml starts a rule set's name, for hints ("ssi:…"). */
  ruleSetPrefixes(): string[] {
    return [...new Set([...this.ruleSets.values()].map((r) => r.ref.slice(0, r.ref.length - r.kind.name.length)))].map((p) => `${p}…`);
  }

  // ---------------------------------------------------------------------------------------------- lookups

  /** A merge format by pipeline.yaml's name (`ssi:lego_pairs`, `json`), or undefined. */
  mergeFormatByRef(ref: string): MergeFormat | undefined {
    return [...this.formats.values()].find((f) => f.ref === ref)?.kind;
  }

  ruleSetByRef(ref: string): RuleSet | undefined {
    return [...this.ruleSets.values()].find((r) => r.ref === ref)?.kind;
  }

  /** An item schema by pipeline.yaml's name (`ssi:lego_pairs`), with that name, or undefined. */
  itemSchemaByRef(ref: string): { ref: string; schema: ItemSchemaKind['schema'] } | undefined {
    const x = [...this.itemSchemas.values()].find((s) => s.ref === ref);
    return x && { ref: x.ref, schema: x.kind.schema };
  }

  /** The item schema of a kind by the name a phase keeps its merge format or rule set under (`lego_pairs`), if a domain ships one. */
  itemSchemaOfKind(name: string): { ref: string; schema: ItemSchemaKind['schema'] } | undefined {
    const x = this.itemSchemas.get(name);
    return x && { ref: x.ref, schema: x.kind.schema };
  }

  /** A merge format by the name a phase keeps (its pipeline was checked against this registry). */
  mergeFormat(name: string): MergeFormat {
    return this.formats.get(name)?.kind ?? unregistered('merge format', name);
  }

  ruleSet(name: string): RuleSet {
    return this.ruleSets.get(name)?.kind ?? unregistered('rule set', name);
  }

  contextKind(name: string): ContextKind {
    return this.contexts.get(name) ?? unregistered('context kind', name);
  }

  /** A runner kind by pipeline.yaml's name (`anthropic`, `csv:echo`), or undefined. */
  runnerKind(name: string): RunnerKind | undefined {
    return this.runners.get(name);
  }

  /** The kind of a runner's config (its pipeline was checked against this registry). */
  runnerKindOf(config: { kind: string }): RunnerKind {
    return this.runners.get(config.kind) ?? unregistered('runner kind', config.kind);
  }

  /** target_name when pipeline.yaml leaves it out. */
  targetName(targetLanguage: string): string | null {
    return this.courseSupport?.targetName(targetLanguage) ?? null;
  }

  /** How the seeds read for this course (null: as written). */
  seedTransform(course: CourseConfig | null): SeedTransform | null {
    return course && this.courseSupport ? this.courseSupport.seeds(course) : null;
  }

  /**
   * A parsed JSON document → items: as the kind `as` names, else as the kind that recognises it, else a JSON
   * array of items as it is; null when it is none of these (a recording, a file given to cf adopt).
   */
  readDocument(doc: unknown, as: string | null): ReadResult | null {
    const kind = as !== null ? this.documents.get(as) : [...this.documents.values()].find((k) => k.detect(doc));
    if (kind) return kind.read(doc);
    return Array.isArray(doc) ? { ok: true, items: doc as Item[], warnings: [] } : null;
  }
}

function unregistered(what: string, name: string): never {
  throw new Error(`no ${what} "${name}" is registered (register its domain before reading the pipeline)`);
}

/** The process-wide registry: cf's own kinds, and the domains the composition root registers. */
export const registry = new Registry();
