import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { UserError } from '../util/errors.js';
import { parseSimpleCommand } from '../exec/processes/shellWords.js';
import type { CommandSpec, PhaseConfig, Pipeline } from './pipeline.js';

/** Programs that run a script file named among their arguments (the first that looks like one). */
const INTERPRETERS = new Set(['node', 'nodejs', 'python', 'python2', 'python3', 'ruby', 'perl', 'bash', 'sh', 'dash', 'zsh', 'tsx', 'ts-node', 'bun', 'deno', 'php', 'Rscript']);
/** Options after which an interpreter runs code given inline, or a module, instead of a script file. */
const INLINE = new Set(['-e', '--eval', '-p', '--print', '-c', '-m', '-r', '--input-type']);
/** What a script file's name ends with (an option's value such as `--require foo` does not look like one). */
const SCRIPT = /\.(m?[jt]s|c[jt]s|py|rb|pl|sh|bash|php|r)$/i;

/** A command's program, and the script file it runs when its program is an interpreter. */
export function commandParts(cmd: CommandSpec, env: Record<string, string | undefined>): { program: string; script: string | null } | null {
  const argv = 'argv' in cmd ? cmd.argv : parseSimpleCommand(cmd.shell, env)?.argv;
  if (!argv?.length) return null; // a real shell command line: the shell reports what it cannot find
  const [program, ...args] = argv as [string, ...string[]];
  const name = path.basename(program);
  if (!INTERPRETERS.has(name)) return { program, script: null };
  const rest = name === 'deno' && args[0] === 'run' ? args.slice(1) : args;
  for (const a of rest) {
    if (INLINE.has(a)) break;
    if (a.startsWith('-')) continue;
    if (SCRIPT.test(a) || a.includes('/')) return { program, script: a };
  }
  return { program, script: null };
}

function isFile(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return isFile(p);
  } catch {
    return false;
  }
}

/** Why this command cannot start (its program is not found, its script does not exist), or null. */
export function cannotStart(cmd: CommandSpec, cwd: string | null, env: Record<string, string | undefined>): { message: string; hint: string } | null {
  const parts = commandParts(cmd, env);
  if (!parts) return null;
  const { program, script } = parts;
  if (program.includes('/')) {
    // Relative to the run's own directory (cwd: run) is unknown before the run: only absolute paths then.
    const abs = path.isAbsolute(program) ? program : cwd ? path.resolve(cwd, program) : null;
    if (abs && !executable(abs)) {
      return { message: `program ${program} ${isFile(abs) ? 'is not executable' : 'does not exist'}`, hint: isFile(abs) ? `chmod +x ${program}` : 'paths are relative to the pipeline directory' };
    }
  } else {
    const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
    if (!dirs.some((d) => executable(path.join(d, program)))) {
      return { message: `program "${program}" is not found on PATH`, hint: 'install it, or give its full path' };
    }
  }
  if (script) {
    const abs = path.isAbsolute(script) ? script : cwd ? path.resolve(cwd, script) : null;
    if (abs && !isFile(abs)) return { message: `script ${script} does not exist`, hint: 'paths are relative to the pipeline directory' };
  }
  return null;
}

/**
 * The first command these phases would run (their runners' and validators') that cannot start: a config
 * error before anything runs, instead of a batch that fails each of its attempts. Null when all can.
 */
export function unstartableCommand(p: Pipeline, phases: Iterable<PhaseConfig>): UserError | null {
  const seen = new Set<string>();
  for (const phase of phases) {
    const runner = p.runners.get(phase.runner)!;
    if (runner.kind === 'command' && !seen.has(`r:${runner.name}`)) {
      seen.add(`r:${runner.name}`);
      const env = { ...process.env, ...runner.env };
      const why = cannotStart(runner.command, runner.cwd === 'run' ? null : p.dir, env);
      const at = runner.preset ? 'preset' : 'command';
      if (why) return { kind: 'config', file: p.file, ...p.locations?.[`runners.${runner.name}.${at}`], path: `runners.${runner.name}.${at}`, message: `runner "${runner.name}": ${why.message}`, hint: why.hint };
    }
    const v = phase.validate?.command;
    if (v && !seen.has(`v:${phase.name}`)) {
      seen.add(`v:${phase.name}`);
      const why = cannotStart(v, p.dir, process.env);
      const key = `phases[${phase.index}].validate`;
      if (why) return { kind: 'config', file: p.file, ...p.locations?.[key], path: key, message: `the validator of phase ${phase.name}: ${why.message}`, hint: why.hint };
    }
  }
  return null;
}
