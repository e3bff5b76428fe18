import v8 from 'node:v8';
import vm from 'node:vm';
import type { StatCache } from '../config/statCache.js';
import { unstartableCommand } from '../config/commandCheck.js';
import type { PhaseConfig, Pipeline } from '../config/pipeline.js';
import { emptySeedsError } from '../engine/emptySeeds.js';
import { Engine } from '../engine/engine.js';
import { takeHandEdits } from '../engine/handEdits.js';
import { resolveTargets, type Request } from '../engine/targets.js';
import { emptySummary, type BuildEvent, type BuildSummary } from '../events/types.js';
import { Budget } from '../exec/budget.js';
import type { BatchExecutor } from '../exec/executor.js';
import { spawner } from '../exec/processes/spawner.js';
import { createRunner } from '../exec/runners/index.js';
import type { OpenedStore } from '../store/buildStore.js';
import { runDirOf } from '../store/layout.js';
import { acquireLock, type HeldLock, type Leftovers, type LockOwner } from '../store/lock.js';
import type { OutputStore } from '../store/outputs.js';
import type { FileStamp } from '../store/records.js';
import type { UserError } from '../util/errors.js';
import { correctionsFile } from '../config/corrections.js';
import { osUser } from '../util/osUser.js';
import { err, ok, type Result } from '../util/result.js';
import { mark } from '../util/timing.js';
import { closure } from './closure.js';
import { openBackend, remoteSettings, shareStore, type RemoteOverride } from './remote.js';
import type { RemoteCache } from '../store/sharedStore.js';
import { loadInputs, localExecutor, openStore, outputStore, readIntelligence, removeStaleTemporariesOf, type Inputs } from './inputs.js';

/**
 * What a workspace uses of the world, each replaceable: ninja's Builder is given its disk, its command
 * runner and its logs; so is this. The defaults are the directory on disk and this machine's processes.
 */
export interface WorkspaceSeams {
  /** The directory's records and blobs (default: its .cf/). */
  openStore?(readOnly: boolean): Promise<OpenedStore>;
  /** Runs a build's jobs (default: on this machine, the pipeline's runners and validators in -j slots). */
  executor?(inputs: Inputs, o: { jobs: number; budget: Budget }): { executor: BatchExecutor; unstaged(phase: PhaseConfig): boolean };
  /** The merged outputs (default: the directory's files). */
  outputs?: OutputStore;
  /** One cf at a time changes a directory (default: its lock under .cf/). */
  lock?(command: string, onWait: (owner: LockOwner | null) => void, signal?: AbortSignal, onLeftovers?: (l: Leftovers) => void): Promise<HeldLock>;
  /** Where a batch's attempts keep their files (default: .cf/runs/PHASE/BATCH; null: nowhere). */
  runDir?(phase: PhaseConfig, batch: number): string | null;
  /** The phase's intelligence text (default: the file pipeline.yaml names). */
  intelligence?(phase: PhaseConfig): Promise<string>;
  /**
   * The shared cache builds read from and publish to (default: pipeline.yaml's `cache:`, or what the
   * command line or CF_REMOTE_CACHE say: remote.ts); null: none.
   */
  remote?(): Promise<RemoteCache | null>;
  /** Process-wide policies of a build on this machine (the spawner, the heap): on by default. */
  local?: boolean;
  now?(): Date;
}

export interface BuildOptions {
  /** -j (default: pipeline.yaml's `jobs`). */
  jobs?: number | null;
  /** --max-cost, or the budget of a longer session (cf watch). */
  maxCost?: number | null;
  budget?: Budget;
  /** A seeds file with no seeds is meant (not a save caught half-written). */
  allowEmptySeeds?: boolean;
  emit(e: BuildEvent): void;
  /** Ctrl-C: running agents are killed, nothing half-done is recorded. */
  signal: AbortSignal;
  /** cf watch: stops starting batches when inputs change mid-build. */
  drain?: AbortSignal;
  /** The store to build with, kept open by the caller (cf watch keeps one between rebuilds). */
  store?: OpenedStore;
  /** The merged outputs (cf watch wraps them to know its own writes). */
  outputs?: OutputStore;
  /** Told the engine once it exists (cf watch cancels outdated runs through it). */
  onEngine?(engine: Engine): void;
  /** Which command holds the lock (build, watch). */
  command?: string;
  /** --remote-cache URL (a string), --no-remote-cache (false). */
  remoteCache?: RemoteOverride;
}

export interface BuildResult {
  summary: BuildSummary;
  /** The merged outputs as their merge records know them (path → stat and hash), for the no-op stamp. */
  outputs: Map<string, FileStamp>;
  /** The build was interrupted before it held the lock: nothing ran. */
  interrupted: boolean;
}

/**
 * A build of thousands of batches makes garbage steadily for minutes, and V8 lets the heap grow well past
 * what is live before it collects (300 MB more at 100,000 seeds). From LEAN_AT batches on, V8 is told to
 * favour size: peak memory falls by about a third, for a little more time in the collector, which a
 * one-seed edit (where start-up time is what counts) does not pay. Even so, objects that outlive two young
 * collections while their batch waits or runs pile up in the old heap: at 20,000 seeds the live heap stays
 * near 40 MB while the heap grew to 110 MB before V8 collected it, so the peak depended on when that came
 * (131 to 176 MB over six rebuilds). A full collection every COLLECTIONS-th of the batches planned (every
 * 250 at least) bounds it (130 to 145 MB): a dozen collections a build, for a few ms each at 20,000 seeds
 * and tens of ms at 100,000, against minutes of agent runs.
 */
const LEAN_AT = 500;
const COLLECTIONS = 12;
/** Batches planned from which a build starts the spawner at once (see spawner.ts). */
const SPAWNER_AT = 8;
function leanHeapFor(batches: number): (() => void) | null {
  if (batches < LEAN_AT) return null;
  v8.setFlagsFromString('--optimize-for-size');
  v8.setFlagsFromString('--expose-gc');
  // With --expose-gc set, a new context has gc(); this process's own global is not changed.
  const gc = vm.runInNewContext('gc') as () => void;
  const every = Math.max(250, Math.ceil(batches / COLLECTIONS));
  let ran = 0;
  return () => {
    if (++ran % every === 0) gc();
  };
}

/**
 * A pipeline directory opened for work: its inputs read and checked, and everything a build, a status, a
 * clean or an adoption uses of the world (see WorkspaceSeams). The one composition root: the commands,
 * cf watch and the tests call it; they print, it does not.
 */
export class Workspace {
  private constructor(
    readonly dir: string,
    readonly inputs: Inputs,
    private readonly seams: WorkspaceSeams,
  ) {}

  /** Reads and checks the pipeline and its inputs (bad input: the error, nothing touched). */
  static async open(dir: string, seams: WorkspaceSeams = {}, o: { pipeline?: Pipeline; statCache?: StatCache } = {}): Promise<Result<Workspace, UserError>> {
    const inputs = await loadInputs(dir, o.pipeline, o.statCache);
    return inputs.ok ? ok(new Workspace(dir, inputs.value, seams)) : inputs;
  }

  /** The same inputs with some seams replaced (cf build --queue: the queue's executor). */
  withSeams(more: WorkspaceSeams): Workspace {
    return new Workspace(this.dir, this.inputs, { ...this.seams, ...more });
  }

  get pipeline(): Pipeline {
    return this.inputs.pipeline;
  }

  /** Targets named as on the command line (default: every phase's output). */
  targets(names: string[]): Result<Request[], UserError> {
    return resolveTargets(this.inputs.graph, names);
  }

  /** The time records are stamped with (a seam: tests give their own clock). */
  now(): Date {
    return this.seams.now?.() ?? new Date();
  }

  openStore(readOnly: boolean): Promise<OpenedStore> {
    return this.seams.openStore ? this.seams.openStore(readOnly) : openStore(this.dir, readOnly);
  }

  get outputs(): OutputStore {
    return this.seams.outputs ?? outputStore(this.dir);
  }

  runDir(phase: PhaseConfig, batch: number): string | null {
    return this.seams.runDir ? this.seams.runDir(phase, batch) : runDirOf(this.dir, phase.name, batch);
  }

  lock(command: string, onWait: (owner: LockOwner | null) => void, signal?: AbortSignal, onLeftovers?: (l: Leftovers) => void): Promise<HeldLock> {
    return this.seams.lock ? this.seams.lock(command, onWait, signal, onLeftovers) : acquireLock(this.dir, command, onWait, signal, onLeftovers);
  }

  /** The shared cache of a build (null: none), and how to let go of it; or what is wrong with the settings. */
  private async remoteCache(override: RemoteOverride | undefined): Promise<Result<{ cache: RemoteCache; close(): void } | null, UserError>> {
    if (this.seams.remote) {
      const cache = await this.seams.remote();
      return ok(cache && { cache, close: () => undefined });
    }
    const settings = remoteSettings(this.pipeline, override ?? null);
    if (!settings.ok || !settings.value) return settings as Result<null, UserError>;
    const backend = await openBackend(settings.value);
    return ok({ cache: { backend, mode: settings.value.mode }, close: () => backend.close() });
  }

  /** The executor of a build (and of adopt's checks). */
  executor(o: { jobs: number; budget: Budget }): { executor: BatchExecutor; unstaged(phase: PhaseConfig): boolean } {
    if (this.seams.executor) return this.seams.executor(this.inputs, o);
    const { executor, runnerFor } = localExecutor(this.inputs, o);
    // A runner that gathers its requests (a Message Batch) gets every stale batch at once.
    return { executor, unstaged: (phase) => runnerFor(phase).pooled === false };
  }

  /** --max-cost needs runners that say what their runs cost: the first phase whose runner does not, as an error. */
  unpricedRunner(requests: Request[]): UserError | null {
    for (const phase of new Set(closure(this.inputs.graph, requests).map((x) => x.phase))) {
      const runner = createRunner(this.pipeline.runners.get(phase.runner)!, this.pipeline);
      if (!runner.priced) {
        return {
          kind: 'usage',
          message: `--max-cost: runner "${phase.runner}" (phase ${phase.name}) does not report what its runs cost`,
          hint: 'budgets work with kind: anthropic or openai (with a price for the model), or preset: claude-code',
        };
      }
    }
    return null;
  }

  /** The engine for one build with this store: the budget told what earlier batches cost. */
  engine(store: OpenedStore, o: BuildOptions): Engine {
    const budget = o.budget ?? new Budget(o.maxCost ?? null);
    for (const t of store.targets()) {
      const phase = t.split('#')[0]!;
      for (const u of store.lastSuccess(t)?.usage ?? []) if (u.costUsd !== null) budget.learn(phase, u.costUsd);
    }
    const jobs = o.jobs ?? this.pipeline.jobs;
    const { executor, unstaged } = this.executor({ jobs, budget });
    return new Engine({
      decider: this.inputs.decider(store),
      executor,
      outputs: o.outputs ?? this.outputs,
      intelligence: (phase) => (this.seams.intelligence ? this.seams.intelligence(phase) : readIntelligence(this.pipeline, phase.intelligence)),
      runDir: (phase, batch) => this.runDir(phase, batch),
      jobs,
      unstaged,
      emit: o.emit,
      signal: o.signal,
      ...(o.drain ? { drain: o.drain } : {}),
      ...(this.seams.now ? { now: this.seams.now } : {}),
    });
  }

  /**
   * Builds the requests: under the lock, the temporaries a killed cf left removed, hand edits of merged
   * outputs taken, the plan announced, then what is stale run, validated, recorded and merged. Input that
   * cannot be built from (a budget without prices, seeds gone empty, an agent that cannot start) is an error
   * before anything runs.
   */
  async build(requests: Request[], o: BuildOptions): Promise<Result<BuildResult, UserError>> {
    if (o.maxCost !== null && o.maxCost !== undefined) {
      const unpriced = this.unpricedRunner(requests);
      if (unpriced) return err(unpriced);
    }
    if (this.inputs.graph.seedCount === 0 && !o.allowEmptySeeds) {
      const store = o.store ?? (await this.openStore(true));
      const empty = emptySeedsError(this.inputs.graph, store, requests);
      if (empty) return err(empty);
    }
    const remote = await this.remoteCache(o.remoteCache);
    if (!remote.ok) return remote;
    const outputs = new Map<string, FileStamp>();
    const lock = await this.lock(
      o.command ?? 'build',
      (owner) => o.emit({ event: 'waiting', reason: 'lock', ...(owner ? { pid: owner.pid, command: owner.command, since: owner.since, ...(owner.gone ? { gone: true } : {}) } : {}) }),
      o.signal,
      (l) => o.emit({ event: 'leftovers', ...l }),
    ).catch((e: unknown) => {
      if (o.signal.aborted) return null;
      throw e;
    });
    if (!lock) {
      remote.value?.close();
      return ok({ summary: emptySummary(), outputs, interrupted: true });
    }
    try {
      if (this.seams.local !== false) await removeStaleTemporariesOf(this.pipeline);
      const local = o.store ?? (await this.openStore(false));
      // A shared cache behind the checkout's store: asked for what this checkout lacks, told what it builds.
      const store = remote.value ? shareStore(local, remote.value.cache, { dir: this.dir, now: () => this.now(), emit: o.emit }) : local;
      mark('state read');
      const engine = this.engine(store, o);
      o.onEngine?.(engine);
      try {
        await this.takeEdits(engine, o);
        mark('edits taken');
        await engine.plan(requests);
        mark('planned');
        // An agent or validator that cannot start is a config error before anything runs, not a batch that
        // fails each of its attempts.
        const unstartable = this.seams.executor ? null : unstartableCommand(this.pipeline, engine.phasesToRun);
        if (unstartable) return err(unstartable);
        if (this.seams.local !== false) {
          const collect = leanHeapFor(engine.planned);
          if (collect) engine.onBatchDone = collect;
          // Many agent runs to start: the spawner (a helper process) forks them, not cf. A few are forked
          // directly, without paying for the helper's start (a one-seed edit: three agents and three validators).
          if (engine.planned >= SPAWNER_AT) spawner.prestart();
        }
        return ok({ summary: await engine.run(requests), outputs, interrupted: false });
      } finally {
        mark('built');
        for (const phase of this.pipeline.phases) {
          const m = store.merge(phase.name);
          if (m) outputs.set(m.path, m.file);
        }
        await this.inputs.cache.save();
        await store.finish();
        store.close();
        mark('state saved');
      }
    } finally {
      remote.value?.close();
      await lock.release();
    }
  }

  /** Hand edits of merged outputs become batch outputs before anything is decided (see handEdits.ts). */
  private async takeEdits(engine: Engine, o: BuildOptions): Promise<void> {
    const reports = await takeHandEdits({
      decider: engine.decider,
      outputs: o.outputs ?? this.outputs,
      phases: this.inputs.graph.phases,
      executor: engine.executor,
      runDir: (phase, batch) => {
        const dir = this.runDir(phase, batch);
        return dir && `${dir}/edit`;
      },
      signal: o.signal,
      now: () => this.now(),
      author: `hand edit (${osUser()})`,
    });
    for (const r of reports) {
      if (r.taken.length) o.emit({ event: 'edit-taken', phase: r.phase, output: r.output, targets: r.taken, corrections: correctionsFile(r.phase) });
      if (r.unreadable) o.emit({ event: 'edit-rejected', phase: r.phase, output: r.output, errors: [], reason: r.unreadable });
      for (const x of r.rejected) o.emit({ event: 'edit-rejected', phase: r.phase, output: r.output, target: x.target, errors: x.errors });
    }
  }
}
