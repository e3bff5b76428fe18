import path from 'node:path';
import { suggestion } from '../util/didYouMean.js';
import { parseDuration } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import type { UserError } from '../util/errors.js';
import { hashCanonical } from '../util/hash.js';
import { ok, type Result } from '../util/result.js';
import type { Fail } from './diagnostics.js';
import type { MergeConfig, PhaseConfig, RunnerConfig, SchemaConfig, ValidateConfig } from './pipeline.js';
import type { Registry } from './registry.js';
import { toCommand } from './builtinRunners.js';
import type { RawMerge, RawPhase, RawValidate } from './schema.js';

/*
 * The phases of pipeline.yaml, normalised, with the checks that look across phases: names, what each
 * reads (`from`, `context`), the runner it names, its output, and the rules its severities name. Rule
 * sets, merge formats and contexts are the registry's (the schema let only registered names through).
 */

const DEFAULT_VALIDATE_TIMEOUT_MS = 5 * 60_000;
/** Generous: the largest real phase answer seen is a few MB; a runaway agent's is refused before cf reads it. */
const DEFAULT_MAX_OUTPUT = 20_000_000;

function toValidate(v: RawValidate | undefined, timeout: string | number | undefined, r: Registry): ValidateConfig | null {
  if (v === undefined) return null;
  let timeoutMs = timeout !== undefined ? parseDuration(timeout)! : DEFAULT_VALIDATE_TIMEOUT_MS;
  const base: ValidateConfig = { rules: null, command: null, timeoutMs, severity: {}, lists: {} };
  // A phase keeps a rule set's name without its namespace (`ssi:lego_pairs` → "lego_pairs"), as keys hold it.
  const ruleSet = typeof v === 'string' ? r.ruleSetByRef(v) : undefined;
  if (ruleSet) return { ...base, rules: ruleSet.name };
  if (typeof v === 'string' || Array.isArray(v)) return { ...base, command: toCommand(v) };
  if (v.timeout !== undefined) timeoutMs = parseDuration(v.timeout)!;
  return {
    rules: v.rules ? r.ruleSetByRef(v.rules)!.name : null,
    command: v.command !== undefined ? toCommand(v.command) : null,
    timeoutMs,
    severity: v.severity ?? {},
    lists: v.lists ?? {},
  };
}

/**
 * The settings of the rule set a phase names (`validate: {rules: csv:lengths, options: {max: 80}}`), as it
 * checks them: given or not, when it takes some (undefined when it takes none).
 */
function ruleSetOptions(v: RawValidate | undefined, at: PropertyKey[], r: Registry, fail: Fail): Result<unknown, UserError> {
  const obj = typeof v === 'object' && !Array.isArray(v) ? v : null;
  const ref = typeof v === 'string' ? v : obj?.rules;
  const ruleSet = ref !== undefined ? r.ruleSetByRef(ref) : undefined;
  if (ruleSet?.options) return ruleSet.options(obj?.options ?? {}, (path, message, hint) => fail([...at, 'options', ...path], message, hint));
  if (obj?.options === undefined) return ok(undefined);
  return ruleSet
    ? fail([...at, 'options'], `${ref} takes no options`)
    : fail([...at, 'options'], 'options are the settings of a rule set: this validator names none', `add rules: ${r.ruleSetPrefixes().join(' or ')}`);
}

/** The format as a phase keeps it: its name without its namespace (`ssi:lego_pairs` → "lego_pairs"). */
function toMerge(m: RawMerge | undefined, r: Registry): MergeConfig {
  if (m === undefined) return { format: 'json', version: null };
  const ref = typeof m === 'string' ? m : m.format;
  return { format: r.mergeFormatByRef(ref)!.name, version: typeof m === 'string' ? null : (m.version ?? null) };
}

/**
 * A phase's item schema: `schema:` as given (a file is read with the inputs: itemSchemas.ts), else its kind's
 * when a domain ships one for its merge format (else for its rule set): `merge: ssi:lego_pairs` checks items
 * against ssi:lego_pairs.
 */
function toSchema(raw: RawPhase['schema'], merge: MergeConfig, validate: ValidateConfig | null, r: Registry, at: PropertyKey[], fail: Fail): Result<SchemaConfig | null, UserError> {
  const fromKind = (k: { ref: string; schema: SchemaConfig['schema'] }): SchemaConfig => ({ from: { kind: k.ref }, schema: k.schema, hash: hashCanonical(k.schema) });
  if (raw === undefined) {
    const kind = r.itemSchemaOfKind(merge.format) ?? (validate?.rules ? r.itemSchemaOfKind(validate.rules) : undefined);
    return ok(kind ? { ...fromKind(kind), implicit: true } : null);
  }
  if (typeof raw === 'object') return ok({ from: { inline: true }, schema: raw, hash: hashCanonical(raw) });
  const kind = r.itemSchemaByRef(raw);
  if (kind) return ok(fromKind(kind));
  const namespace = /^([A-Za-z_][\w.-]*):/.exec(raw)?.[1];
  if (namespace !== undefined && r.namespaces().includes(namespace)) {
    const refs = r.itemSchemaRefs().filter((x) => x.startsWith(`${namespace}:`));
    return fail(at, `unknown schema "${raw}"${suggestion(raw, refs)}`, refs.length ? `the schemas of ${namespace}: ${refs.join(', ')}` : `${namespace} ships no schemas`);
  }
  return ok({ from: { file: path.normalize(raw) }, schema: {}, hash: '' });
}

/**
 * Every phase, in the file's order; the first phase that is wrong is reported. `hasCourse`: pipeline.yaml
 * sets `course`. `registry`: the rule sets, merge formats and context kinds the schema accepted.
 */
export function phaseConfigs(
  raw: readonly RawPhase[],
  runners: ReadonlyMap<string, RunnerConfig>,
  hasCourse: boolean,
  registry: Registry,
  fail: Fail,
): Result<PhaseConfig[], UserError> {
  /** Which context kind reads each phase: one kind per phase (its batch records keep that kind's data). */
  const contextOf = new Map<string, string>();
  const phases: PhaseConfig[] = [];
  const outputs = new Map<string, string>();
  for (const [i, p] of raw.entries()) {
    if (p.name === 'seeds') return fail(['phases', i, 'name'], '"seeds" is reserved for the seeds file; pick another name');
    if (phases.some((q) => q.name === p.name)) return fail(['phases', i, 'name'], `phase "${p.name}" is defined twice`);
    const from = p.from ?? (i === 0 ? 'seeds' : phases[i - 1]!.name);
    if (from === p.name) {
      return fail(['phases', i, 'from'], `phase "${p.name}" cannot read its own output`, `a phase reads one of: ${['seeds', ...phases.map((q) => q.name)].join(', ')}`);
    }
    if (from !== 'seeds' && !phases.some((q) => q.name === from)) {
      const later = raw.slice(i).some((q) => q.name === from);
      return fail(
        ['phases', i, 'from'],
        later
          ? `"${from}" is a later phase; a phase can only read "seeds" or an earlier phase`
          : `unknown phase "${from}"${suggestion(from, ['seeds', ...phases.map((q) => q.name)])}`,
        later ? 'move this phase after the one it reads from' : `a phase reads one of: ${['seeds', ...phases.map((q) => q.name)].join(', ')}`,
      );
    }
    if (!runners.has(p.runner)) {
      return fail(
        ['phases', i, 'runner'],
        `unknown runner "${p.runner}"${suggestion(p.runner, runners.keys())}`,
        runners.size > 0 ? `defined runners: ${[...runners.keys()].join(', ')}` : 'define it under runners:',
      );
    }
    const rc = runners.get(p.runner)!;
    if (rc.kind === 'command' || rc.kind === 'replay') {
      // A command agent gets no max_tokens/temperature; only a preset passes a model (claude-code: --model).
      const ignored = (['max_tokens', 'temperature', ...(rc.kind === 'command' && rc.preset ? [] : ['model' as const])] as const).find((k) => p[k] !== undefined);
      if (ignored) return fail(['phases', i, ignored], `"${ignored}" does not apply to the ${rc.kind} runner "${p.runner}"`);
    }
    const output = path.normalize(p.output);
    if (path.isAbsolute(output) || output.startsWith('..')) {
      return fail(['phases', i, 'output'], 'the output must be a path inside the pipeline directory');
    }
    if (output === '.cf' || output.startsWith(`.cf${path.sep}`)) return fail(['phases', i, 'output'], '.cf/ is cf\'s own state directory');
    const other = outputs.get(output);
    if (other) return fail(['phases', i, 'output'], `phase "${other}" already writes ${output}`);
    outputs.set(output, p.name);
    const [contextKind, contextPhase] = Object.entries(p.context ?? {})[0] ?? [];
    if (contextKind !== undefined && contextPhase !== undefined) {
      if (!phases.some((q) => q.name === contextPhase)) {
        const later = raw.slice(i).some((q) => q.name === contextPhase);
        return fail(
          ['phases', i, 'context', contextKind],
          contextPhase === p.name
            ? `phase "${p.name}" cannot read its own output as its context`
            : later
              ? `"${contextPhase}" is not an earlier phase: a context comes from a phase before this one`
              : `unknown phase "${contextPhase}"${suggestion(contextPhase, phases.map((q) => q.name))}`,
        );
      }
      const other = contextOf.get(contextPhase);
      if (other !== undefined && other !== contextKind) {
        return fail(['phases', i, 'context', contextKind], `"${contextPhase}" is already read as a ${other} context; a phase is the context of one kind`);
      }
      contextOf.set(contextPhase, contextKind);
    }
    const v = typeof p.validate === 'object' && !Array.isArray(p.validate) ? p.validate : null;
    if (v?.severity) {
      const known: readonly string[] = v.rules ? registry.ruleSetByRef(v.rules)!.rules : [];
      for (const rule of Object.keys(v.severity)) {
        if (!known.includes(rule)) {
          return fail(
            ['phases', i, 'validate', 'severity', rule],
            v.rules ? `${v.rules} has no rule "${rule}"${suggestion(rule, known)}` : `severity applies to a rule set: add rules: ${registry.ruleSetPrefixes().join(' or ')}`,
            v.rules ? `its rules: ${known.join(', ')}` : undefined,
          );
        }
      }
    }
    const options = ruleSetOptions(p.validate, ['phases', i, 'validate'], registry, fail);
    if (!options.ok) return options;
    const validate = toValidate(p.validate, p.validate_timeout, registry);
    const merge = toMerge(p.merge, registry);
    const needs = registry.mergeFormat(merge.format).needsCourse;
    if (needs && !hasCourse) return fail(['phases', i, 'merge'], needs.message, needs.hint);
    const schema = toSchema(p.schema, merge, validate, registry, ['phases', i, 'schema'], fail);
    if (!schema.ok) return schema;
    phases.push({
      name: p.name,
      index: i,
      from,
      intelligence: path.normalize(p.intelligence),
      runner: p.runner,
      output,
      attempts: p.attempts ?? 3,
      maxOutput: p.max_output !== undefined ? parseSize(p.max_output)! : DEFAULT_MAX_OUTPUT,
      validate: validate && options.value !== undefined ? { ...validate, options: options.value } : validate,
      merge,
      deps: p.deps ?? [],
      items: p.items ?? 'batch',
      context: contextKind !== undefined && contextPhase !== undefined ? { kind: contextKind, phase: contextPhase } : null,
      schema: schema.value,
      model: {
        ...(p.model !== undefined ? { model: p.model } : {}),
        ...(p.max_tokens !== undefined ? { maxTokens: p.max_tokens } : {}),
        ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
      },
    });
  }
  return ok(phases);
}
