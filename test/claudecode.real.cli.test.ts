import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { startMessagesStandIn, allUserText, toolResults, type MessagesStandIn, type RecordedMessagesRequest, type Turn } from './helpers/messagesStandIn.js';
import { events, killLeftovers, Project, REPO, stillRunningAfter } from './helpers/project.js';

/*
 * The claude-code preset with the REAL Claude Code CLI (the devDependency @anthropic-ai/claude-code, its
 * native binary) pointed at a loopback stand-in of the Messages API (helpers/messagesStandIn.ts): the CLI
 * really runs its tools (the Bash tool writes the answer), and the stand-in records what it sends. HOME is a
 * scratch directory; nothing leaves the machine. Each CLI start costs about 1.5 s: few builds, small batches.
 */

const CLAUDE = path.join(REPO, 'node_modules', '.bin', 'claude');
/** The native binary runs (npm installed the package for this platform and its postinstall put it in place). */
const runs = existsSync(CLAUDE) && spawnSync(CLAUDE, ['--version'], { encoding: 'utf8' }).stdout?.includes('Claude Code');

const PIPELINE = (runner = '', phase = '') => `seeds: seeds.json
batch_size: 2
runners:
  claude:
    preset: claude-code
    model: claude-sonnet-4-5
${runner}phases:
  - name: pairs
    intelligence: prompts/pairs.md
    runner: claude
    output: out/pairs.json
${phase}`;

/**
 * One CLI at a time: a start takes about a second of CPU, and the other test files (run beside this one)
 * time agents out after a second. (The timeout test waits out its timeout beside the max-turns test: two
 * CLIs at a time at most.)
 */
const ONE_AT_A_TIME = ['-j', '1'];

/**
 * A project whose PATH finds the real `claude`, the environment that points it at a stand-in of its own
 * (`api`: a test's calls are its own, also beside another test), and `leftovers`: processes to kill should
 * the test fail. Removed, closed and killed when the test ends.
 */
async function withRealClaude(
  t: TestContext,
  pipeline: string,
  script: (body: any, dir: string) => Turn,
  seeds = 4,
): Promise<{ p: Project; env: Record<string, string>; api: MessagesStandIn; leftovers: number[] }> {
  const project = await Project.create({ seeds, pipeline });
  const api = await startMessagesStandIn();
  const leftovers: number[] = [];
  t.onTestFinished(async () => {
    killLeftovers(leftovers);
    await api.close();
    await project.remove();
  });
  await mkdir(project.file('bin'));
  symlinkSync(CLAUDE, project.file('bin/claude'));
  await mkdir(project.file('home'));
  api.script = (body) => script(body, project.dir);
  const home = project.file('home');
  const env = {
    PATH: `${project.file('bin')}:${process.env.PATH}`,
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ANTHROPIC_BASE_URL: api.url,
    ANTHROPIC_API_KEY: 'sk-ant-standin-not-a-key',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    // The CLI retries a 401 ten times (about three minutes) before it gives up: not in a test.
    CLAUDE_CODE_MAX_RETRIES: '0',
  };
  return { p: project, env, api, leftovers };
}

/** The batch's output file and items, as the prompt (the first user message) gives them. */
function task(body: any): { out: string; items: Array<{ id: string; text: string }> } {
  const text = allUserText(body);
  const out = /Write a JSON array to (\S+) holding/.exec(text)![1]!;
  const items = JSON.parse(/## Input items\s+```json\n([\s\S]*?)\n```/.exec(text)![1]!) as Array<{ id: string; text: string }>;
  return { out, items };
}

/** The Bash tool writing the batch's answer into its output file. */
function writeAnswer(body: any): Turn {
  const { out, items } = task(body);
  const answer = JSON.stringify(items.map((it) => ({ id: it.id, text: `real(${it.text})` })));
  return { tool: 'Bash', input: { command: `printf '%s' '${answer}' > ${out}`, description: 'Write the answer' } };
}

/** Every file under a directory (none when it is not there). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** Processes whose command line names `needle` (from /proc). */
function processesNaming(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

describe.skipIf(!runs)('preset: claude-code with the real Claude Code CLI', () => {
  it('a build: the Bash tool writes the answer; no hidden inputs, no transcript, one system prompt for all batches, writes confined to the attempt, tokens of every model', async (t) => {
    const { p, env, api } = await withRealClaude(t, PIPELINE(), (body, dir) => {
      const text = allUserText(body);
      // A subagent's call: its own conversation, without the batch's prompt.
      if (!text.includes('## Input items')) return { text: 'Nothing to add.', usage: { input_tokens: 500, output_tokens: 50 } };
      const done = toolResults(body);
      if (done.length === 0) {
        // Batch 1 first tries to write into the pipeline's directory (outside its attempt's); batch 2 asks a subagent on another model.
        return text.includes('- Batch: 1 of')
          ? { tool: 'Write', input: { file_path: path.join(dir, 'written-by-agent.txt'), content: 'x' } }
          : { tool: 'Agent', input: { description: 'Check the seeds', prompt: 'Check the seeds.', subagent_type: 'general-purpose', model: 'haiku', run_in_background: false } };
      }
      if (done.length === 1) return writeAnswer(body);
      return { text: 'Done.', usage: { input_tokens: 1000, output_tokens: 100 } };
    });
    await p.write('CLAUDE.md', 'HIDDEN-CLAUDE-MD-INSTRUCTION\n');
    const r = await p.cf(['build', '--json', ...ONE_AT_A_TIME], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(await p.read('out/pairs.json'))).toEqual([1, 2, 3, 4].map((i) => ({ id: `S000${i}`, text: `real(seed number ${i})` })));

    const calls = api.calls();
    const main = calls.filter((c) => allUserText(c.body).includes('## Input items'));
    expect(main).toHaveLength(6);
    // Hidden inputs: no CLAUDE.md and no auto-memory (not even its directory) reach the model.
    const hidden = (c: RecordedMessagesRequest): string[] => {
      const b = JSON.stringify(c.body);
      return [b.includes('HIDDEN-CLAUDE-MD-INSTRUCTION') && 'CLAUDE.md', b.includes('/.claude/projects/') && 'auto-memory'].filter((x): x is string => x !== false);
    };
    expect.soft(calls.flatMap(hidden)).toEqual([]);
    // The two batches' first calls (in different attempt directories) send the same system blocks: cacheable.
    const first = main.filter((c) => toolResults(c.body).length === 0);
    expect.soft(first.map((c) => JSON.stringify(c.body.system) === JSON.stringify(first[0]!.body.system))).toEqual([true, true]);
    // Transcripts: none left in ~/.claude/projects.
    // (2.1.332 still writes a subagent's metadata there, its type and model: no prompt, no data.)
    expect.soft(filesUnder(p.file('home/.claude/projects')).filter((f) => /\.jsonl$/.test(f) || /seed number|Input items/.test(readFileSync(f, 'utf8')))).toEqual([]);
    // Writes confined: the Write into the pipeline's directory was refused (the answer in the attempt's was written).
    expect.soft(existsSync(p.file('written-by-agent.txt'))).toBe(false);
    // Tokens of every model the run used (the subagent's haiku too), as the CLI counted them: the batches'
    // six calls of 1000 in and 200 out (100 for the last), the subagent's one of 500 in, 50 out.
    const summary = events(r.stdout).at(-1) as { usage: Record<string, { costUsd: number; inputTokens: number; outputTokens: number }> };
    expect.soft(summary.usage.pairs).toMatchObject({ attempts: 2, inputTokens: 6500, outputTokens: 1050 });
    // Sonnet's $3/$15 per million for the batches' calls, and haiku's for the subagent's.
    expect.soft(summary.usage.pairs!.costUsd).toBeGreaterThan((6000 * 3 + 1000 * 15) / 1e6);
  });

  // This test and the next run side by side (it.concurrent): the next one mostly waits out its timeout.
  it.concurrent('a run that ends without a result (max turns) says why and what it cost; a refused key (401) fails its batch at once', async (t) => {
    const { expect } = t;
    const { p, env } = await withRealClaude(
      t,
      PIPELINE('    args: [--max-turns, "1"]\n', '    attempts: 2\n'),
      (body) => {
        const batch = /- Batch: (\d) of/.exec(allUserText(body))![1];
        // (An unknown model's 404 is as permanent as a 401: the same envelope field, the same set, PERMANENT_API_STATUS.)
        if (batch === '2') return { status: 401, type: 'authentication_error', message: 'invalid x-api-key' };
        return { tool: 'Bash', input: { command: 'pwd', description: 'Look around' } };
      },
      4,
    );
    const r = await p.cf(['build', '--json', ...ONE_AT_A_TIME], env);
    expect(r.code).toBe(1);
    const failed = Object.fromEntries(events(r.stdout).filter((e) => e.event === 'failed').map((e) => [e.target, (e as { errors: Array<{ message: string }> }).errors.map((x) => x.message)]));
    expect(failed).toEqual({
      // Both attempts ran out of turns: the reason shown, not "exited with code 1".
      'pairs#1': ['the agent exited with code 1: Reached maximum number of turns (1)', 'the agent exited with code 1: Reached maximum number of turns (1)'],
      // No second attempt: it would fail alike.
      'pairs#2': [expect.stringMatching(/^the API call failed: .*\(HTTP 401\)$/)],
    });
    const summary = events(r.stdout).at(-1) as { usage: Record<string, { costUsd: number; attempts: number }> };
    // Three attempts; pairs#1's two each made one call of 1000 in and 200 out at $3/$15 per million.
    expect(summary.usage.pairs).toMatchObject({ attempts: 3, inputTokens: 2000, outputTokens: 400 });
    expect(summary.usage.pairs!.costUsd).toBeCloseTo(2 * 0.006, 6);
  });

  it.concurrent('a run killed by its timeout: what it streamed is recorded and counted against --max-cost; nothing it started survives', async (t) => {
    const { expect } = t;
    const { p, env, api, leftovers } = await withRealClaude(t, PIPELINE('    timeout: 8s\n', '    attempts: 3\n'), (body, dir) =>
      // A first call of 100,000 input tokens ($0.30 at $3 per million), then a command that never ends.
      toolResults(body).length === 0 ? { tool: 'Bash', input: { command: `cat ${path.join(dir, 'hold.fifo')}`, description: 'Wait' }, usage: { input_tokens: 100_000, output_tokens: 200 } } : { text: 'unreachable' },
    );
    expect(spawnSync('mkfifo', [p.file('hold.fifo')]).status).toBe(0);
    const r = await p.cf(['build', '--json', '--max-cost', '0.5', 'pairs#1'], env);
    const hung = processesNaming(p.file('hold.fifo'));
    leftovers.push(...hung);
    expect(r.code).toBe(1);
    const summary = events(r.stdout).at(-1) as { usage: Record<string, { costUsd: number; inputTokens: number; outputTokens: number; attempts: number }> };
    // One attempt ran and timed out; its $0.303 recorded; a second would exceed $0.50: not started.
    expect(summary.usage.pairs).toMatchObject({ attempts: 1, inputTokens: 100_000, outputTokens: 200 });
    expect(summary.usage.pairs!.costUsd).toBeCloseTo(0.303, 6);
    expect(r.stdout).toContain('the agent timed out after 8.0 s');
    expect(api.calls()).toHaveLength(1);
    expect(await stillRunningAfter(hung)).toEqual([]);
  });

  // Beside the timeout test (it.concurrent): one CLI run.
  it.concurrent("a phase's schema goes by --json-schema: the answer is the StructuredOutput tool's input, which the CLI checks against the batch schema in the run", async (t) => {
    const { expect } = t;
    const schema = '    schema: {type: object, properties: {id: {type: string}, text: {type: string, pattern: "^real"}}, required: [id, text], additionalProperties: false}\n';
    const { p, env, api } = await withRealClaude(
      t,
      PIPELINE('', schema),
      (body) => {
        // First an answer the batch schema refuses (S0001's text does not match), then one it takes.
        const first = toolResults(body).length === 0;
        return { tool: 'StructuredOutput', input: { S0001: { text: first ? 'wrong' : 'real(seed number 1)' }, S0002: { text: 'real(seed number 2)' } } };
      },
      2,
    );
    const r = await p.cf(['build', '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(await p.read('out/pairs.json'))).toEqual([1, 2].map((i) => ({ id: `S000${i}`, text: `real(seed number ${i})` })));
    const calls = api.calls();
    expect(calls).toHaveLength(2);
    // The tool the CLI made of --json-schema: the batch's ids as properties, in order, all required.
    const tool = (calls[0]!.body.tools as Array<{ name: string; input_schema: any }>).find((x) => x.name === 'StructuredOutput')!;
    expect(Object.keys(tool.input_schema.properties)).toEqual(['S0001', 'S0002']);
    expect(tool.input_schema).toMatchObject({ required: ['S0001', 'S0002'], additionalProperties: false });
    // The prompt asks for the tool, not a file; the CLI's check named the pointer, and the model fixed it in the same run.
    expect(allUserText(calls[0]!.body)).toContain('calling the StructuredOutput tool once');
    expect(toolResults(calls[1]!.body)[0]).toMatchObject({ isError: true, content: expect.stringContaining('/S0001/text: must match pattern') });
    expect((events(r.stdout).at(-1) as { usage: Record<string, { attempts: number }> }).usage.pairs).toMatchObject({ attempts: 1 });
  });

  it('Ctrl-C while the Bash tool runs a command: nothing it started survives', async (t) => {
    const { p, env, leftovers } = await withRealClaude(t, PIPELINE(), (body, dir) =>
      toolResults(body).length === 0 ? { tool: 'Bash', input: { command: `cat ${path.join(dir, 'hold.fifo')}`, description: 'Wait' } } : { text: 'unreachable' },
    );
    expect(spawnSync('mkfifo', [p.file('hold.fifo')]).status).toBe(0);
    const cf = p.spawn(['build', 'pairs#1'], env);
    // Opening the FIFO to write returns once the Bash tool's `cat` has opened it to read: the command runs.
    const fifo = await open(p.file('hold.fifo'), 'w');
    const hung = processesNaming(p.file('hold.fifo'));
    leftovers.push(...hung);
    expect(hung.length).toBeGreaterThan(0);
    cf.kill('SIGINT');
    const r = await cf;
    await fifo.close();
    expect(r.exitCode).toBe(130);
    expect(await stillRunningAfter(hung)).toEqual([]);
  });
});
