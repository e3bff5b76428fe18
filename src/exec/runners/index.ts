import type { Pipeline, RunnerConfig } from '../../config/pipeline.js';
import { AnthropicRunner } from './anthropic.js';
import { CommandRunner } from './command.js';
import { OpenAiRunner } from './openai.js';
import { ReplayRunner } from './replay.js';
import type { AgentRunner } from './types.js';

export function createRunner(config: RunnerConfig, pipeline: Pipeline): AgentRunner {
  switch (config.kind) {
    case 'command':
      return new CommandRunner(
        config,
        pipeline.dir,
        new Map(pipeline.phases.filter((p) => p.runner === config.name && p.model.model).map((p) => [p.name, p.model.model!])),
      );
    case 'replay':
      return new ReplayRunner(config, pipeline.dir, pipeline.idField);
    case 'anthropic':
      return new AnthropicRunner(config, pipeline);
    case 'openai':
      return new OpenAiRunner(config, pipeline);
  }
}
