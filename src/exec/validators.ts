import type { PhaseConfig, Pipeline } from '../config/pipeline.js';
import { SsiRulesValidator } from '../domains/ssi/validator.js';
import { CommandValidator, CompositeValidator, type Validator } from './validate.js';

/** A phase's validator from its `validate:` setting: its rule set, then its command. */
export function createValidator(phase: PhaseConfig, pipeline: Pipeline): Validator | null {
  const v = phase.validate;
  if (!v) return null;
  const parts: Validator[] = [];
  if (v.rules) parts.push(new SsiRulesValidator(v.rules, v, pipeline.course));
  if (v.command) parts.push(new CommandValidator(v.command, pipeline.dir, v.timeoutMs));
  return parts.length === 1 ? parts[0]! : new CompositeValidator(parts);
}
