import type { Project } from './project.js';

export type Event = Record<string, unknown> & { event: string };

/** A running cf process's stdout, read line by line: a test waits for lines, never for time. */
export class Lines {
  private readonly lines: AsyncIterator<unknown>;
  readonly seen: string[] = [];

  constructor(readonly proc: ReturnType<Project['spawn']>) {
    this.lines = proc.iterable()[Symbol.asyncIterator]();
  }

  async next(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`cf ended; its output was:\n${this.seen.join('\n')}`);
    const line = String(r.value);
    this.seen.push(line);
    return line;
  }

  /** Lines up to and including the next one matching. */
  until(pred: (line: string) => boolean): Promise<string[]> {
    return collectUntil(() => this.next(), pred);
  }
}

/** What `next` gives, up to and including the first that matches. */
async function collectUntil<T>(next: () => Promise<T>, pred: (x: T) => boolean): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const x = await next();
    out.push(x);
    if (pred(x)) return out;
  }
}

/** After a test: its cf processes killed and waited for, its project removed. */
export async function stopAll(procs: Array<ReturnType<Project['spawn']> | undefined>, project: Project | undefined): Promise<void> {
  for (const x of procs) {
    x?.kill('SIGKILL');
    await x?.catch(() => undefined);
  }
  await project?.remove();
}

/** A running `cf watch --json`, read event by event. */
export class Watch {
  private readonly lines: Lines;
  readonly seen: Event[] = [];

  constructor(readonly proc: ReturnType<Project['spawn']>) {
    this.lines = new Lines(proc);
  }

  async next(): Promise<Event> {
    const e = JSON.parse(await this.lines.next()) as Event;
    this.seen.push(e);
    return e;
  }

  /** Events up to and including the next one matching. */
  until(pred: (e: Event) => boolean): Promise<Event[]> {
    return collectUntil(() => this.next(), pred);
  }

  /** The next rebuild's summary (and the events before it): what ran, what was cancelled, what changed. */
  async rebuild(): Promise<{ events: Event[]; ran: string[]; cancelled: string[]; changed: string[] | null; summary: Event }> {
    const events = await this.until((e) => e.event === 'summary');
    const summary = events.at(-1)!;
    const changed = events.filter((e) => e.event === 'changed').at(-1);
    return {
      events,
      summary,
      ran: (summary.ran as string[]).slice().sort(),
      cancelled: (summary.cancelled as string[]).slice().sort(),
      changed: changed ? (changed.files as string[]) : null,
    };
  }
}
