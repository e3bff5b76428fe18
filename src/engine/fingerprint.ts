import path from 'node:path';
import { canonicalJson, hashCanonical, hashString, type Hash } from '../util/hash.js';
import { commandFiles, effectiveModel, type PhaseConfig, type Pipeline, type RunnerConfig, type ValidateConfig } from '../config/pipeline.js';
import { registry } from '../config/registry.js';
import type { StatCache } from '../config/statCache.js';
import { PROMPT_TEMPLATE_VERSION } from '../exec/prompt.js';
import { FINGERPRINT_VERSION } from '../version.js';

/** path → content hash, keys sorted. */
export type FileHashes = Record<string, Hash>;

/** The parts of a batch's fingerprint shared by every batch of a phase. */
export interface PhaseParts {
  /** The phase's own settings that shape its output: name, where it reads from, id field, prompt template. */
  phase: Hash;
  intelligence: FileHashes;
  runner: { config: Hash; files: FileHashes };
  validator: { config: Hash; files: FileHashes } | null;
  deps: FileHashes;
  /**
   * The canonical content hash of the phase's item schema, when it has one (absent otherwise, so that the
   * keys of phases without a schema are what they were): it is checked on every item and shapes the answer
   * where a runner constrains decoding with it.
   */
  schema?: Hash;
}

/**
 * Everything a batch reads, as one canonical object; its hash is the batch's key. Path-keyed, and items are
 * [id, hash] pairs in seed order, so a changed key can always be explained by what changed.
 * Not in it: the batch number and count (renumbering is not a change), timeouts, attempts, -j.
 */
export interface Fingerprint extends PhaseParts {
  v: number;
  /** "seeds" or the upstream phase (not its batch number: renumbering is not a change). */
  from: string;
  /** The input items, in order, as RefsText. */
  items: RefsText;
  /** Derived data from earlier seeds the batch reads (e.g. the vocabulary taught before it). */
  context?: ContextValue;
}

/**
 * A context as keys hold it, under its kind's name (`{vocabulary: {phase, hash, words}}`): the phase it
 * derives from, its hash before the item, and its size (`words`, the name keys have always used).
 */
export type ContextValue = Record<string, { phase: string; hash: string; words: number }>;

/** A context's hash (a phase has one context, of one kind). */
export function contextHash(context: ContextValue): string {
  for (const kind in context) return context[kind]!.hash;
  return '';
}

export type ItemRefs = Array<[string, Hash]>;

/**
 * Items as records and keys hold them: "id<TAB>hash" lines, in order. One string instead of an array of
 * pairs: a state of thousands of records parses fast and makes little garbage, and a downstream key is
 * built by concatenating its upstream batch's text, never iterating it.
 */
export type RefsText = string & { readonly __brand: 'RefsText' };

export function encodeRefs(refs: ReadonlyArray<readonly [string, string]>): RefsText {
  let out = '';
  for (let i = 0; i < refs.length; i++) out += i ? `\n${refs[i]![0]}\t${refs[i]![1]}` : `${refs[i]![0]}\t${refs[i]![1]}`;
  return out as RefsText;
}

const decoded = new Map<string, ItemRefs>();

/** The pairs of a RefsText (memoised: explanations and item-level work ask for the same ones again). */
export function decodeRefs(text: RefsText): ItemRefs {
  if (Array.isArray(text)) return text as unknown as ItemRefs; // a record written before RefsText
  let refs = decoded.get(text);
  if (!refs) {
    refs = text ? text.split('\n').map((l) => l.split('\t') as [string, Hash]) : [];
    if (decoded.size > 10_000) decoded.clear();
    decoded.set(text, refs);
  }
  return refs;
}

export function refsCount(text: RefsText): number {
  if (Array.isArray(text)) return (text as unknown as ItemRefs).length;
  if (!text) return 0;
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export function makeFingerprint(parts: PhaseParts, from: string, items: RefsText, context?: ContextValue): Fingerprint {
  return { v: FINGERPRINT_VERSION, ...parts, from, items, ...(context ? { context } : {}) };
}

/**
 * A fingerprint as records hold it: JSON text, parsed only when a stale target is explained (a build
 * where everything is fresh never parses one).
 */
export type FingerprintText = string & { readonly __brand: 'FingerprintText' };

export function fingerprintText(fp: Fingerprint): FingerprintText {
  return JSON.stringify(fp) as FingerprintText;
}

export function parseFingerprint(text: FingerprintText): Fingerprint {
  // Records written before FingerprintText hold the object itself.
  return typeof text === 'string' ? (JSON.parse(text) as Fingerprint) : (text as unknown as Fingerprint);
}

export function fingerprintHead(parts: PhaseParts, from: string): string {
  return canonicalJson({ v: FINGERPRINT_VERSION, ...parts, from });
}

/** The canonical text a key is the hash of (a shared cache names its records by its SHA-256). */
export function keyText(head: string, items: RefsText, context?: ContextValue): string {
  return context ? `${head}\n${items}\n@context ${canonicalJson(context)}` : `${head}\n${items}`;
}

export function keyFromHead(head: string, items: RefsText, context?: ContextValue): Hash {
  return hashString(keyText(head, items, context));
}

/** The content hash of a file named relative to the pipeline directory, or null when there is none. */
export type FileHasher = (rel: string) => Promise<Hash | null>;

export function statCacheHasher(dir: string, cache: StatCache): FileHasher {
  return async (rel) => (await cache.hashFile(path.resolve(dir, rel)))?.hash ?? null;
}

async function hashFiles(rels: string[], hash: FileHasher, required: boolean): Promise<FileHashes> {
  const out: Record<string, Hash> = {};
  for (const rel of [...new Set(rels)].sort()) {
    const h = await hash(rel);
    if (h) out[rel.split(path.sep).join('/')] = h;
    else if (required) throw new Error(`${rel} disappeared`);
  }
  return out;
}

/**
 * The runner settings that shape an answer, with the phase's model overrides, as the runner's kind says
 * (plugins.ts, RunnerKind.keyed), and for a phase with a keyed schema how the runner sends it
 * (RunnerKind.structured). Not in it: timeouts, limits, retries, the API key's variable, the base URL,
 * batch or per-request mode.
 */
export function runnerConfigHash(r: RunnerConfig, phase: PhaseConfig): Hash {
  const kind = registry.runnerKindOf(r);
  const model = effectiveModel(r, phase);
  const keyed = kind.keyed(r, model);
  // How the runner sends the phase's schema (structured outputs) shapes the answers; only where the schema
  // is keyed (a kind's default is not: SchemaConfig.implicit), so every other phase keys as it always has.
  const structured = phase.schema && !phase.schema.implicit ? kind.structured?.(r, model) : undefined;
  return hashCanonical(structured === undefined ? keyed : { runner: keyed, structured });
}

export function validatorConfigHash(v: ValidateConfig): Hash {
  // A rule set's options only when it takes some: the keys of every other validator are as they were.
  return hashCanonical({ rules: v.rules, command: v.command, severity: v.severity, lists: v.lists, ...(v.options !== undefined ? { options: v.options } : {}) });
}

export async function phaseParts(pipeline: Pipeline, phase: PhaseConfig, hash: FileHasher): Promise<PhaseParts> {
  const runner = pipeline.runners.get(phase.runner)!;
  const runnerFiles = [...(runner.kind === 'command' ? commandFiles(runner.command) : []), ...runner.deps];
  const v = phase.validate;
  return {
    phase: hashCanonical({ name: phase.name, from: phase.from, id: pipeline.idField, template: PROMPT_TEMPLATE_VERSION }),
    intelligence: await hashFiles([phase.intelligence], hash, true),
    runner: { config: runnerConfigHash(runner, phase), files: await hashFiles(runnerFiles, hash, false) },
    validator: v ? { config: validatorConfigHash(v), files: await hashFiles(v.command ? commandFiles(v.command) : [], hash, false) } : null,
    deps: await hashFiles(phase.deps, hash, true),
    // A kind's default schema is not keyed (SchemaConfig.implicit): only a schema pipeline.yaml names is.
    ...(phase.schema && !phase.schema.implicit ? { schema: phase.schema.hash as Hash } : {}),
  };
}
