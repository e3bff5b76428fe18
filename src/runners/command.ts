import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { CommandRunnerConfig, CommandSpec } from '../graph/pipeline.js';
import { spawnTree } from './processes.js';
import { extractJson, parseClaudeCodeEnvelope } from './extract.js';
import { RateLimiter } from './limits.js';
import { stderrFileDetail } from './stderrSummary.js';
import type { AgentRequest, AgentResult, AgentRunner, AttemptFiles } from './types.js';
import type { Usage } from './usage.js';

/**
 * Runs a local command per attempt: argv without a shell or a string through /bin/sh, cwd = the pipeline
 * directory (or the attempt's directory), the prompt on stdin and in CF_PROMPT_FILE, stdout and stderr
 * kept beside the attempt's files. An agent that prints its answer instead of writing CF_OUTPUT_FILE is
 * read from stdout (the whole of it, or its last ```json block); Claude Code's JSON envelope also gives
 * the run's tokens and cost. A failure is told by its stderr's error line (stderrSummary.ts).
 */
export class CommandRunner implements AgentRunner {
  readonly delivery = 'file' as const;
  readonly priced: boolean;
  private readonly limiter: RateLimiter;

  constructor(
    private readonly config: CommandRunnerConfig,
    private readonly cwd: string,
    /** Per phase: the model a phase asks for instead of the runner's (claude-code passes it as --model). */
    private readonly phaseModels: Map<string, string> = new Map(),
  ) {
    this.priced = config.preset === 'claude-code';
    this.limiter = new RateLimiter(config.limits);
  }

  async run(req: AgentRequest): Promise<AgentResult> {
    const files = req.files;
    if (!files) throw new Error('the command runner needs attempt files on disk');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, this.config.env, req.env);
    const ticket = this.limiter.unlimited ? null : await this.limiter.acquire(0, req.signal).catch(() => null);
    if (!this.limiter.unlimited && !ticket) return { ok: false, failure: { kind: 'cancelled' } };
    const r = await spawnTree({
      command: this.commandFor(req.phase),
      cwd: this.config.cwd === 'run' ? files.dir : this.cwd,
      env,
      stdin: { file: files.prompt },
      stdout: { file: files.stdout },
      stderr: { file: files.stderr },
      timeoutMs: this.config.timeoutMs,
      signal: req.signal,
    }).finally(() => ticket?.release());
    switch (r.kind) {
      case 'exited': {
        const answer = await this.answer(files);
        if (r.code === 0 && !answer.isError) return { ok: true, ...(answer.output !== undefined ? { output: answer.output } : {}), ...(answer.usage ? { usage: answer.usage } : {}) };
        const detail = answer.isError ? answer.output ?? '' : stderrFileDetail(files.stderr);
        return { ok: false, failure: { kind: 'exit', code: r.code, detail }, ...(answer.usage ? { usage: answer.usage } : {}) };
      }
      case 'signalled':
        return { ok: false, failure: { kind: 'signal', signal: r.signal, detail: stderrFileDetail(files.stderr) } };
      case 'timeout':
        return { ok: false, failure: { kind: 'timeout', ms: this.config.timeoutMs } };
      case 'cancelled':
        return { ok: false, failure: { kind: 'cancelled' } };
      case 'spawn-error':
        return { ok: false, failure: { kind: 'spawn', message: r.message } };
    }
  }

  /** claude-code: the phase's model override replaces (or adds) --model in the preset's argv. */
  private commandFor(phase: string): CommandSpec {
    const model = this.phaseModels.get(phase);
    const c = this.config.command;
    if (this.config.preset !== 'claude-code' || !model || !('argv' in c)) return c;
    const argv = [...c.argv];
    const i = argv.indexOf('--model');
    if (i >= 0 && i + 1 < argv.length) argv[i + 1] = model;
    else argv.splice(argv.indexOf('--add-dir') + 2, 0, '--model', model);
    return { argv };
  }

  /** The answer when the agent did not write CF_OUTPUT_FILE: from stdout (and Claude Code's envelope). */
  private async answer(files: AttemptFiles): Promise<{ output?: string; usage?: Usage; isError: boolean }> {
    // An agent that wrote CF_OUTPUT_FILE answered there; only Claude Code's envelope on stdout adds to it.
    if (this.config.preset !== 'claude-code' && existsSync(files.output)) return { isError: false };
    const stdout = await readFile(files.stdout, 'utf8').catch(() => '');
    const envelope = this.config.preset === 'claude-code' ? parseClaudeCodeEnvelope(stdout) : null;
    let usage: Usage | undefined;
    if (envelope) {
      const u = envelope.usage ?? { input: 0, cacheWrite: 0, cacheRead: 0, output: 0 };
      usage = {
        ...(envelope.model ?? this.config.model.model ? { model: envelope.model ?? this.config.model.model } : {}),
        inputTokens: u.input,
        cacheWriteTokens: u.cacheWrite,
        cacheReadTokens: u.cacheRead,
        outputTokens: u.output,
        costUsd: envelope.costUsd,
      };
    }
    if (existsSync(files.output)) return { ...(usage ? { usage } : {}), isError: envelope?.isError ?? false };
    const text = envelope ? envelope.result : stdout;
    return { ...(text.trim() ? { output: extractJson(text) } : {}), ...(usage ? { usage } : {}), isError: envelope?.isError ?? false };
  }
}
