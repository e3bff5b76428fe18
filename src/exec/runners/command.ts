import { existsSync } from 'node:fs';
import { PIPELINE_DIR, type CommandRunnerConfig, type CommandSpec } from '../../config/pipeline.js';
import { scrubFile } from '../../util/scrubFile.js';
import { decodeUtf8, overMaxOutput, readAnswerFile, readBoundedFile } from './answerText.js';
import { spawnTree } from '../processes/processes.js';
import { extractJson, parseClaudeCodeEnvelope } from './extract.js';
import { RateLimiter } from './limits.js';
import { stderrFileDetail } from '../processes/stderrSummary.js';
import type { AgentRequest, AgentResult, AgentRunner, AttemptFiles } from './types.js';
import type { Usage } from './usage.js';

/** What the agent printed on stdout, taken as its answer: text, or why it cannot be taken (`invalid`). */
interface StdoutAnswer {
  output?: string;
  usage?: Usage;
  isError: boolean;
  invalid?: string;
}

const ON_STDOUT = 'the output (on stdout)';
/** Claude Code's envelope around its answer: the answer JSON-escaped (at most twice its size) and the usage. */
const envelopeLimit = (maxOutput: number): number => 2 * maxOutput + 64 * 1024;

/**
 * Runs a local command per attempt: argv without a shell or a string through /bin/sh, cwd = the pipeline
 * directory (or the attempt's directory), the prompt on stdin and in CF_PROMPT_FILE, stdout and stderr
 * kept beside the attempt's files. An agent that prints its answer instead of writing CF_OUTPUT_FILE is
 * read from stdout (the whole of it, or its last ```json block); Claude Code's JSON envelope also gives
 * the run's tokens and cost. Once the agent has exited, its files are scrubbed of secrets (it runs with
 * cf's environment and may print a key); a failure is told by its stderr's error line (stderrSummary.ts).
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
    Object.assign(env, this.config.env, req.env, { CF_PIPELINE_DIR: this.cwd });
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
    for (const f of [files.stdout, files.stderr, files.output]) await scrubFile(f);
    switch (r.kind) {
      case 'exited': {
        const answer = this.answer(files, req);
        const usage = answer.usage ? { usage: answer.usage } : {};
        if (r.code === 0 && !answer.isError && answer.invalid !== undefined) return { ok: false, failure: { kind: 'output', message: answer.invalid }, ...usage };
        if (r.code === 0 && !answer.isError) return { ok: true, ...(answer.output !== undefined ? { output: answer.output } : {}), ...usage };
        const detail = answer.isError ? answer.output ?? '' : stderrFileDetail(files.stderr);
        return { ok: false, failure: { kind: 'exit', code: r.code, detail }, ...usage };
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
    if (!('argv' in c)) return c; // a shell string: the shell expands $CF_PIPELINE_DIR
    const argv = c.argv.map((a) => a.replaceAll(PIPELINE_DIR, this.cwd));
    if (this.config.preset !== 'claude-code' || !model) return { argv };
    const i = argv.indexOf('--model');
    if (i >= 0 && i + 1 < argv.length) argv[i + 1] = model;
    else argv.splice(argv.indexOf('--add-dir') + 2, 0, '--model', model);
    return { argv };
  }

  /**
   * The answer when the agent did not write CF_OUTPUT_FILE: from stdout (and Claude Code's envelope), read
   * as an answer file is (no larger than max_output, strict UTF-8).
   */
  private answer(files: AttemptFiles, req: AgentRequest): StdoutAnswer {
    if (this.config.preset !== 'claude-code') {
      // An agent that wrote CF_OUTPUT_FILE answered there (read and checked with the attempt).
      if (existsSync(files.output)) return { isError: false };
      const read = readAnswerFile(files.stdout, req.maxOutput, req.phase, ON_STDOUT);
      if (read && !read.ok) return { isError: false, invalid: read.message };
      const text = read?.text ?? '';
      return { ...(text.trim() ? { output: extractJson(text) } : {}), isError: false };
    }
    // Claude Code's envelope is read even when the answer in it cannot be taken: it says what the run cost.
    const raw = readBoundedFile(files.stdout, envelopeLimit(req.maxOutput));
    if (raw && !raw.ok) return { isError: false, invalid: overMaxOutput(raw.size, req.maxOutput, req.phase, ON_STDOUT)! };
    const bytes = raw?.bytes ?? Buffer.alloc(0);
    const strict = decodeUtf8(bytes, ON_STDOUT);
    const envelope = parseClaudeCodeEnvelope(strict.ok ? strict.text : bytes.toString('utf8'));
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
    const found = { ...(usage ? { usage } : {}), isError: envelope?.isError ?? false };
    if (existsSync(files.output)) return found;
    if (!strict.ok) return { ...found, invalid: strict.message };
    const text = envelope ? envelope.result : strict.text;
    const over = overMaxOutput(Buffer.byteLength(text), req.maxOutput, req.phase);
    if (over) return { ...found, invalid: over };
    return { ...found, ...(text.trim() ? { output: extractJson(text) } : {}) };
  }
}
