import { PIPELINE_DIR } from './pipeline.js';
import path from 'node:path';
import { parseDuration } from '../util/duration.js';
import type { UserError } from '../util/errors.js';
import { ok, type Result } from '../util/result.js';
import type { Fail } from './diagnostics.js';
import type { CommandSpec, ModelSettings, RunnerConfig } from './pipeline.js';
import type { RawRunner } from './schema.js';

/*
 * The runners of pipeline.yaml, normalised per kind. The schema accepts every runner key on every runner
 * (so an unknown key gets a did-you-mean); which keys a kind takes, and which it needs, is checked here.
 */

const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/** A command as pipeline.yaml gives it: a list of arguments, or a string for /bin/sh. */
export function toCommand(c: string | string[]): CommandSpec {
  return typeof c === 'string' ? { shell: c } : { argv: c };
}

/**
 * Claude Code headless: the prompt on stdin, a JSON envelope on stdout, file edits allowed, the pipeline
 * readable. The pipeline's directory is named by PIPELINE_DIR, put in when the agent starts: the command,
 * and so every key using it, is the same in any checkout of the course, wherever it is.
 */
function claudeCodeArgv(model: string | undefined, extra: string[]): string[] {
  return ['claude', '-p', '--output-format', 'json', '--permission-mode', 'acceptEdits', '--add-dir', PIPELINE_DIR, ...(model ? ['--model', model] : []), ...extra];
}

/** Every runner by name, in the file's order; the first runner that is wrong is reported. */
export function runnerConfigs(raw: Record<string, RawRunner>, fail: Fail): Result<Map<string, RunnerConfig>, UserError> {
  const runners = new Map<string, RunnerConfig>();
  for (const [name, r] of Object.entries(raw)) {
    const base = {
      name,
      timeoutMs: r.timeout !== undefined ? parseDuration(r.timeout)! : DEFAULT_TIMEOUT_MS,
      env: r.env ?? {},
      deps: r.deps ?? [],
    };
    const kind = r.kind ?? (r.recording !== undefined && r.command === undefined ? 'replay' : 'command');
    const at = ['runners', name];
    const notFor = (key: string): Result<never, UserError> => fail([...at, key], `"${key}" does not apply to a ${kind} runner`);
    const present = (keys: Array<keyof typeof r>): keyof typeof r | undefined => keys.find((k) => r[k] !== undefined);
    const model: ModelSettings = {
      ...(r.model !== undefined ? { model: r.model } : {}),
      ...(r.max_tokens !== undefined ? { maxTokens: r.max_tokens } : {}),
      ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
    };
    const limits = {
      ...(r.limits?.concurrency !== undefined ? { concurrency: r.limits.concurrency } : {}),
      ...(r.limits?.requests_per_minute !== undefined ? { requestsPerMinute: r.limits.requests_per_minute } : {}),
      ...(r.limits?.tokens_per_minute !== undefined ? { tokensPerMinute: r.limits.tokens_per_minute } : {}),
    };
    switch (kind) {
      case 'command': {
        const bad = present(['recording', 'as', 'api_key_env', 'base_url', 'mode', 'poll_interval', 'max_retries', 'max_tokens', 'temperature']);
        if (bad) return notFor(bad);
        if (r.preset === undefined && r.model !== undefined) return fail([...at, 'model'], '"model" on a command runner needs a preset that passes it (preset: claude-code)');
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
        runners.set(name, { ...base, kind, command, preset: r.preset ?? null, cwd: r.cwd ?? (r.preset ? 'run' : 'pipeline'), model, limits });
        break;
      }
      case 'replay': {
        const bad = present(['command', 'preset', 'args', 'cwd', 'model', 'max_tokens', 'temperature', 'api_key_env', 'base_url', 'mode', 'poll_interval', 'max_retries', 'limits']);
        if (bad) return notFor(bad);
        if (r.recording === undefined) return fail(at, 'a replay runner needs "recording": the file it answers from');
        runners.set(name, { ...base, kind, recording: path.normalize(r.recording), as: r.as ?? null, deps: [...base.deps, path.normalize(r.recording)] });
        break;
      }
      case 'anthropic':
      case 'openai': {
        const bad = present(['command', 'preset', 'args', 'cwd', 'recording', 'as']);
        if (bad) return notFor(bad);
        if (r.model === undefined) return fail(at, `a ${kind} runner needs "model"`, kind === 'anthropic' ? 'e.g. model: claude-sonnet-4-5' : 'e.g. model: gpt-4.1-mini');
        if (r.mode === 'batch' && kind !== 'anthropic') return fail([...at, 'mode'], 'mode: batch (Message Batches) is an anthropic runner setting');
        runners.set(name, {
          ...base,
          kind,
          model: { ...model, model: r.model, maxTokens: r.max_tokens ?? 8192 },
          apiKeyEnv: r.api_key_env ?? (kind === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY'),
          baseUrl: r.base_url ?? null,
          mode: r.mode ?? 'messages',
          pollIntervalMs: r.poll_interval !== undefined ? parseDuration(r.poll_interval)! : 30_000,
          maxRetries: r.max_retries ?? 6,
          limits,
        });
        break;
      }
    }
  }
  return ok(runners);
}
