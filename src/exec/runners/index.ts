import type { Pipeline, RunnerConfig } from '../../config/pipeline.js';
import { registry } from '../../config/registry.js';
import type { AgentRunner } from './types.js';

/** The runner of a config, made by its kind (cf's own or a domain's: config/registry.ts). */
export function createRunner(config: RunnerConfig, pipeline: Pipeline): AgentRunner {
  return registry.runnerKindOf(config).create(config, pipeline, registry);
}
