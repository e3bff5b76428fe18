import type { AgentRequest, AgentResult, AgentRunner } from '../../src/exec/runners/types.js';

/*
 * The fake agent of the in-memory tests: what test/fixtures/fake-agent.cjs does as a process, in process.
 * It logs every run, answers "<phase>(<input text>)<suffix>", and misbehaves on request (Knobs); a run it
 * holds (gated, hanging) is told to the test through a Queue, so that tests wait on events, never on time.
 */

/** What the fake agent was asked: one entry per attempt (as runs.log of the CLI tests). */
export interface FakeRun {
  target: string;
  phase: string;
  batch: number;
  count: number;
  attempt: number;
  ids: string[];
  /** The whole prompt (intelligence, batch context, input, retry errors). */
  prompt: string;
}

/**
 * How the fake agent misbehaves (fake-agent.cjs's FAKE_* variables): items whose id is in `fail` make it
 * exit 1; those in `flaky` are left out of attempt 1 (and of later ones unless the prompt names their
 * error); a run holding an item in `hang` or whose text contains `hangText` waits until it is cancelled;
 * one whose text contains `gateText` waits until the test releases it (Gates). `onlyPhase` limits them.
 */
export interface Knobs {
  fail?: string[];
  flaky?: string[];
  hang?: string[];
  hangText?: string;
  gateText?: string;
  onlyPhase?: string;
}

/** Values pushed by one side and awaited by the other, in order: waiting on an event, never on time. */
export class Queue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(x: T) => void> = [];

  push(x: T): void {
    const w = this.waiters.shift();
    if (w) w(x);
    else this.items.push(x);
  }

  next(): Promise<T> {
    return this.items.length ? Promise.resolve(this.items.shift()!) : new Promise((r) => this.waiters.push(r));
  }
}

/** A run the fake agent holds: it goes on when released, or ends when cancelled (`signal`). */
export interface Held {
  target: string;
  signal: AbortSignal;
}

/**
 * The fake agent's answer: { id, text: "<phase>(<input text>)<suffix>" }, the suffix from an intelligence
 * line "SUFFIX-FOR <id>: <text>" (so an intelligence edit can change one item's output and no other).
 */
export function echoAnswer(req: AgentRequest, leaveOut: ReadonlySet<string> = new Set()): string {
  const suffixes = new Map([...req.prompt.intelligence.matchAll(/^SUFFIX-FOR (\S+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  const out = req.inputItems
    .filter((it) => !leaveOut.has(String(it.id)))
    .map((it) => ({ id: it.id, text: `${req.phase}(${String(it.text ?? '')})${suffixes.get(String(it.id)) ?? ''}` }));
  return JSON.stringify(out, null, 2);
}

/** The fake agent's answer as an agent result (what the fake agent gives when it behaves). */
export const echoAgent = (req: AgentRequest): AgentResult => ({ ok: true, output: echoAnswer(req) });

export class FakeAgent {
  readonly runs: FakeRun[] = [];
  knobs: Knobs = {};
  /** Replaces the fake agent's answers (its runs are still logged). */
  agent: ((req: AgentRequest) => Promise<AgentResult> | AgentResult) | null = null;
  /** The runner's own properties (priced: its results carry a cost). */
  runnerProps: Pick<AgentRunner, 'priced' | 'estimateCost'> = {};
  /** Runs holding an item whose text contains knobs.gateText, in the order they arrive. */
  readonly gated = new Queue<Held>();
  /** Runs that hang (knobs.hang, knobs.hangText), in the order they start hanging. */
  readonly hanging = new Queue<Held>();
  private readonly gates = new Map<string, () => void>();

  /** The runner every phase gets: answers in its reply, as an API runner does (no files). */
  runner(): AgentRunner {
    return { delivery: 'reply', ...this.runnerProps, run: (req) => this.run(req) };
  }

  /** Lets a gated run go on. */
  release(target: string): void {
    const go = this.gates.get(target);
    if (!go) throw new Error(`no gated run for ${target}`);
    this.gates.delete(target);
    go();
  }

  private async run(req: AgentRequest): Promise<AgentResult> {
    const ids = req.inputItems.map((it) => String(it.id));
    this.runs.push({ target: req.target, phase: req.phase, batch: req.batch, count: req.batchCount, attempt: req.attempt, ids, prompt: req.prompt.full });
    if (this.agent) return this.agent(req);
    const k = this.knobs;
    const on = !k.onlyPhase || k.onlyPhase === req.phase;
    const hits = (list: string[] | undefined): string[] => (on ? ids.filter((id) => list?.includes(id)) : []);
    const texts = req.inputItems.map((it) => String(it.text ?? ''));
    if (on && k.gateText && texts.some((t) => t.includes(k.gateText!))) {
      await new Promise<void>((resolve) => {
        this.gates.set(req.target, resolve);
        this.gated.push({ target: req.target, signal: req.signal });
        req.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      if (req.signal.aborted) return { ok: false, failure: { kind: 'cancelled' } };
    }
    if (hits(k.fail).length) return { ok: false, failure: { kind: 'exit', code: 1, detail: `fake agent: refusing ${hits(k.fail).join(',')}` } };
    if (hits(k.hang).length || (on && k.hangText && texts.some((t) => t.includes(k.hangText!)))) {
      this.hanging.push({ target: req.target, signal: req.signal });
      if (!req.signal.aborted) await new Promise((resolve) => req.signal.addEventListener('abort', resolve, { once: true }));
      return { ok: false, failure: { kind: 'cancelled' } };
    }
    const flaky = hits(k.flaky);
    const named = flaky.every((id) => req.prompt.full.includes(`- ${id}: ${id} is missing from the output`));
    return { ok: true, output: echoAnswer(req, new Set(flaky.length && (req.attempt === 1 || !named) ? flaky : [])) };
  }
}
