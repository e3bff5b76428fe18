import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const CF_BIN = path.join(REPO, 'bin', 'cf.js');
export const FAKE_AGENT = path.join(REPO, 'test', 'fixtures', 'fake-agent.cjs');

export interface Run {
  phase: string;
  batch: number;
  count: number;
  attempt: number;
  ids: string[];
  pid: number;
  /** The agent's parent: cf itself, or cf's spawner process once a build has started several. */
  ppid: number;
  stdinMatches: boolean;
}

export interface CfResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function seedsJson(n: number, text = (i: number) => `seed number ${i}`): string {
  const items = Array.from({ length: n }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: text(i + 1) }));
  return `${JSON.stringify(items, null, 2)}\n`;
}

export const TWO_PHASES = (extra = ''): string => `seeds: seeds.json
batch_size: 20
runners:
  fake:
    command: [node, ${JSON.stringify(FAKE_AGENT)}]
    timeout: 20s
phases:
  - name: pairs
    from: seeds
    intelligence: prompts/pairs.md
    runner: fake
    output: out/pairs.json
  - name: legos
    from: pairs
    intelligence: prompts/legos.md
    runner: fake
    output: out/legos.json
${extra}`;

/** A pipeline in a fresh temp directory, with helpers to edit it and run the real CLI on it. */
export class Project {
  private constructor(readonly dir: string) {}

  static async create(opts: { seeds?: number; pipeline?: string; files?: Record<string, string> } = {}): Promise<Project> {
    const dir = await mkdtemp(path.join(tmpdir(), 'cf-test-'));
    const p = new Project(dir);
    await p.write('pipeline.yaml', opts.pipeline ?? TWO_PHASES());
    await p.write('seeds.json', seedsJson(opts.seeds ?? 60));
    await p.write('prompts/pairs.md', '# Pairs\nTranslate each seed.\n');
    await p.write('prompts/legos.md', '# Legos\nSplit each pair.\n');
    for (const [f, text] of Object.entries(opts.files ?? {})) await p.write(f, text);
    return p;
  }

  file(rel: string): string {
    return path.join(this.dir, rel);
  }

  async write(rel: string, text: string): Promise<void> {
    await mkdir(path.dirname(this.file(rel)), { recursive: true });
    await writeFile(this.file(rel), text);
  }

  /** Saves as an editor does: a temporary file beside it, renamed over it (one change, never half-written). */
  async save(rel: string, text: string): Promise<void> {
    const tmp = this.file(`${rel}.cf-test-tmp`);
    await writeFile(tmp, text);
    await rename(tmp, this.file(rel));
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

  spawn(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; cwd: string; env: Record<string, string> }> {
    return execa('node', [CF_BIN, ...args], { reject: false, cwd: this.dir, env: { CI: '1', ...env } });
  }

  async cf(args: string[], env: Record<string, string> = {}): Promise<CfResult> {
    const r = await this.spawn(args, env);
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** Every agent run so far (and clears the log). */
  async takeRuns(): Promise<Run[]> {
    const text = await readFile(this.file('runs.log'), 'utf8').catch(() => '');
    await rm(this.file('runs.log'), { force: true });
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Run);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** "phase#batch" of each run, sorted: what ran. */
export function targetsOf(runs: Run[]): string[] {
  return runs.map((r) => `${r.phase}#${r.batch}`).sort();
}

export function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A unix socket the fake agent reports to once it hangs (FAKE_READY_SOCKET): waiting without sleeping. */
export async function readySignal(dir: string): Promise<{ path: string; next(): Promise<{ agent: number; grandchild: number; target: string }>; close(): void }> {
  const { createServer } = await import('node:net');
  const socketPath = path.join(dir, 'ready.sock');
  const queue: string[] = [];
  const waiters: Array<(s: string) => void> = [];
  const server = createServer((sock) => {
    let data = '';
    sock.on('data', (d) => (data += String(d)));
    sock.on('end', () => {
      const w = waiters.shift();
      if (w) w(data);
      else queue.push(data);
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    path: socketPath,
    next: async () => JSON.parse(queue.shift() ?? (await new Promise<string>((r) => waiters.push(r)))) as { agent: number; grandchild: number; target: string },
    close: () => server.close(),
  };
}

/** True while a process runs (a zombie waiting to be reaped by init does not count). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The processes whose parent is `pid`, with their command lines (from /proc). */
export function childrenOf(pid: number): Array<{ pid: number; args: string }> {
  const out: Array<{ pid: number; args: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(name), args: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/**
 * Those of `pids` still running after at most `ms`: for processes another process kills (cf's watchdog),
 * which the test cannot wait for as it waits for its own children. Polls only to see them gone.
 */
export async function stillRunningAfter(pids: number[], ms = 5000): Promise<number[]> {
  const until = Date.now() + ms;
  let left = pids.filter(isRunning);
  while (left.length && Date.now() < until) {
    await sleep(20);
    left = left.filter(isRunning);
  }
  return left;
}

/** Kills what a failing test left running (on code without the fix), so that no test leaves processes behind. */
export function killLeftovers(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
}
