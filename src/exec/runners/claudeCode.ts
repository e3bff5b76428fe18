import { existsSync, realpathSync } from 'node:fs';
import type { CommandRunnerConfig } from '../../config/pipeline.js';
import type { SpawnResult } from '../processes/processes.js';
import { stderrFileDetail } from '../processes/stderrSummary.js';
import { decodeUtf8, overMaxOutput, readBoundedFile } from './answerText.js';
import { claudeCodeArgv, claudeCodeEnv } from './claudeCodeArgs.js';
import { readClaudeCodeOutput } from './claudeCodeOutput.js';
import { CommandRunner, processFailure, type Invocation } from './command.js';
import { extractJson, type ClaudeCodeEnvelope } from './extract.js';
import { answerItems, objectForm } from './structured.js';
import type { Price } from './pricing.js';
import type { AgentFailure, AgentRequest, AgentResult, AttemptFiles } from './types.js';

const ON_STDOUT = 'the output (on stdout)';

/**
 * API errors another attempt cannot fix: the key is refused (401, 403), the model does not exist (404).
 * The batch fails at once instead of paying for `attempts` runs that fail alike.
 */
const PERMANENT_API_STATUS = new Set([401, 403, 404]);

/**
 * The tool Claude Code gives the model with `--json-schema` (print mode): its input is checked by the CLI
 * against the schema (a mismatch goes back to the model as the tool's error, within the same run), and the
 * run's result line carries it as `structured_output`. Checked against 2.1.332.
 */
export const STRUCTURED_OUTPUT_TOOL = 'StructuredOutput';

/** Linux takes at most 128 KiB in one argument (MAX_ARG_STRLEN): a larger schema cannot go by --json-schema. */
const MAX_SCHEMA_ARG = 128 * 1024 - 1;

/** A claude-code runner's `structured:` (tool unless off): whether a phase's schema goes by --json-schema. */
export function claudeCodeMode(config: Pick<CommandRunnerConfig, 'structured'>): 'tool' | 'off' {
  return config.structured ?? 'tool';
}

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
    // Only a run in print mode (-p) takes --json-schema; a runner whose args replaced it does not.
    const argv = 'argv' in config.command ? config.command.argv : [];
    this.answerTool = claudeCodeMode(config) === 'tool' && argv.includes('-p') ? STRUCTURED_OUTPUT_TOOL : undefined;
  }

  private readonly realDir: string;
  readonly answerTool: string | undefined;

  /**
   * The batch schema for --json-schema (null: the run is not held to one): the object form the anthropic
   * runner's tool takes too (schema/strict.ts: one property per item id, in order; a tool's input is an
   * object), the item schema once in $defs.
   */
  private schemaArg(req: AgentRequest): string | null {
    return this.answerTool && req.schema?.constrain ? JSON.stringify(objectForm(req.schema).schema) : null;
  }

  override async run(req: AgentRequest): Promise<AgentResult> {
    const schema = this.schemaArg(req);
    if (schema !== null && Buffer.byteLength(schema) > MAX_SCHEMA_ARG) {
      const message = `the batch schema (${Buffer.byteLength(schema)} bytes) is over the 128 KiB one command-line argument may hold, so it cannot go by --json-schema: set structured: off on runner ${this.config.name} (the agent then reads the schema files)`;
      return { ok: false, failure: { kind: 'output', message } };
    }
    return super.run(req);
  }

  protected override invocation(req: AgentRequest): Invocation {
    const c = this.config.command;
    const env = claudeCodeEnv(this.config.claudeMd === true);
    if (!('argv' in c)) return { command: c, env };
    const model = this.phaseModels.get(req.phase);
    const schema = this.schemaArg(req);
    return {
      command: { argv: claudeCodeArgv({ argv: c.argv, pipelineDir: this.cwd, realPipelineDir: this.realDir, confined: this.config.cwd === 'run', ...(model ? { model } : {}), ...(schema !== null ? { jsonSchema: schema } : {}) }) },
      env,
    };
  }

  protected override async outcome(r: SpawnResult, files: AttemptFiles, req: AgentRequest): Promise<AgentResult> {
    const model = this.phaseModels.get(req.phase) ?? this.config.model.model;
    const out = await readClaudeCodeOutput(files.stdout, { prices: this.prices, ...(model ? { model } : {}), compact: true });
    const usage = out.usage ? { usage: out.usage } : {};
    if (r.kind !== 'exited') return { ok: false, failure: processFailure(r, this.config.timeoutMs, files), ...usage };
    const e = out.envelope;
    if (e?.isError) return { ok: false, failure: envelopeFailure(e, r.code, files), ...usage };
    if (r.code !== 0) return { ok: false, failure: { kind: 'exit', code: r.code, detail: olderCli(stderrFileDetail(files.stderr), this.config.name) }, ...usage };
    // Held to the batch schema, the answer is the StructuredOutput tool's input (whatever else the agent wrote).
    if (e?.structuredOutput !== undefined && req.schema && this.schemaArg(req) !== null) {
      return { ok: true, output: answerItems(e.structuredOutput, objectForm(req.schema)), ...usage };
    }
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

/** A CLI from before --json-schema refuses it as an unknown option: the failure says what to do. */
function olderCli(detail: string, runner: string): string {
  return /unknown option '--json-schema'/.test(detail) ? `${detail} (this Claude Code has no --json-schema: update it, or set structured: off on runner ${runner})` : detail;
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
