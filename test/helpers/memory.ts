import { adoptPhase, type AdoptReport } from '../../src/engine/adopt.js';
import { Analysis } from '../../src/engine/analyze.js';
import { Engine } from '../../src/engine/engine.js';
import type { BuildSummary } from '../../src/events/types.js';
import type { BatchExecutor } from '../../src/exec/executor.js';
import { LocalExecutor } from '../../src/exec/localExecutor.js';
import { Decider } from '../../src/engine/decide.js';
import { Corrections } from '../../src/engine/corrections.js';
import type { BuildEvent } from '../../src/events/types.js';
import { phaseParts, type PhaseParts } from '../../src/engine/fingerprint.js';
import { MemoryBlobStore } from '../../src/store/blobs.js';
import type { BuildStore } from '../../src/store/buildStore.js';
import { LocalStore } from '../../src/store/localStore.js';
import { MemoryOutputStore } from '../../src/store/outputs.js';
import type { PhaseConfig, Pipeline, RunnerConfig } from '../../src/config/pipeline.js';
import type { Item, SeedSet } from '../../src/config/seeds.js';
import { State } from '../../src/store/state.js';
import { BuildGraph, resolveTargets } from '../../src/engine/targets.js';
import type { ValidationError, Validator } from '../../src/exec/validate.js';
import { createValidator } from '../../src/exec/validators.js';
import type { AgentRequest, AgentResult, AgentRunner } from '../../src/exec/runners/types.js';
import { hashCanonical, hashString, initHashing, type Hash } from '../../src/util/hash.js';
import { registry } from '../../src/config/registry.js';
import { registerSsi } from '../../src/domains/ssi/index.js';

export interface MemPhase {
  name: string;
  from?: string;
  items?: 'batch' | 'independent';
  /** As pipeline.yaml writes it: `{vocabulary: 'legos'}` (a context kind, and the phase it reads). */
  context?: Record<string, string>;
  /** The merge format as a phase keeps it (default json). */
  merge?: string;
  attempts?: number;
  maxOutput?: number;
  validate?: (items: Item[]) => ValidationError[];
  /** A registered rule set's name, as a phase keeps it (its validator: exec/validators.ts). */
  rules?: string;
}

export type AgentFn = (req: AgentRequest) => Promise<AgentResult> | AgentResult;

/** Default agent: output = { id, text: "<phase>(<input text>)" }. */
export const echoAgent: AgentFn = (req) => ({
  ok: true,
  output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text: `${req.phase}(${String(it.text ?? '')})` }))),
});

/** A whole pipeline in memory: seeds, intelligence, state, outputs and a fake agent. No files, no processes. */
export class World {
  seeds: Item[];
  readonly intelligence = new Map<string, string>();
  /** The recorded state: in memory, unless a test opens one on disk (openState) instead. */
  state = new State(null);
  readonly objects = new MemoryBlobStore();
  readonly outputs = new MemoryOutputStore();
  readonly runs: AgentRequest[] = [];
  readonly events: BuildEvent[] = [];
  agent: AgentFn = echoAgent;
  /** The reviewers' corrections (in memory; corrections/PHASE.jsonl in a project): kept across builds, as the files are. */
  readonly corrections = new Corrections();
  /** The store the engine reads and writes through (default: a LocalStore over `state` and `objects`). */
  store: BuildStore | null = null;
  jobs = 4;
  batchSize = 20;
  batching: 'positional' | 'stable' = 'positional';

  constructor(
    readonly phases: MemPhase[],
    seeds: number,
  ) {
    this.seeds = Array.from({ length: seeds }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: `seed ${i + 1}` }));
    for (const p of phases) this.intelligence.set(`prompts/${p.name}.md`, `# ${p.name}\n`);
  }

  static async create(phases: MemPhase[], seeds: number): Promise<World> {
    await initHashing();
    // As the composition root does (app/session.ts): the domains before any pipeline.
    registerSsi(registry);
    return new World(phases, seeds);
  }

  pipeline(): Pipeline {
    const runner: RunnerConfig = { name: 'fake', kind: 'command', command: { argv: ['fake'] }, timeoutMs: 1000, env: {}, deps: [], preset: null, cwd: 'pipeline', model: {}, limits: {} };
    const phases: PhaseConfig[] = this.phases.map((p, i) => ({
      name: p.name,
      index: i,
      from: p.from ?? (i === 0 ? 'seeds' : this.phases[i - 1]!.name),
      intelligence: `prompts/${p.name}.md`,
      runner: 'fake',
      output: `out/${p.name}.json`,
      attempts: p.attempts ?? 3,
      maxOutput: p.maxOutput ?? 20_000_000,
      validate: p.validate || p.rules ? { rules: p.rules ?? null, command: p.validate ? { argv: ['validate'] } : null, timeoutMs: 1000, severity: {}, lists: {} } : null,
      merge: { format: p.merge ?? 'json', version: null },
      deps: [],
      model: {},
      items: p.items ?? 'batch',
      context: p.context ? { kind: Object.keys(p.context)[0]!, phase: Object.values(p.context)[0]! } : null,
      schema: null,
    }));
    return { dir: '/mem', file: 'pipeline.yaml', seeds: 'seeds.json', idField: 'id', batchSize: this.batchSize, batching: this.batching, jobs: this.jobs, course: null, prices: {}, runners: new Map([['fake', runner]]), phases };
  }

  private seedSet(): SeedSet {
    const items = this.seeds.map((s) => ({ ...s }));
    return {
      file: 'seeds.json',
      ids: items.map((s) => s.id as string),
      hashes: items.map((s) => hashCanonical(s)),
      items: async () => items,
      range: async (a, b) => items.slice(a, b),
    };
  }

  async decider(): Promise<Decider> {
    const pipeline = this.pipeline();
    const parts = new Map<string, PhaseParts>();
    const hasher = async (rel: string): Promise<Hash | null> => {
      const t = this.intelligence.get(rel);
      return t === undefined ? null : hashString(t);
    };
    for (const p of pipeline.phases) parts.set(p.name, await phaseParts(pipeline, p, hasher));
    const seeds = this.seedSet();
    return new Decider(new BuildGraph(pipeline, seeds.ids), seeds, parts, this.store ?? new LocalStore(this.state, this.objects), this.corrections);
  }

  /** Builds `targets` (default: everything); returns the summary and the targets whose agents ran. */
  async build(targets: string[] = [], signal = new AbortController().signal, onEngine?: (engine: Engine) => void): Promise<BuildSummary & { agentRuns: string[] }> {
    const decider = await this.decider();
    const requests = resolveTargets(decider.graph, targets);
    if (!requests.ok) throw new Error(JSON.stringify(requests.error));
    const before = this.runs.length;
    const executor = this.executor();
    const engine = new Engine({
      decider,
      executor,
      outputs: this.outputs,
      intelligence: async (phase) => this.intelligence.get(phase.intelligence)!,
      runDir: () => null,
      jobs: this.jobs,
      emit: (e) => this.emit(e),
      signal,
    });
    onEngine?.(engine);
    await engine.plan(requests.value);
    const summary = await engine.run(requests.value);
    const agentRuns = this.runs.slice(before).filter((r) => r.attempt === 1).map((r) => r.target).sort();
    return { ...summary, agentRuns };
  }

  /** Where the build's events go (a test may add an event bus). */
  emit: (e: BuildEvent) => void = (e) => this.events.push(e);

  /** The executor jobs go through (a test may wrap it: a queue, a JSON round trip). */
  wrapExecutor: (e: BatchExecutor) => BatchExecutor = (e) => e;

  /** Each phase's validator (`validate` of its MemPhase, or its registered rule set). */
  validators(): Map<string, Validator> {
    const validators = new Map<string, Validator>();
    const pipeline = this.pipeline();
    for (const p of this.phases) {
      const v = p.validate;
      if (v) validators.set(p.name, { validate: async (req) => (v(req.items).length ? { kind: 'invalid', errors: v(req.items) } : { kind: 'valid' }) });
      else if (p.rules) validators.set(p.name, createValidator(pipeline.phases.find((q) => q.name === p.name)!, pipeline)!);
    }
    return validators;
  }

  /** An executor over the fake agent and the phases' validators (`validatorFor`: others), in memory. */
  executor(o: { validatorFor?: (phase: PhaseConfig) => Validator | null } = {}): BatchExecutor {
    const pipeline = this.pipeline();
    const validators = this.validators();
    const runner: AgentRunner = {
      delivery: 'reply',
      run: async (req) => {
        this.runs.push(req);
        return this.agent(req);
      },
    };
    return this.wrapExecutor(
      new LocalExecutor({
        phase: (name) => pipeline.phases.find((p) => p.name === name)!,
        jobs: this.jobs,
        runnerFor: () => runner,
        validatorFor: o.validatorFor ?? ((phase) => validators.get(phase.name) ?? null),
      }),
    );
  }

  /** `cf adopt PHASE`: these items as the phase's batch outputs (as the CLI does, in memory). */
  async adopt(phase: string, items: Item[]): Promise<AdoptReport> {
    const decider = await this.decider();
    return adoptPhase({
      decider,
      phase: decider.graph.phase(phase),
      items,
      source: 'adopted.json',
      executor: this.executor(),
      runDir: () => null,
      signal: new AbortController().signal,
    });
  }

  /** What cf status, explain and --dry-run see: the batch statuses without running anything. */
  async analysis(): Promise<{ analysis: Analysis; decider: Decider }> {
    const decider = await this.decider();
    return { analysis: new Analysis(decider), decider };
  }

  output(phase: string): Item[] {
    const f = this.outputs.files.get(`out/${phase}.json`);
    if (!f) throw new Error(`no output for ${phase}`);
    return JSON.parse(f.text) as Item[];
  }

  editSeed(id: string, text: string): void {
    const s = this.seeds.find((x) => x.id === id)!;
    s.text = text;
  }
}
