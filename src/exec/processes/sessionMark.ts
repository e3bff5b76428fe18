import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Every process cf starts (agents and validators alike) carries a mark in its environment, CF_SESSION,
 * and so does everything those start in turn, whatever process group or session it moves to (a setsid,
 * a double fork): environments are inherited. The mark is how what cf's processes left running is found
 * when a process-group kill cannot reach it: by cf after a timed-out or cancelled attempt, by the
 * watchdog when cf dies (watchdog.ts, which matches the same format), and by a cf that takes the lock
 * over from a dead one, before it reuses the run directories those processes would write to.
 *
 * The value is a comma-separated list of tokens `SESSION.N`: SESSION is random, one per cf process, N
 * counts its processes; a cf started by an agent of another cf adds its own token after its parent's, so
 * the outer cf's clean-up reaches the inner one's processes too. Found by reading /proc/PID/environ
 * (Linux; elsewhere nothing is found and process groups are all there is).
 */
export const MARK_VAR = 'CF_SESSION';

let session: string | null = null;
let counter = 0;

/** This cf's session id (random, made on first use). */
export function sessionId(): string {
  return (session ??= randomBytes(8).toString('hex'));
}

/** The mark's value for a new process: the inherited tokens and one new token of this session. */
export function newMark(inherited: string | undefined): { token: string; value: string } {
  const token = `${sessionId()}.${++counter}`;
  return { token, value: inherited ? `${inherited},${token}` : token };
}

/** Matches a session's tokens (`{session}`) or one process's (`{token}`). */
export type MarkQuery = { session: string } | { token: string };

const PROC = '/proc';
const VAR_PREFIX = Buffer.from(`${MARK_VAR}=`);

function marked(environ: Buffer, q: MarkQuery): boolean {
  // environ is NUL-separated NAME=value strings; the mark is one of them.
  for (let at = environ.indexOf(VAR_PREFIX); at >= 0; at = environ.indexOf(VAR_PREFIX, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue;
    const end = environ.indexOf(0, at);
    const value = environ.toString('latin1', at + VAR_PREFIX.length, end < 0 ? environ.length : end);
    for (const t of value.split(',')) if ('token' in q ? t === q.token : t.startsWith(`${q.session}.`)) return true;
    return false;
  }
  return false;
}

/** The live processes carrying the mark (this process excluded); none where there is no /proc. */
export function findMarked(q: MarkQuery): number[] {
  let names: string[];
  try {
    names = readdirSync(PROC);
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let environ: Buffer;
    try {
      // Another user's process, or one gone meanwhile: not ours. A zombie's environ reads empty.
      environ = readFileSync(`${PROC}/${name}/environ`);
    } catch {
      continue;
    }
    if (marked(environ, q)) found.push(pid);
  }
  return found;
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/**
 * SIGKILLs every process carrying the mark, again and again until none is found (a process may fork
 * while the scan runs), at most `rounds` times. Synchronous: for the watchdog about to exit and for cf's
 * clean-up after an attempt. Returns how many were killed.
 */
export function killMarked(q: MarkQuery, rounds = 50): number {
  const killed = new Set<number>();
  for (let i = 0; i < rounds; i++) {
    const found = findMarked(q);
    if (!found.length) break;
    for (const pid of found) {
      kill(pid);
      killed.add(pid);
    }
  }
  return killed.size;
}

/**
 * killMarked, then waits until no marked process is left (a process in the middle of a system call dies
 * when it returns), for at most `waitMs`. Returns how many were killed and how many are still there.
 */
export async function killMarkedAndWait(q: MarkQuery, waitMs = 10_000): Promise<{ killed: number; left: number[] }> {
  const killed = killMarked(q);
  const until = Date.now() + waitMs;
  let left = findMarked(q);
  while (left.length && Date.now() < until) {
    for (const pid of left) kill(pid);
    await sleep(20);
    left = findMarked(q);
  }
  return { killed, left };
}
