import type { PhaseConfig, Pipeline } from '../config/pipeline.js';
import { registry } from '../config/registry.js';
import { SchemaValidator } from './schema/validator.js';
import { CommandValidator, CompositeValidator, type Validator } from './validate.js';

/**
 * A phase's validator: its item schema (schema/validator.ts), then its `validate:` setting: its rule set (a
 * registered one: plugins.ts), then its command. The first that rejects decides, so the rules and the
 * command see only items of the schema's shape.
 */
export function createValidator(phase: PhaseConfig, pipeline: Pipeline): Validator | null {
  const parts: Validator[] = [];
  if (phase.schema) parts.push(new SchemaValidator(phase.schema, pipeline.idField));
  const v = phase.validate;
  if (v?.rules) parts.push(registry.ruleSet(v.rules).create(v, pipeline));
  if (v?.command) parts.push(new CommandValidator(v.command, pipeline.dir, v.timeoutMs));
  return parts.length === 0 ? null : parts.length === 1 ? parts[0]! : new CompositeValidator(parts);
}
