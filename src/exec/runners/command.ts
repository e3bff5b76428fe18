import { existsSync } from 'node:fs';
import { PIPELINE_DIR, type CommandRunnerConfig, type CommandSpec } from '../../config/pipeline.js';
import { scrubFile } from '../../util/scrubFile.js';
import { readAnswerFile } from './answerText.js';
import { spawnTree, type SpawnResult } from '../processes/processes.js';
import { extractJson } from './extract.js';
import { RateLimiter } from './limits.js';
import { stderrFileDetail } from '../processes/stderrSummary.js';
import type { AgentFailure, AgentRequest, AgentResult, AgentRunner, AttemptFiles } from './types.js';

const ON_STDOUT = 'the output (on stdout)';

/** What one run is started as: its command and what it adds to the environment (over cf's own). */
export interface Invocation {
  command: CommandSpec;
  env: Record<string, string>;
}

/**
 * Runs a local command per attempt: argv without a shell or a string through /bin/sh, cwd = the pipeline
 * directory (or the attempt's directory), the prompt on stdin and in CF_PROMPT_FILE, stdout and stderr
 * kept beside the attempt's files. An agent that prints its answer instead of writing CF_OUTPUT_FILE is
 * read from stdout (the whole of it, or its last ```json block). Once the agent has exited, its files are
 * scrubbed of secrets (it runs with cf's environment and may print a key); a failure is told by its
 * stderr's error line (stderrSummary.ts). A preset (claudeCode.ts) says how its command starts and how
 * its stdout is read.
 */
export class CommandRunner implements AgentRunner {
  readonly delivery = 'file' as const;
  readonly priced: boolean = false;
  private readonly limiter: RateLimiter;

  constructor(
    protected readonly config: CommandRunnerConfig,
    protected readonly cwd: string,
  ) {
    this.limiter = new RateLimiter(config.limits);
  }

  async run(req: AgentRequest): Promise<AgentResult> {
    const files = req.files;
    if (!files) throw new Error('the command runner needs attempt files on disk');
    const how = this.invocation(req, files);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, how.env, this.config.env, req.env, { CF_PIPELINE_DIR: this.cwd });
    const ticket = this.limiter.unlimited ? null : await this.limiter.acquire(0, req.signal).catch(() => null);
    if (!this.limiter.unlimited && !ticket) return { ok: false, failure: { kind: 'cancelled' } };
    const r = await spawnTree({
      command: how.command,
      cwd: this.config.cwd === 'run' ? files.dir : this.cwd,
      env,
      stdin: { file: files.prompt },
      stdout: { file: files.stdout },
      stderr: { file: files.stderr },
      timeoutMs: this.config.timeoutMs,
      signal: req.signal,
    }).finally(() => ticket?.release());
    for (const f of [files.stdout, files.stderr, files.output]) await scrubFile(f);
    return this.outcome(r, files, req);
  }

  /** The command (PIPELINE_DIR put in) and the environment it adds. */
  protected invocation(_req: AgentRequest, _files: AttemptFiles): Invocation {
    const c = this.config.command;
    // A shell string: the shell expands $CF_PIPELINE_DIR.
    return { command: 'argv' in c ? { argv: c.argv.map((a) => a.replaceAll(PIPELINE_DIR, this.cwd)) } : c, env: {} };
  }

  /** The attempt's result, once the agent has ended (and its files are scrubbed). */
  protected async outcome(r: SpawnResult, files: AttemptFiles, req: AgentRequest): Promise<AgentResult> {
    if (r.kind !== 'exited') return { ok: false, failure: processFailure(r, this.config.timeoutMs, files) };
    if (r.code !== 0) return { ok: false, failure: { kind: 'exit', code: r.code, detail: stderrFileDetail(files.stderr) } };
    // An agent that wrote CF_OUTPUT_FILE answered there (read and checked with the attempt).
    if (existsSync(files.output)) return { ok: true };
    const read = readAnswerFile(files.stdout, req.maxOutput, req.phase, ON_STDOUT);
    if (read && !read.ok) return { ok: false, failure: { kind: 'output', message: read.message } };
    const text = read?.text ?? '';
    return { ok: true, ...(text.trim() ? { output: extractJson(text) } : {}) };
  }
}

/** How a run that did not exit by itself (or did not start) failed. */
export function processFailure(r: Exclude<SpawnResult, { kind: 'exited' }>, timeoutMs: number, files: AttemptFiles): AgentFailure {
  switch (r.kind) {
    case 'signalled':
      return { kind: 'signal', signal: r.signal, detail: stderrFileDetail(files.stderr) };
    case 'timeout':
      return { kind: 'timeout', ms: timeoutMs, ...(r.left?.length ? { left: r.left } : {}) };
    case 'cancelled':
      return { kind: 'cancelled' };
    case 'spawn-error':
      return { kind: 'spawn', message: r.message };
  }
}
