import path from 'node:path';
import { parseDuration } from '../util/duration.js';
import type { UserError } from '../util/errors.js';
import { ok, type Result } from '../util/result.js';
import type { Fail } from './diagnostics.js';
import { PIPELINE_DIR, type ApiRunnerConfig, type CommandRunnerConfig, type CommandSpec, type ReplayRunnerConfig } from './pipeline.js';
import type { RunnerEntry } from './plugins.js';
import type { RawRunner } from './schema.js';

/*
 * cf's own runner kinds as pipeline.yaml gives them: which keys each takes and needs, and its config. They
 * are registered kinds like any domain's (exec/runners/builtins.ts joins each to its runner); a runner's
 * `kind:` is looked up, never switched on (runnerConfig.ts).
 */

/** A command as pipeline.yaml gives it: a list of arguments, or a string for /bin/sh. */
export function toCommand(c: string | string[]): CommandSpec {
  return typeof c === 'string' ? { shell: c } : { argv: c };
}

/**
 * Claude Code headless: the prompt on stdin, a JSON envelope on stdout, file edits allowed, the pipeline
 * readable. The pipeline's directory is named by PIPELINE_DIR, put in when the agent starts: the command,
 * and so every key using it, is the same in any checkout of the course, wherever it is.
 *
 * This is the preset's command as it is keyed, as it always was; the flags cf adds to run it (its output
 * streamed, no transcript, writes confined to the attempt's directory, …) are how it runs, not what it is
 * asked, and are added when it starts (exec/runners/claudeCodeArgs.ts).
 */
function claudeCodeArgv(model: string | undefined, extra: string[]): string[] {
  return ['claude', '-p', '--output-format', 'json', '--permission-mode', 'acceptEdits', '--add-dir', PIPELINE_DIR, ...(model ? ['--model', model] : []), ...extra];
}

/** The pipeline directory's CLAUDE.md: keyed when a claude-code runner lets Claude Code read CLAUDE.md files. */
const CLAUDE_MD = 'CLAUDE.md';

/** `"key" does not apply to <kind> runners` for the first of these keys the entry sets, in this order. */
function refused(e: RunnerEntry, keys: Array<keyof RawRunner>, fail: Fail): Result<never, UserError> | null {
  const bad = keys.find((k) => e.raw[k] !== undefined);
  return bad ? fail([...e.at, bad], `"${bad}" does not apply to ${e.kind} runners`) : null;
}

/** A local process per attempt: a command, or a preset (claude-code) that builds it. */
export function commandRunner(e: RunnerEntry, fail: Fail): Result<CommandRunnerConfig, UserError> {
  const { raw: r, at } = e;
  const bad = refused(e, ['recording', 'as', 'api_key_env', 'base_url', 'mode', 'poll_interval', 'max_retries', 'max_tokens', 'temperature', 'options'], fail);
  if (bad) return bad;
  if (r.preset === undefined && r.structured !== undefined) return fail([...at, 'structured'], '"structured" is a setting of preset: claude-code and of the API runners', 'a command agent reads the schema from CF_SCHEMA_FILE and CF_ITEM_SCHEMA_FILE');
  if (r.structured !== undefined && !STRUCTURED['claude-code'].values.includes(r.structured)) return fail([...at, 'structured'], `structured: ${r.structured} does not apply to claude-code runners`, STRUCTURED['claude-code'].hint);
  if (r.preset === undefined && r.model !== undefined) return fail([...at, 'model'], '"model" on a command runner needs a preset that passes it (preset: claude-code)');
  if (r.preset === undefined && r.claude_md !== undefined) return fail([...at, 'claude_md'], '"claude_md" is a setting of preset: claude-code');
  if (r.preset === undefined && r.args !== undefined) return fail([...at, 'args'], '"args" adds arguments to a preset; put them in "command" instead');
  let command: CommandSpec;
  if (r.preset === 'claude-code') {
    if (r.command !== undefined) return fail([...at, 'command'], 'preset: claude-code builds the command itself; use "args" to add arguments');
    command = { argv: claudeCodeArgv(r.model, r.args ?? []) };
  } else if (r.command === undefined) {
    return fail(at, 'a command runner needs "command" (or a preset)', 'command: [node, agent.js], a shell string, or preset: claude-code');
  } else {
    command = toCommand(r.command);
  }
  // CLAUDE.md files are read only when asked for; the pipeline's own is then a dependency of every batch.
  const claudeMd = r.preset === 'claude-code' && r.claude_md === true;
  const deps = claudeMd && !e.base.deps.includes(CLAUDE_MD) ? [...e.base.deps, CLAUDE_MD] : e.base.deps;
  const structured = r.structured as CommandRunnerConfig['structured'];
  return ok({ ...e.base, deps, kind: 'command', command, preset: r.preset ?? null, cwd: r.cwd ?? (r.preset ? 'run' : 'pipeline'), model: e.model, limits: e.limits, ...(claudeMd ? { claudeMd } : {}), ...(structured ? { structured } : {}) });
}

/** Answers from a recording: the recording is a dependency of every key that uses it. */
export function replayRunner(e: RunnerEntry, fail: Fail): Result<ReplayRunnerConfig, UserError> {
  const keys: Array<keyof RawRunner> = ['command', 'preset', 'args', 'cwd', 'claude_md', 'model', 'max_tokens', 'temperature', 'api_key_env', 'base_url', 'mode', 'poll_interval', 'max_retries', 'limits', 'structured', 'options'];
  const bad = refused(e, keys, fail);
  if (bad) return bad;
  if (e.raw.recording === undefined) return fail(e.at, 'a replay runner needs "recording": the file it answers from');
  const recording = path.normalize(e.raw.recording);
  return ok({ ...e.base, kind: 'replay', recording, as: e.raw.as ?? null, deps: [...e.base.deps, recording] });
}

/** The `structured:` values each API kind takes (what each sends: exec/runners/structured.ts). */
const STRUCTURED: Record<ApiRunnerConfig['kind'] | 'claude-code', { values: string[]; hint: string }> = {
  'claude-code': { values: ['tool', 'off'], hint: 'preset: claude-code takes tool (the CLI\'s --json-schema: its StructuredOutput tool) or off (the schema files named in the prompt)' },
  openai: { values: ['strict', 'loose', 'off'], hint: 'openai runners take strict (OpenAI strict mode), loose (a local server\'s grammar: llama.cpp, vLLM, Ollama) or off' },
  anthropic: { values: ['format', 'tool', 'off'], hint: 'anthropic runners take format (output_config.format), tool (a forced tool) or off' },
};

/** A model behind an HTTP API (anthropic, openai): the model is required, the rest has defaults. */
export function apiRunner(kind: ApiRunnerConfig['kind']): (e: RunnerEntry, fail: Fail) => Result<ApiRunnerConfig, UserError> {
  return (e, fail) => {
    const { raw: r, at } = e;
    const bad = refused(e, ['command', 'preset', 'args', 'cwd', 'claude_md', 'recording', 'as', 'options'], fail);
    if (bad) return bad;
    if (r.model === undefined) return fail(at, `a ${kind} runner needs "model"`, kind === 'anthropic' ? 'e.g. model: claude-sonnet-4-5' : 'e.g. model: gpt-4.1-mini');
    if (r.mode === 'batch' && kind !== 'anthropic') return fail([...at, 'mode'], 'mode: batch (Message Batches) is an anthropic runner setting');
    const modes = STRUCTURED[kind];
    if (r.structured !== undefined && !modes.values.includes(r.structured)) return fail([...at, 'structured'], `structured: ${r.structured} does not apply to ${kind} runners`, modes.hint);
    return ok({
      ...e.base,
      kind,
      model: { ...e.model, model: r.model, maxTokens: r.max_tokens ?? 8192 },
      apiKeyEnv: r.api_key_env ?? (kind === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY'),
      baseUrl: r.base_url ?? null,
      mode: r.mode ?? 'messages',
      pollIntervalMs: r.poll_interval !== undefined ? parseDuration(r.poll_interval)! : 30_000,
      maxRetries: r.max_retries ?? 6,
      limits: e.limits,
      structured: r.structured ?? null,
    });
  };
}
