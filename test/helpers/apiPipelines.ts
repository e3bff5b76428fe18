/** The one-phase pipelines the API runner tests build (in memory and through the CLI). */

/** A dummy key, named like a secret: what is scrubbed from output and records. */
export const KEY = 'sk-ant-test-SECRET-0123456789';

/** Long enough for the API's prompt cache (a cacheable system block). */
export const INTELLIGENCE = `# Pairs\n${'Translate each seed with care, keeping the meaning and the register. '.repeat(40)}\n`;

/** pipeline.yaml of one phase `pairs`, batches of 10, run by the runner `model` (YAML indented by 4). */
export function pipeline(runner: string, extra = ''): string {
  return `seeds: seeds.json
batch_size: 10
runners:
  model:
${runner}
phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: model
    output: out/pairs.json
${extra}`;
}

/** An anthropic runner (claude-haiku-4-5, max_tokens 2000, temperature 0.2) with `more` runner keys. */
export const anthropic = (more = ''): string =>
  pipeline(`    kind: anthropic
    model: claude-haiku-4-5
    max_tokens: 2000
    temperature: 0.2
${more}`);
