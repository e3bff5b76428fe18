import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareFiles, runAgentAttempt, type AttemptJob } from '../src/exec/attempts.js';
import { renderPrompt } from '../src/exec/prompt.js';
import { ClaudeCodeRunner } from '../src/exec/runners/claudeCode.js';
import { DEFAULT_PRICES } from '../src/exec/runners/pricing.js';
import { phaseParts } from '../src/engine/fingerprint.js';
import type { PhaseConfig } from '../src/config/pipeline.js';
import { decodeUtf8, firstInvalidUtf8 } from '../src/exec/runners/answerText.js';
import { stderrDetail, summarizeStderr } from '../src/exec/processes/stderrSummary.js';
import type { AgentRunner } from '../src/exec/runners/types.js';
import { hashString } from '../src/util/hash.js';
import { resetSecrets } from '../src/util/secrets.js';
import { formatSize, parseSize } from '../src/util/size.js';
import { World } from './helpers/memory.js';
import { withTempDir } from './helpers/tempDir.js';

const KEY = 'sk-test-0123456789abcdef';
afterEach(() => {
  delete process.env.CF_TEST_API_KEY;
  resetSecrets();
});

describe('an answer that is not UTF-8 is an error naming the byte', () => {
  it('finds the first ill-formed sequence as the standard decoder does', () => {
    const cases: Array<[number[], number]> = [
      [[0x61, 0x62], 2], // valid: the offset is the length
      [[0x61, 0xe9, 0x20], 1], // Latin-1 é
      [[0x61, 0xff], 1],
      [[0xc3, 0xa9, 0xc0, 0x80], 2], // overlong
      [[0xed, 0xa0, 0x80], 0], // a surrogate
      [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
      [[0x61, 0xe2, 0x82], 1], // cut short at the end
      [[0xf0, 0x9f, 0x98, 0x80, 0x80], 4], // an emoji, then a stray continuation byte
    ];
    for (const [bytes, at] of cases) {
      const b = Uint8Array.from(bytes);
      expect(firstInvalidUtf8(b), bytes.join(',')).toBe(at);
      // The standard decoder agrees on everything before the offset.
      expect(new TextDecoder().decode(b.subarray(0, at))).not.toContain('\ufffd');
    }
    expect(decodeUtf8(Buffer.from('[{"id": "S1", "text": "café"}]'))).toEqual({ ok: true, text: '[{"id": "S1", "text": "café"}]' });
    const bad = Buffer.from('[\n{"id": "S1", "text": "caf\u00e9"}]', 'latin1');
    expect(decodeUtf8(bad)).toEqual({ ok: false, message: 'the output is not valid UTF-8 at byte 27 (line 2): 0xe9; write the output as UTF-8' });
  });
});

describe('max_output', () => {
  it('is a size in bytes, kB, MB, KiB, MiB…', () => {
    expect(parseSize('20MB')).toBe(20_000_000);
    expect(parseSize('500 kB')).toBe(500_000);
    expect(parseSize('1MiB')).toBe(1_048_576);
    expect(parseSize('1.5gb')).toBe(1_500_000_000);
    expect(parseSize(4096)).toBe(4096);
    for (const bad of ['20 parsecs', '', '-1MB', '0', 0, 1.5, 'MB']) expect(parseSize(bad), String(bad)).toBeNull();
    expect(formatSize(20_000_000)).toBe('20 MB');
    expect(formatSize(1_048_576)).toBe('1 MiB');
    expect(formatSize(1234)).toBe('1,234 bytes');
  });

  it('is not part of any key: changing it reruns nothing', async () => {
    const pipeline = (await World.create([{ name: 'pairs' }], 3)).pipeline();
    const hasher = async (rel: string) => hashString(rel);
    const parts = await phaseParts(pipeline, pipeline.phases[0]!, hasher);
    expect(await phaseParts(pipeline, { ...pipeline.phases[0]!, maxOutput: 1000 }, hasher)).toEqual(parts);
  });
});

describe('answers that come back as text (the API runners)', () => {
  it('over max_output: an invalid output, retried; a key in an error or in an answer is scrubbed before anything keeps it', async () => {
    process.env.CF_TEST_API_KEY = KEY;
    resetSecrets();
    for (const items of ['batch', 'independent'] as const) {
      const w = await World.create([{ name: 'pairs', items, maxOutput: 500 }], 3);
      w.agent = (req) => {
        const answer = (text: string) => JSON.stringify(req.inputItems.map((it) => ({ id: it.id, text })));
        if (req.attempt === 1) return { ok: true, output: answer('x'.repeat(300)) };
        if (req.attempt === 2) return { ok: false, failure: { kind: 'api', message: `HTTP 500: upstream rejected key ${KEY}`, fatal: false } };
        return { ok: true, output: answer(`the key is ${KEY}`) };
      };
      const s = await w.build();
      expect(s.failed, items).toEqual([]);
      const retried = w.events.flatMap((e) => (e.event === 'retried' ? e.errors.map((x) => x.message) : []));
      expect(retried, items).toEqual([
        expect.stringMatching(/^the output is 9\d\d bytes, over max_output 500 bytes for phase pairs$/),
        'the API call failed: HTTP 500: upstream rejected key [secret $CF_TEST_API_KEY]',
      ]);
      expect(w.output('pairs').map((it) => it.text), items).toEqual(Array(3).fill('the key is [secret $CF_TEST_API_KEY]'));
      expect(JSON.stringify([...w.objects.blobs.values()]), items).not.toContain(KEY);
      expect(JSON.stringify(w.events), items).not.toContain(KEY);
    }
  });
});

/** One attempt of a phase whose agent writes `bytes` to CF_OUTPUT_FILE, in a run directory under `dir`. */
async function attemptWriting(dir: string, bytes: Buffer, maxOutput: number) {
  const runner: AgentRunner = {
    delivery: 'file',
    run: async (req) => {
      writeFileSync(req.files!.output, bytes);
      return { ok: true };
    },
  };
  const phase = { name: 'pairs', attempts: 3, maxOutput } as PhaseConfig;
  const job: AttemptJob = {
    target: 'pairs#1',
    phase,
    batch: 1,
    batchCount: 1,
    idField: 'id',
    intelligence: '# pairs\n',
    inputItems: [{ id: 'S1' }],
    inputIds: ['S1'],
    runner,
    runDir: path.join(dir, 'runs', 'pairs', '1'),
    signal: new AbortController().signal,
    onAttempt: () => undefined,
  };
  return runAgentAttempt(job, 1, []);
}

describe('an answer file is checked before it is taken', () => {
  it('not UTF-8, or over max_output: an invalid output (retried), not an answer', async () => {
    await withTempDir('answers', async (dir) => {
      const latin1 = await attemptWriting(dir, Buffer.from('[{"id": "S1", "text": "\u00e9"}]', 'latin1'), 1000);
      expect(latin1).toMatchObject({ kind: 'failed', fatal: false, error: { source: 'output', message: expect.stringContaining('not valid UTF-8 at byte 23 (line 1): 0xe9') } });
      const big = await attemptWriting(dir, Buffer.from(`[{"id": "S1", "text": "${'x'.repeat(2000)}"}]`), 1000);
      expect(big).toMatchObject({ kind: 'failed', fatal: false, error: { source: 'output', message: 'the output is 2,026 bytes, over max_output 1 kB for phase pairs' } });
      const fine = await attemptWriting(dir, Buffer.from('[{"id": "S1", "text": "é"}]'), 1000);
      expect(fine).toMatchObject({ kind: 'answered', text: '[{"id": "S1", "text": "é"}]' });
    });
  });
});

describe("Claude Code's answer over max_output", () => {
  it('is refused, and what the run cost is still recorded', async () => {
    await withTempDir('answers', async (dir) => {
      const envelope = { type: 'result', is_error: false, result: `[{"id": "S1", "text": "${'x'.repeat(2000)}"}]`, total_cost_usd: 0.0125, usage: { input_tokens: 100, output_tokens: 900 } };
      const runner = new ClaudeCodeRunner(
        { name: 'claude', kind: 'command', command: { argv: ['node', '-e', `process.stdout.write(${JSON.stringify(JSON.stringify(envelope))})`] }, preset: 'claude-code', cwd: 'pipeline', model: {}, limits: {}, timeoutMs: 20_000, env: {}, deps: [] },
        dir,
        new Map(),
        DEFAULT_PRICES,
      );
      const prompt = renderPrompt({ intelligence: '#', phase: 'pairs', batch: 1, batchCount: 1, attempt: 1, attempts: 3, idField: 'id', itemIds: ['S1'], inputJson: '[]', delivery: 'file', outputFile: 'o', previousErrors: [] });
      const files = prepareFiles(path.join(dir, 'attempt-1'), prompt.full, '[]');
      const r = await runner.run({ target: 'pairs#1', phase: 'pairs', batch: 1, batchCount: 1, attempt: 1, prompt, inputItems: [{ id: 'S1' }], env: {}, files, maxOutput: 1000, signal: new AbortController().signal });
      expect(r).toMatchObject({ ok: false, failure: { kind: 'output', message: 'the output is 2,026 bytes, over max_output 1 kB for phase pairs' }, usage: { costUsd: 0.0125, outputTokens: 900 } });
    });
  });
});

describe("a failing command's stderr is told by its error line", () => {
  const NODE_MISSING = `node:internal/modules/cjs/loader:1210
  throw err;
  ^

Error: Cannot find module '/tmp/p/missing.js'
    at Module._resolveFilename (node:internal/modules/cjs/loader:1207:15)
    at node:internal/main/run_main_module:28:49 {
  code: 'MODULE_NOT_FOUND',
  requireStack: []
}

Node.js v20.20.0
`;
  it('Node: a missing script, a thrown error (with where), an ESM import error', () => {
    expect(summarizeStderr(NODE_MISSING)).toBe("Error: Cannot find module '/tmp/p/missing.js'");
    const thrown = `/tmp/p/agent.js:3
throw new Error('no answer from the model');
^

Error: no answer from the model
    at Object.<anonymous> (/tmp/p/agent.js:3:7)
    at Module._compile (node:internal/modules/cjs/loader:1554:14)

Node.js v20.20.0`;
    expect(summarizeStderr(thrown)).toBe('Error: no answer from the model (at /tmp/p/agent.js:3:7)');
    const esm = `node:internal/modules/esm/resolve:854
  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);
        ^

Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'openai' imported from /tmp/p/agent.mjs
    at packageResolve (node:internal/modules/esm/resolve:854:9) {
  code: 'ERR_MODULE_NOT_FOUND'
}`;
    expect(summarizeStderr(esm)).toBe("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'openai' imported from /tmp/p/agent.mjs");
  });

  it("Python: a traceback's last line with its frame; a script that cannot be opened", () => {
    const tb = `Traceback (most recent call last):
  File "/tmp/p/check.py", line 12, in <module>
    main()
  File "/tmp/p/check.py", line 8, in main
    data = json.load(f)
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
`;
    expect(summarizeStderr(tb)).toBe('json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0) (at /tmp/p/check.py line 8)');
    expect(summarizeStderr("python3: can't open file '/tmp/p/missing.py': [Errno 2] No such file or directory\n")).toBe(
      "python3: can't open file '/tmp/p/missing.py': [Errno 2] No such file or directory",
    );
  });

  it('other programs: error:/panic: lines, else the last lines that are not stack frames', () => {
    expect(summarizeStderr('compiling…\nerror[E0425]: cannot find value `x` in this scope\n  --> src/main.rs:2:5\n')).toBe('error[E0425]: cannot find value `x` in this scope');
    expect(summarizeStderr('panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/tmp/main.go:8 +0x1d\n')).toBe(
      'panic: runtime error: index out of range [5] with length 3',
    );
    expect(summarizeStderr('loading model\ncalling the API\n/bin/sh: 1: claude: not found\n')).toBe('loading model / calling the API / /bin/sh: 1: claude: not found');
    expect(summarizeStderr('')).toBe('');
  });

  it('the detail is the error line first, then the end of stderr as it was', () => {
    const d = stderrDetail(NODE_MISSING);
    expect(d.split('\n')[0]).toBe("Error: Cannot find module '/tmp/p/missing.js'");
    expect(d).toContain('node:internal/modules/cjs/loader:1210\n  throw err;');
    expect(stderrDetail('just this\n')).toBe('just this');
    expect(stderrDetail('  \n')).toBe('');
  });
});
