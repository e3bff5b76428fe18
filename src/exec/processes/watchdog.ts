import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { MARK_VAR, sessionId } from './sessionMark.js';

/**
 * The watchdog: a tiny shell process that outlives cf only to kill what cf started. Agents run in process
 * groups of their own (so that a timeout kills a whole tree), which also means nothing kills them when cf
 * dies without cleaning up (kill -9, a crash, the OOM killer): they ran on, spending, and wrote into run
 * directories the next build reused.
 *
 * cf holds the write end of the watchdog's stdin, and nothing else does: when cf goes, however it goes,
 * the watchdog reads end-of-file. Until then it reads the process groups cf starts ("+PGID") and ends
 * ("-PGID"); then it SIGKILLs the groups still listed and, where there is /proc, every process carrying
 * this cf's session mark (sessionMark.ts), again until none is left: that also finds what left an
 * agent's group (setsid, a daemon), and processes started by the spawner (spawnerChild.ts).
 *
 * A shell rather than a Node process: it starts in about a millisecond, where a Node process costs some
 * 40 ms of CPU, which a one-seed edit (3 agents, 3 validators, a few ms each) would pay on every build.
 * The mark's value holds only hex digits, dots and commas: a plain grep finds it in the NUL-separated
 * environ files (no GNU grep -z needed).
 * It runs in a session of its own: a kill of cf's whole process group, or the terminal's signals, do not
 * reach it (it ignores them anyway). Started once cf has started its first process, so that it never
 * delays it.
 */
const SCRIPT = `
trap '' INT TERM HUP
session=$1
groups=' '
cg=
while IFS= read -r line; do
  case $line in
    +*) groups="$groups\${line#+} " ;;
    -*) g=" \${line#-} "
        case $groups in *"$g"*) groups="\${groups%%"$g"*} \${groups#*"$g"}" ;; esac ;;
    c*) cg=\${line#c} ;;
  esac
done
killcg() {
  [ -n "$cg" ] && [ -d "$cg" ] || return 0
  echo 1 > "$cg/cgroup.kill" 2>/dev/null && return 0
  for f in $(find "$cg" -name cgroup.procs 2>/dev/null); do kill -9 $(cat "$f") 2>/dev/null; done
}
killcg
for g in $groups; do kill -9 -"$g" 2>/dev/null; done
if [ -d /proc/self ]; then
  n=0
  while [ $n -lt 50 ]; do
    found=$(grep -lE "${MARK_VAR}=[0-9a-f.,]*$session[.]" /proc/[0-9]*/environ 2>/dev/null)
    [ -n "$found" ] || break
    for f in $found; do p=\${f#/proc/}; kill -9 "\${p%/environ}" 2>/dev/null; done
    n=$((n + 1))
  done
fi
n=0
while [ -n "$cg" ] && [ -d "$cg" ] && [ $n -lt 100 ]; do
  find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  [ -d "$cg" ] || break
  sleep 0.05 2>/dev/null || sleep 1
  killcg
  n=$((n + 1))
done
`;

class Watchdog {
  private input: Writable | null = null;
  private started = false;
  /** Process groups started before the watchdog was: told to it when it starts. */
  private readonly groups = new Set<number>();
  private cg: string | null = null;

  /** Starts the watchdog, once, soon: not before the process whose start asks for it. */
  startSoon(): void {
    if (this.started) return;
    this.started = true;
    setImmediate(() => this.start());
  }

  /** A process group cf started: killed by the watchdog should cf die before the group ends. */
  watch(pgid: number): void {
    this.groups.add(pgid);
    this.tell(`+${pgid}\n`);
  }

  /** The session's cgroup (cgroup.ts): killed, and removed, when cf dies. Told once. */
  cgroup(dir: string): void {
    if (this.cg === dir) return;
    this.cg = dir;
    this.tell(`c${dir}\n`);
  }

  ended(pgid: number): void {
    if (this.groups.delete(pgid)) this.tell(`-${pgid}\n`);
  }

  private start(): void {
    let input: Writable | null;
    try {
      const child = spawn('/bin/sh', ['-c', SCRIPT, 'cf-watchdog', sessionId()], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      // Nothing holds cf open for the watchdog's sake, and a watchdog that could not start or went away
      // (EPIPE) is no error of the build's: it only watches.
      child.on('error', () => undefined);
      child.unref();
      input = child.stdin;
      input?.on('error', () => {
        this.input = null;
      });
      (input as { unref?: () => void } | null)?.unref?.();
    } catch {
      return;
    }
    this.input = input;
    const told = [...this.groups].map((g) => `+${g}\n`).join('') + (this.cg ? `c${this.cg}\n` : '');
    if (told) this.tell(told);
  }

  private tell(lines: string): void {
    this.input?.write(lines);
  }
}

export const watchdog = new Watchdog();
