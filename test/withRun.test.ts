import { describe, expect, it } from 'vitest';
import { withRun } from '../src/exec/localExecutor.js';
import type { AgentRequest, AgentRunner } from '../src/exec/runners/types.js';

/*
 * A runner wrapped for a budget or a queue worker's shared limits (LocalExecutor) says of itself what the
 * runner says. The queue worker's wrapper used to keep only `delivery` and `pooled`: a claude-code runner's
 * answer tool was lost there, and the prompt asked for the output file while the CLI was given --json-schema.
 */
describe('withRun', () => {
  it('keeps delivery, the answer tool, pooled, priced and the cost estimate; runs go through the new run', async () => {
    const inner: AgentRunner = {
      delivery: 'file',
      answerTool: 'StructuredOutput',
      pooled: false,
      priced: true,
      estimateCost: () => 0.25,
      run: async () => ({ ok: true, output: 'inner' }),
    };
    const wrapped = withRun(inner, async () => ({ ok: true, output: 'wrapped' }));
    const req = {} as AgentRequest;
    expect({ delivery: wrapped.delivery, answerTool: wrapped.answerTool, pooled: wrapped.pooled, priced: wrapped.priced, estimate: wrapped.estimateCost?.(req) }).toEqual({
      delivery: 'file',
      answerTool: 'StructuredOutput',
      pooled: false,
      priced: true,
      estimate: 0.25,
    });
    expect(await wrapped.run(req)).toEqual({ ok: true, output: 'wrapped' });
    // A runner that says nothing more stays so (no undefined keys).
    expect(Object.keys(withRun({ delivery: 'reply', run: inner.run }, inner.run)).sort()).toEqual(['delivery', 'run']);
  });
});
