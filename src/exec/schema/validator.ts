import type { SchemaConfig } from '../../config/pipeline.js';
import type { Item } from '../../config/seeds.js';
import type { ValidationError, Validator, ValidatorRequest, ValidatorResult } from '../validate.js';
import { compileItemSchema, type ItemCheck } from './compile.js';
import { describeProblem } from './problems.js';

/** Problems listed per item and per batch (the rest counted): enough to fix in one retry, not a wall of text. */
const MAX_PER_ITEM = 5;
const MAX_PER_BATCH = 40;

/**
 * The phase's item schema as a validator, run before the phase's own (validators.ts): every item checked
 * against it, each problem an error naming the item and the JSON pointer in it
 * (`S0045: /legos/2/type: must be "A" or "M", not "X"`), so an agent's retry prompt says what to fix and
 * an `items: independent` phase sends only the items named back. Compiled once per schema content.
 */
export class SchemaValidator implements Validator {
  constructor(
    private readonly schema: SchemaConfig,
    private readonly idField: string,
  ) {}

  async validate(req: ValidatorRequest): Promise<ValidatorResult> {
    const compiled = await compileItemSchema(this.schema.schema, this.schema.hash);
    // Checked when the pipeline was read: only a schema changed under a running build could get here.
    if (!compiled.ok) return { kind: 'broken', message: `the item schema does not compile: ${describeProblem(compiled.problems[0]!)}` };
    const errors = itemErrors(req.items, compiled.check, this.idField);
    return errors.length ? { kind: 'invalid', errors } : { kind: 'valid' };
  }
}

/**
 * Every item's problems as errors naming it, at most MAX_PER_ITEM per item (the rest counted); past
 * MAX_PER_BATCH errors, an item gets one line, so every failing item is still named (an `items:
 * independent` phase sends back only the items named).
 */
export function itemErrors(items: readonly Item[], check: ItemCheck, idField: string): ValidationError[] {
  const errors: ValidationError[] = [];
  for (const item of items) {
    const problems = check(item);
    if (!problems) continue;
    const id = String(item[idField]);
    if (errors.length >= MAX_PER_BATCH) {
      errors.push({ item: id, message: `${describeProblem(problems[0]!)}${problems.length > 1 ? ` (and ${problems.length - 1} more problems with the schema)` : ''}` });
      continue;
    }
    for (const p of problems.slice(0, MAX_PER_ITEM)) errors.push({ item: id, message: describeProblem(p) });
    if (problems.length > MAX_PER_ITEM) errors.push({ item: id, message: `and ${problems.length - MAX_PER_ITEM} more problems with the schema` });
  }
  return errors;
}
