import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { adopt } from '../../src/app/adopt.js';
import { clean, type CleanReport } from '../../src/app/clean.js';
import { exitCodeOf } from '../../src/app/exitCode.js';
import { dryRun, explain, status } from '../../src/app/inspect.js';
import { Workspace, type BuildOptions, type WorkspaceSeams } from '../../src/app/workspace.js';
import type { PhaseConfig, Pipeline } from '../../src/config/pipeline.js';
import type { Item } from '../../src/config/seeds.js';
import { StatCache } from '../../src/config/statCache.js';
import type { AdoptReport } from '../../src/engine/adopt.js';
import type { Request } from '../../src/engine/targets.js';
import { emptySummary, type BuildEvent, type BuildSummary } from '../../src/events/types.js';
import type { BatchExecutor } from '../../src/exec/executor.js';
import { LocalExecutor } from '../../src/exec/localExecutor.js';
import type { ValidationError, Validator } from '../../src/exec/validate.js';
import { createValidator } from '../../src/exec/validators.js';
import type { OpenedStore } from '../../src/store/buildStore.js';
import { LocalStore } from '../../src/store/localStore.js';
import type { RemoteCache } from '../../src/store/sharedStore.js';
import { memoryLock } from '../../src/store/lock.js';
import { MemoryOutputStore } from '../../src/store/outputs.js';
import type { UserError } from '../../src/util/errors.js';
import { FakeAgent, type FakeRun, type Held, type Knobs, type Queue } from './fakeAgent.js';
import { seedsJson, TWO_PHASES } from './project.js';

export { echoAgent, echoAnswer, type FakeRun, type Knobs } from './fakeAgent.js';

/*
 * A real Workspace (src/app/workspace.ts) opened on a temporary directory that holds only its inputs
 * (pipeline.yaml, seeds, intelligence: read as cf reads them), with everything else in memory: the store
 * (LocalStore.memory(), kept across builds as .cf/ is), the merged outputs (MemoryOutputStore), the lock
 * (memoryLock), and the agents: the real LocalExecutor (attempt loop, -j slots, budget) over an in-process
 * fake agent (fakeAgent.ts, as test/fixtures/fake-agent.cjs behaves) and the phases' real validators (or
 * fakes). No process is started unless a test asks for the pipeline's own agents or command validators.
 * Each build() opens the workspace again, as a new cf invocation does.
 */

export interface Built {
  summary: BuildSummary;
  /** As cf build decides it (0 done, 1 failed or not built, 130 interrupted). */
  exitCode: number;
  events: BuildEvent[];
  /** "phase#batch" of each first attempt this build ran, sorted (as targetsOf(runs) of the CLI tests). */
  ran: string[];
  runs: FakeRun[];
}

export type BuildCall = Partial<Omit<BuildOptions, 'emit'>> & { emit?: (e: BuildEvent) => void; signal?: AbortSignal };

export class Bench {
  /** The recorded state: one store for every build, as .cf/ is. */
  readonly store = LocalStore.memory();
  readonly outputs = new MemoryOutputStore();
  readonly lock = memoryLock();
  /** Kept between opens, as cf watch keeps it. */
  readonly statCache = StatCache.memory();
  /** The agent of every phase (unless realAgents): its runs, its knobs, the runs it holds. */
  readonly fake = new FakeAgent();
  /** Every build's events, in order. */
  readonly events: BuildEvent[] = [];
  /** A phase's validator, instead of the one pipeline.yaml gives it (null: none). */
  readonly validators = new Map<string, ((items: Item[]) => ValidationError[]) | null>();
  private readonly waiters: Array<{ pred: (e: BuildEvent) => boolean; resolve: (e: BuildEvent) => void }> = [];
  /** The pipeline's own runners and validators (an API runner, a replay), not the fake agent. */
  realAgents = false;
  /** The store on disk, in the directory's .cf/ (as cf's own), instead of in memory. */
  disk = false;
  /** Attempts keep their files in .cf/runs/ (as cf's own; a command validator reads them), not nowhere. */
  runDirs = false;
  /** Another store instead (a shared one, as another machine's cf would open the same). */
  storeInstead: OpenedStore | undefined;
  /** The shared cache builds read from and publish to (default: none, whatever the environment says). */
  remote: RemoteCache | null = null;
  /** The clock of records and events (default: the time). */
  now: (() => Date) | undefined;
  /** The executor each build's jobs go through (a test may wrap it: a JSON round trip). */
  wrapExecutor: (e: BatchExecutor) => BatchExecutor = (e) => e;

  private constructor(
    readonly dir: string,
    private readonly owned = true,
  ) {}

  /** A bench on an existing pipeline directory (its inputs read there; removed by its owner, not here). */
  static on(dir: string): Bench {
    return new Bench(dir, false);
  }

  /** A pipeline directory: TWO_PHASES (pairs → legos, batches of 20) over `seeds` seeds, unless given. */
  static async create(opts: { seeds?: number; pipeline?: string; files?: Record<string, string> } = {}): Promise<Bench> {
    const b = new Bench(await mkdtemp(path.join(tmpdir(), 'cf-bench-')));
    await b.write('pipeline.yaml', opts.pipeline ?? TWO_PHASES());
    await b.write('seeds.json', seedsJson(opts.seeds ?? 60));
    await b.write('prompts/pairs.md', '# Pairs\nTranslate each seed.\n');
    await b.write('prompts/legos.md', '# Legos\nSplit each pair.\n');
    for (const [f, text] of Object.entries(opts.files ?? {})) await b.write(f, text);
    return b;
  }

  async remove(): Promise<void> {
    if (this.owned) await rm(this.dir, { recursive: true, force: true });
  }

  file(rel: string): string {
    return path.join(this.dir, rel);
  }

  async write(rel: string, text: string): Promise<void> {
    await mkdir(path.dirname(this.file(rel)), { recursive: true });
    await writeFile(this.file(rel), text);
  }

  read(rel: string): Promise<string> {
    return readFile(this.file(rel), 'utf8');
  }

  async editSeed(id: string, text: string): Promise<void> {
    const seeds = JSON.parse(await this.read('seeds.json')) as Array<{ id: string; text: string }>;
    const s = seeds.find((x) => x.id === id);
    if (!s) throw new Error(`no seed ${id}`);
    s.text = text;
    await this.write('seeds.json', `${JSON.stringify(seeds, null, 2)}\n`);
  }

  /** A merged output, as cf last wrote it (or as a test edited it). */
  output(rel: string): string | null {
    return this.outputs.files.get(rel)?.text ?? null;
  }

  /** Writes a merged output as a person editing it would. */
  async editOutput(rel: string, text: string): Promise<void> {
    await this.outputs.write(rel, text);
  }

  /** The next event of a build (from now on) that matches `pred`: a test waits for events, not for time. */
  when(pred: (e: BuildEvent) => boolean): Promise<BuildEvent> {
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** What the fake agent was asked, attempt by attempt. */
  get runs(): FakeRun[] {
    return this.fake.runs;
  }

  /** How the fake agent misbehaves from now on. */
  get knobs(): Knobs {
    return this.fake.knobs;
  }

  set knobs(k: Knobs) {
    this.fake.knobs = k;
  }

  /** An agent of the test's own instead (its runs are still logged). */
  set agent(a: FakeAgent['agent']) {
    this.fake.agent = a;
  }

  /** The runner's own properties (priced: its results carry a cost). */
  set runner(r: FakeAgent['runnerProps']) {
    this.fake.runnerProps = r;
  }

  get gated(): Queue<Held> {
    return this.fake.gated;
  }

  get hanging(): Queue<Held> {
    return this.fake.hanging;
  }

  release(target: string): void {
    this.fake.release(target);
  }

  seams(): WorkspaceSeams {
    const fake: Pick<WorkspaceSeams, 'executor'> = {
      executor: (inputs, o) => ({
        executor: this.wrapExecutor(
          new LocalExecutor({
            phase: (name) => inputs.graph.phase(name),
            jobs: o.jobs,
            runnerFor: () => this.fake.runner(),
            validatorFor: (phase) => this.validatorFor(phase, inputs.pipeline),
            budget: o.budget,
          }),
        ),
        unstaged: () => false,
      }),
    };
    return {
      // One store for every open, read-only or not, as a shared store is: a read-only command must change nothing in it.
      openStore: async (readOnly) => this.storeInstead ?? (this.disk ? LocalStore.open(this.dir, { readOnly }) : this.store),
      ...(this.realAgents ? {} : fake),
      outputs: this.outputs,
      lock: this.lock,
      remote: async () => this.remote,
      ...(this.runDirs ? {} : { runDir: () => null }),
      local: false,
      ...(this.now ? { now: this.now } : {}),
    };
  }

  /** The workspace as a cf invocation opens it now; a UserError (bad input) is returned, not thrown. */
  async tryOpen(o: { pipeline?: Pipeline } = {}): Promise<{ ok: true; value: Workspace } | { ok: false; error: UserError }> {
    return Workspace.open(this.dir, this.seams(), { statCache: this.statCache, ...o });
  }

  async open(): Promise<Workspace> {
    const ws = await this.tryOpen();
    if (!ws.ok) throw new Error(`the workspace does not open: ${JSON.stringify(ws.error)}`);
    return ws.value;
  }

  async targets(names: string[]): Promise<{ ws: Workspace; requests: Request[] }> {
    const ws = await this.open();
    const r = ws.targets(names);
    if (!r.ok) throw new Error(`bad targets: ${JSON.stringify(r.error)}`);
    return { ws, requests: r.value };
  }

  /** `cf build TARGETS`; a UserError (input cf cannot build from) is returned as `error`. */
  async tryBuild(names: string[] = [], o: BuildCall = {}): Promise<Built | { error: UserError }> {
    const { ws, requests } = await this.targets(names);
    const signal = o.signal ?? new AbortController().signal;
    const events: BuildEvent[] = [];
    const from = this.runs.length;
    const r = await ws.build(requests, {
      ...o,
      signal,
      emit: (e) => {
        events.push(e);
        this.events.push(e);
        o.emit?.(e);
        for (const w of this.waiters.filter((x) => x.pred(e))) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(e);
        }
      },
    });
    if (!r.ok) return { error: r.error };
    const summary = r.value.summary ?? emptySummary();
    const runs = this.runs.slice(from);
    return { summary, exitCode: exitCodeOf(summary, signal.aborted), events, runs, ran: runs.filter((x) => x.attempt === 1).map((x) => x.target).sort() };
  }

  async build(names: string[] = [], o: BuildCall = {}): Promise<Built> {
    const r = await this.tryBuild(names, o);
    if ('error' in r) throw new Error(`the build was refused: ${JSON.stringify(r.error)}`);
    return r;
  }

  async dryRun(names: string[] = []): ReturnType<typeof dryRun> {
    const { ws, requests } = await this.targets(names);
    return dryRun(ws, requests);
  }

  async status(): ReturnType<typeof status> {
    return status(await this.open());
  }

  async explain(names: string[]): ReturnType<typeof explain> {
    const { ws, requests } = await this.targets(names);
    return explain(ws, requests);
  }

  async clean(names: string[] = [], o: { dryRun?: boolean } = {}): Promise<CleanReport> {
    const { ws, requests } = await this.targets(names);
    return clean(ws, requests, { dryRun: o.dryRun ?? false, onWait: () => undefined });
  }

  async adopt(phase: string, items: Item[], source = 'adopted.json'): Promise<AdoptReport> {
    const ws = await this.open();
    return adopt(ws, ws.inputs.graph.phase(phase), items, source, { onWait: () => undefined });
  }

  private validatorFor(phase: PhaseConfig, pipeline: Pipeline): Validator | null {
    if (!this.validators.has(phase.name)) return createValidator(phase, pipeline);
    const v = this.validators.get(phase.name);
    if (!v) return null;
    return {
      validate: async (req) => {
        const errors = v(req.items);
        return errors.length ? { kind: 'invalid', errors } : { kind: 'valid' };
      },
    };
  }
}

/**
 * Two builds of the same workspace at once, as two cf build in one directory: the first holds the lock
 * (its run of pairs#1 is held) until the second is waiting for it, so that they overlap whatever the timing.
 */
export async function twoBuildsAtOnce(b: Bench): Promise<[Built, Built]> {
  const knobs = b.knobs;
  b.knobs = { ...knobs, gateText: 'seed number 1', onlyPhase: 'pairs' };
  const first = b.build();
  const held = await b.gated.next();
  const waiting = b.when((e) => e.event === 'waiting');
  const second = b.build();
  await waiting;
  b.knobs = knobs;
  b.release(held.target);
  return Promise.all([first, second]);
}

/** The summary event cf build prints after a build (as cli/commands/build.ts makes it). */
export function summaryEvent(b: Built, ms = 1234): BuildEvent {
  return { event: 'summary', ok: b.exitCode === 0, exitCode: b.exitCode, ms, ...b.summary };
}

/** Lines written to a reporter's sink. */
export class Sink {
  text = '';
  write(s: string | Uint8Array): boolean {
    this.text += String(s);
    return true;
  }
  get lines(): string[] {
    return this.text.split('\n').filter(Boolean);
  }
}
