import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { claudeCodeArgv, claudeCodeEnv } from '../src/exec/runners/claudeCodeArgs.js';
import { readClaudeCodeOutput } from '../src/exec/runners/claudeCodeOutput.js';
import { parseClaudeCodeEnvelope } from '../src/exec/runners/extract.js';
import { DEFAULT_PRICES } from '../src/exec/runners/pricing.js';
import { loadPipeline } from '../src/config/loadPipeline.js';
import { phaseParts } from '../src/engine/fingerprint.js';
import { formatUserError } from '../src/util/errors.js';
import { hashString, initHashing } from '../src/util/hash.js';
import { withTempDir } from './helpers/tempDir.js';

/*
 * Claude Code's stdout as cf reads it (claudeCodeOutput.ts), in the shapes 2.1.332 writes with
 * `--output-format stream-json --verbose --include-partial-messages` (trimmed to the fields read). The real
 * CLI runs in claudecode.real.cli.test.ts; these are the cases a stand-in cannot time (a kill mid-message).
 */

const SONNET = 'claude-sonnet-4-5';
const start = (id: string, usage: Record<string, number>, model = SONNET) => ({ type: 'stream_event', event: { type: 'message_start', message: { id, model, usage: { output_tokens: 1, ...usage } } } });
const delta = (id: string, text: string) => ({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, api_message_id: id });
const end = (id: string, output: number) => ({ type: 'stream_event', event: { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: output } }, api_message_id: id });
const assistant = (id: string, usage: Record<string, number>, stop: string | null = null) => ({ type: 'assistant', message: { id, model: SONNET, stop_reason: stop, usage } });
const lines = (...events: unknown[]): string => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

async function read(text: string): Promise<{ out: Awaited<ReturnType<typeof readClaudeCodeOutput>>; left: string }> {
  return withTempDir('cc-output', async (dir) => {
    const file = path.join(dir, 'stdout.log');
    await writeFile(file, text);
    const out = await readClaudeCodeOutput(file, { prices: DEFAULT_PRICES, model: SONNET, compact: true });
    return { out, left: await readFile(file, 'utf8') };
  });
}

describe("Claude Code's output, read however the run ended", () => {
  it('killed mid-run (no result): each call priced from what it streamed; one cut off counts what it generated; the partial events dropped from the file', async () => {
    const { out, left } = await read(
      lines(
        { type: 'system', subtype: 'init' },
        start('m1', { input_tokens: 1000, cache_read_input_tokens: 500 }),
        delta('m1', 'calling a tool'),
        assistant('m1', { input_tokens: 1000, cache_read_input_tokens: 500, output_tokens: 1 }),
        end('m1', 200),
        { type: 'user', message: { content: [{ type: 'tool_result', content: 'ok' }] } },
        // A subagent's call (on haiku), forwarded whole: its usage as it started, its text.
        { type: 'assistant', parent_tool_use_id: 'toolu_1', message: { id: 'sub1', model: 'claude-haiku-4-5', stop_reason: null, usage: { input_tokens: 500, output_tokens: 1 }, content: [{ type: 'text', text: 'y'.repeat(40) }] } },
        start('m2', { input_tokens: 2000 }),
        delta('m2', 'x'.repeat(400)),
      ),
    );
    expect(out.envelope).toBeNull();
    // m2 was cut off after 400 characters: about 100 tokens generated; the subagent's call about 10.
    expect(out.usage).toMatchObject({ model: SONNET, inputTokens: 3500, cacheWriteTokens: 0, cacheReadTokens: 500, outputTokens: 310 });
    expect(out.usage!.costUsd).toBeCloseTo((3000 * 3 + 500 * 0.3 + 300 * 15) / 1e6 + (500 * 1 + 10 * 5) / 1e6, 9);
    expect(left.split('\n').filter(Boolean).map((l) => JSON.parse(l).type)).toEqual(['system', 'assistant', 'user', 'assistant']);
  });

  it("a result: tokens summed over modelUsage (every model), dollars the CLI's; calls streamed after it added", async () => {
    const result = {
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: 'Done.',
      total_cost_usd: 0.05,
      // The main loop's last call only (2.1.332 with a subagent).
      usage: { input_tokens: 1000, output_tokens: 200 },
      modelUsage: { [SONNET]: { inputTokens: 3000, outputTokens: 500, cacheReadInputTokens: 10, cacheCreationInputTokens: 20 }, 'claude-haiku-4-5': { inputTokens: 500, outputTokens: 50 } },
    };
    const { out } = await read(lines(start('m1', { input_tokens: 3000 }), end('m1', 500), result, start('m9', { input_tokens: 1000 }), end('m9', 100)));
    expect(out.envelope).toMatchObject({ result: 'Done.', isError: false, costUsd: 0.05, usage: { input: 3500, output: 550, cacheRead: 10, cacheWrite: 20 }, model: SONNET });
    expect(out.usage).toMatchObject({ inputTokens: 4500, outputTokens: 650, cacheReadTokens: 10, cacheWriteTokens: 20 });
    expect(out.usage!.costUsd).toBeCloseTo(0.05 + (1000 * 3 + 100 * 15) / 1e6, 9);
  });

  it('the non-streaming fallback: a whole message in one event, its usage final', async () => {
    const { out } = await read(lines(assistant('m1', { input_tokens: 1000, output_tokens: 200 }, 'end_turn')));
    expect(out.usage).toMatchObject({ inputTokens: 1000, outputTokens: 200, costUsd: (1000 * 3 + 200 * 15) / 1e6 });
  });

  it('a limit reached: no result text, the reason in errors; one envelope (json) or a list (json --verbose) read too; text that is no JSON is an answer', async () => {
    const limit = { type: 'result', subtype: 'error_max_turns', is_error: true, errors: ['Reached maximum number of turns (1)'], total_cost_usd: 0.008, usage: { input_tokens: 1000, output_tokens: 200 } };
    expect(parseClaudeCodeEnvelope(JSON.stringify(limit))).toMatchObject({ result: null, isError: true, subtype: 'error_max_turns', errors: ['Reached maximum number of turns (1)'], costUsd: 0.008, usage: { input: 1000, output: 200 } });
    const { out } = await read(JSON.stringify([{ type: 'system' }, limit]));
    expect(out).toMatchObject({ json: true, envelope: { result: null, errors: ['Reached maximum number of turns (1)'] }, usage: { costUsd: 0.008 } });
    const text = await read('[{"id": "S1"}]\n');
    expect(text.out).toMatchObject({ json: false, envelope: null, usage: null });
    const prose = await read('Here you go.\n');
    expect(prose.out).toMatchObject({ json: false, envelope: null, usage: null });
  });
});

describe('how cf runs Claude Code', () => {
  const PRESET = ['claude', '-p', '--output-format', 'json', '--permission-mode', 'acceptEdits', '--add-dir', '$CF_PIPELINE_DIR', '--model', 'claude-sonnet-4-5', '--max-turns', '3'];

  it('its output streamed, no transcript, no dynamic system prompt; confined: the pipeline readable, not a working directory', () => {
    expect(claudeCodeArgv({ argv: PRESET, pipelineDir: '/w/course [1]', confined: true, model: 'claude-opus-4-5' })).toEqual([
      'claude',
      '-p',
      '--no-session-persistence',
      '--exclude-dynamic-system-prompt-sections',
      '--allowedTools',
      'Read(//w/course \\[1\\]/**)',
      '--output-format',
      'stream-json',
      '--verbose',
      '--include-partial-messages',
      '--forward-subagent-text',
      '--permission-mode',
      'acceptEdits',
      '--model',
      'claude-opus-4-5',
      '--max-turns',
      '3',
    ]);
    // cwd: pipeline (the user's choice): the pipeline is the working directory anyway.
    expect(claudeCodeArgv({ argv: PRESET, pipelineDir: '/w/c', confined: false })).toContain('--add-dir');
  });

  it('no CLAUDE.md and no auto-memory unless asked for; no self-update mid-build', () => {
    expect(claudeCodeEnv(false)).toEqual({ CLAUDE_CODE_DISABLE_CLAUDE_MDS: '1', CLAUDE_CODE_DISABLE_AUTO_MEMORY: '1', DISABLE_AUTOUPDATER: '1' });
    expect(claudeCodeEnv(true)).toEqual({ CLAUDE_CODE_DISABLE_AUTO_MEMORY: '1', DISABLE_AUTOUPDATER: '1' });
  });
});

describe('claude_md: true (CLAUDE.md files read, and keyed)', () => {
  const PRESET_ENTRY = '    preset: claude-code\n';
  const pipeline = (runner: string) => `seeds: seeds.json
runners:
  claude:
${runner}phases:
  - name: pairs
    intelligence: prompt.md
    runner: claude
    output: out/pairs.json
`;
  async function parts(dir: string, runner: string, claudeMd: string | null): Promise<{ files: Record<string, string>; config: string } | string> {
    await writeFile(path.join(dir, 'pipeline.yaml'), pipeline(runner));
    await writeFile(path.join(dir, 'seeds.json'), '[{"id": "S1", "text": "a"}]');
    await writeFile(path.join(dir, 'prompt.md'), '# p\n');
    if (claudeMd !== null) await writeFile(path.join(dir, 'CLAUDE.md'), claudeMd);
    else await rm(path.join(dir, 'CLAUDE.md'), { force: true });
    const r = await loadPipeline(dir);
    if (!r.ok) return formatUserError(r.error);
    const p = await phaseParts(r.value, r.value.phases[0]!, async (rel) => readFile(path.join(dir, rel), 'utf8').then(hashString, () => null));
    return { files: p.runner.files, config: p.runner.config };
  }

  it("the pipeline's CLAUDE.md is part of the key only when Claude Code may read it; it must be there", async () => {
    await initHashing();
    await withTempDir('claude-md', async (dir) => {
      const off = await parts(dir, PRESET_ENTRY, 'Be terse.\n');
      expect(off).toMatchObject({ files: {} });
      const on = await parts(dir, `${PRESET_ENTRY}    claude_md: true\n`, 'Be terse.\n');
      expect(on).toMatchObject({ files: { 'CLAUDE.md': expect.any(String) } });
      expect((on as { config: string }).config).not.toBe((off as { config: string }).config);
      // An edit to it makes the batches stale.
      const edited = await parts(dir, `${PRESET_ENTRY}    claude_md: true\n`, 'Be verbose.\n');
      expect((edited as { files: Record<string, string> }).files['CLAUDE.md']).not.toBe((on as { files: Record<string, string> }).files['CLAUDE.md']);
      expect(await parts(dir, `${PRESET_ENTRY}    claude_md: true\n`, null)).toContain("runners.claude.claude_md: Claude Code's instructions file CLAUDE.md does not exist");
      expect(await parts(dir, '    command: [node, a.js]\n    claude_md: true\n', null)).toContain('"claude_md" is a setting of preset: claude-code');
    });
  });
});
