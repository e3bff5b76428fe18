import type { PhaseConfig, Pipeline } from '../config/pipeline.js';
import { registry } from '../config/registry.js';
import { CommandValidator, CompositeValidator, type Validator } from './validate.js';

/** A phase's validator from its `validate:` setting: its rule set (a registered one: plugins.ts), then its command. */
export function createValidator(phase: PhaseConfig, pipeline: Pipeline): Validator | null {
  const v = phase.validate;
  if (!v) return null;
  const parts: Validator[] = [];
  if (v.rules) parts.push(registry.ruleSet(v.rules).create(v, pipeline));
  if (v.command) parts.push(new CommandValidator(v.command, pipeline.dir, v.timeoutMs));
  return parts.length === 1 ? parts[0]! : new CompositeValidator(parts);
}
