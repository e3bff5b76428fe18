import { apiRunner, commandRunner, replayRunner } from '../../config/builtinRunners.js';
import type { ApiRunnerConfig, CommandRunnerConfig, ReplayRunnerConfig } from '../../config/pipeline.js';
import type { RunnerKind } from '../../config/plugins.js';
import { AnthropicRunner } from './anthropic.js';
import { ClaudeCodeRunner, claudeCodeMode } from './claudeCode.js';
import { CommandRunner } from './command.js';
import { OpenAiRunner } from './openai.js';
import { ReplayRunner } from './replay.js';
import { anthropicMode, openAiMode } from './structured.js';

/*
 * cf's own runner kinds, registered as a domain's are (config/registry.ts): how pipeline.yaml's entry is
 * read (config/builtinRunners.ts), what of it is keyed, and the runner it makes. What they key is what
 * they always have: a change here re-keys every course built with them (test/keys.runners.test.ts).
 */

const command: RunnerKind<CommandRunnerConfig> = {
  name: 'command',
  parse: commandRunner,
  // claudeMd only when set: the keys of every runner without it are as they were.
  keyed: (r, model) => ({ kind: r.kind, command: r.command, env: r.env, preset: r.preset, model, ...(r.claudeMd ? { claudeMd: true } : {}) }),
  // claude-code: whether the run gets --json-schema (it changes the CLI's tools and how the answer is handed
  // in). A command agent's keys have no mode: it reads the schema files, which the schema's key covers.
  structured: (r) => (r.preset === 'claude-code' ? claudeCodeMode(r) : undefined),
  create: (config, pipeline) =>
    config.preset === 'claude-code'
      ? new ClaudeCodeRunner(
          config,
          pipeline.dir,
          // A phase's own model, passed as --model.
          new Map(pipeline.phases.filter((p) => p.runner === config.name && p.model.model).map((p) => [p.name, p.model.model!])),
          pipeline.prices,
        )
      : new CommandRunner(config, pipeline.dir),
};

const replay: RunnerKind<ReplayRunnerConfig> = {
  name: 'replay',
  parse: replayRunner,
  keyed: (r) => ({ kind: r.kind, recording: r.recording, as: r.as }),
  create: (config, pipeline, kinds) => new ReplayRunner(config, pipeline.dir, pipeline.idField, kinds),
};

/** Not keyed: the API key's variable, the base URL, batch or per-request mode, retries. */
const anthropic: RunnerKind<ApiRunnerConfig> = {
  name: 'anthropic',
  parse: apiRunner('anthropic'),
  keyed: (r, model) => ({ kind: r.kind, env: r.env, model }),
  // The mode for the phase's model (format, tool or off): what the request carries of the schema.
  structured: (r, model) => anthropicMode(r, model.model ?? r.model.model),
  create: (config, pipeline) => new AnthropicRunner(config, pipeline),
};

const openai: RunnerKind<ApiRunnerConfig> = {
  name: 'openai',
  parse: apiRunner('openai'),
  keyed: (r, model) => ({ kind: r.kind, env: r.env, model }),
  // strict, loose or off: the base URL counts only through the mode it implies (structured.ts).
  structured: (r) => openAiMode(r),
  create: (config, pipeline) => new OpenAiRunner(config, pipeline),
};

export const BUILTIN_RUNNER_KINDS: readonly RunnerKind[] = [command, replay, anthropic, openai];
