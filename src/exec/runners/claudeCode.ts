import { existsSync, realpathSync } from 'node:fs';
import type { CommandRunnerConfig } from '../../config/pipeline.js';
import type { SpawnResult } from '../processes/processes.js';
import { stderrFileDetail } from '../processes/stderrSummary.js';
import { decodeUtf8, overMaxOutput, readBoundedFile } from './answerText.js';
import { claudeCodeArgv, claudeCodeEnv } from './claudeCodeArgs.js';
import { readClaudeCodeOutput } from './claudeCodeOutput.js';
import { CommandRunner, processFailure, type Invocation } from './command.js';
import { extractJson, type ClaudeCodeEnvelope } from './extract.js';
import type { Price } from './pricing.js';
import type { AgentFailure, AgentRequest, AgentResult, AttemptFiles } from './types.js';

const ON_STDOUT = 'the output (on stdout)';

/**
 * API errors another attempt cannot fix: the key is refused (401, 403), the model does not exist (404).
 * The batch fails at once instead of paying for `attempts` runs that fail alike.
 */
const PERMANENT_API_STATUS = new Set([401, 403, 404]);

/**
 * preset: claude-code. Claude Code headless per attempt (claudeCodeArgs.ts: how it is run), its answer in
 * CF_OUTPUT_FILE or in its result, its spend read from what it streamed on stdout (claudeCodeOutput.ts):
 * also when it ends without a result (a limit reached) or is killed (a timeout, Ctrl-C), so that every
 * attempt's dollars are recorded and count against --max-cost.
 */
export class ClaudeCodeRunner extends CommandRunner {
  override readonly priced = true;

  constructor(
    config: CommandRunnerConfig,
    cwd: string,
    /** Per phase: the model a phase asks for instead of the runner's (passed as --model). */
    private readonly phaseModels: Map<string, string>,
    /** To price what a killed run streamed (a run that ends prices itself). */
    private readonly prices: Record<string, Price>,
  ) {
    super(config, cwd);
    this.realDir = realpathOr(cwd);
  }

  private readonly realDir: string;

  protected override invocation(req: AgentRequest): Invocation {
    const c = this.config.command;
    const env = claudeCodeEnv(this.config.claudeMd === true);
    if (!('argv' in c)) return { command: c, env };
    const model = this.phaseModels.get(req.phase);
    return { command: { argv: claudeCodeArgv({ argv: c.argv, pipelineDir: this.cwd, realPipelineDir: this.realDir, confined: this.config.cwd === 'run', ...(model ? { model } : {}) }) }, env };
  }

  protected override async outcome(r: SpawnResult, files: AttemptFiles, req: AgentRequest): Promise<AgentResult> {
    const model = this.phaseModels.get(req.phase) ?? this.config.model.model;
    const out = await readClaudeCodeOutput(files.stdout, { prices: this.prices, ...(model ? { model } : {}), compact: true });
    const usage = out.usage ? { usage: out.usage } : {};
    if (r.kind !== 'exited') return { ok: false, failure: processFailure(r, this.config.timeoutMs, files), ...usage };
    const e = out.envelope;
    if (e?.isError) return { ok: false, failure: envelopeFailure(e, r.code, files), ...usage };
    if (r.code !== 0) return { ok: false, failure: { kind: 'exit', code: r.code, detail: stderrFileDetail(files.stderr) }, ...usage };
    if (existsSync(files.output)) return { ok: true, ...usage };
    const answer = e ? answerText(e.result ?? '', req) : out.json ? answerText('', req) : stdoutAnswer(files.stdout, req);
    return 'invalid' in answer ? { ok: false, failure: { kind: 'output', message: answer.invalid }, ...usage } : { ok: true, ...(answer.text.trim() ? { output: extractJson(answer.text) } : {}), ...usage };
  }
}

/** Why a run that wrote a result failed: the API's error (fatal when permanent), or what stopped it. */
function envelopeFailure(e: ClaudeCodeEnvelope, code: number, files: AttemptFiles): AgentFailure {
  // A limit reached (error_max_turns, error_max_budget_usd) has no result, and says why in `errors`.
  const detail = e.result?.trim() || e.errors.join('; ') || (e.subtype && e.subtype !== 'success' ? e.subtype : '') || stderrFileDetail(files.stderr);
  if (e.apiErrorStatus !== null) return { kind: 'api', message: `${detail} (HTTP ${e.apiErrorStatus})`, fatal: PERMANENT_API_STATUS.has(e.apiErrorStatus) };
  return { kind: 'exit', code, detail };
}

function realpathOr(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

type Answer = { text: string } | { invalid: string };

function answerText(text: string, req: AgentRequest): Answer {
  const over = overMaxOutput(Buffer.byteLength(text), req.maxOutput, req.phase);
  return over ? { invalid: over } : { text };
}

/** Stdout that is no Claude Code JSON (a wrapper printing text): the answer, as any agent's. */
function stdoutAnswer(file: string, req: AgentRequest): Answer {
  const raw = readBoundedFile(file, req.maxOutput);
  if (raw && !raw.ok) return { invalid: overMaxOutput(raw.size, req.maxOutput, req.phase, ON_STDOUT)! };
  const strict = decodeUtf8(raw?.bytes ?? Buffer.alloc(0), ON_STDOUT);
  return strict.ok ? { text: strict.text } : { invalid: strict.message };
}
