import { describe, expect, it } from 'vitest';
import { loadPipeline } from '../src/config/loadPipeline.js';
import { registry } from '../src/config/registry.js';
import { registerSsi } from '../src/domains/ssi/index.js';
import { phaseParts } from '../src/engine/fingerprint.js';
import { formatUserError } from '../src/util/errors.js';
import { hashString, initHashing } from '../src/util/hash.js';
import { withTempDir } from './helpers/tempDir.js';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

/*
 * cf's own runner kinds are looked up in the registry like a domain's: what each contributes to a batch's
 * key is pinned here, so that no change to how kinds are found re-keys (and so re-runs) a built course.
 */

const RUNNERS = `runners:
  cmd:
    command: [node, agent.js, --fast]
    env: {MODE: x}
    timeout: 5m
  claude:
    preset: claude-code
    model: claude-sonnet-4-5
    args: [--verbose]
  rec:
    recording: rec.json
  ant:
    kind: anthropic
    model: claude-sonnet-4-5
    temperature: 0.2
    limits: {concurrency: 2}
  oai:
    kind: openai
    model: gpt-4.1-mini
    max_tokens: 1000
    env: {A: b}
`;
const PHASES = ['cmd', 'claude', 'rec', 'ant', 'oai']
  .map((r, i) => `  - name: p${i}\n    intelligence: prompt.md\n    runner: ${r}\n    output: out/p${i}.json\n`)
  .join('');

describe("cf's own runner kinds key as they always have", () => {
  it('command, claude-code, replay, anthropic and openai runners: the same config hashes', async () => {
    await initHashing();
    await withTempDir('runner-keys', async (dir) => {
      for (const [f, t] of Object.entries({ 'pipeline.yaml': `seeds: seeds.json\n${RUNNERS}phases:\n${PHASES}`, 'seeds.json': '[{"id": "S1", "text": "a"}]', 'prompt.md': '# p\n', 'agent.js': '', 'rec.json': '[]' })) {
        await writeFile(path.join(dir, f), t);
      }
      const r = await loadPipeline(dir);
      expect(r.ok, r.ok ? '' : formatUserError(r.error)).toBe(true);
      if (!r.ok) return;
      const hashes: Record<string, string> = {};
      for (const phase of r.value.phases) {
        const parts = await phaseParts(r.value, phase, async (rel) => hashString(rel));
        hashes[phase.runner] = `${parts.runner.config} ${JSON.stringify(parts.runner.files)}`;
      }
      expect(hashes).toEqual({
        cmd: '339af4042a7f9b0b {"agent.js":"50def6f33bac0f0c","node":"ca5909b3f8f415b8"}',
        claude: '191455cc6807a660 {"acceptEdits":"3687b92acec2858c","claude":"8a75ae003672ffa2","claude-sonnet-4-5":"22b8a14e68465b09","json":"5b554f0e091a9bb7"}',
        rec: '289d864e29f5907c {"rec.json":"e9c09259e18589e6"}',
        ant: '92b099776402dca7 {}',
        oai: '79a71d46ce0d9eaa {}',
      });
    });
  });

  it("a phase with a schema pipeline.yaml names also keys how its runner sends it (structured:); no other phase's key moves", async () => {
    await initHashing();
    registerSsi(registry); // a phase of an SSi kind gets its kind's schema (as every cf command registers it)
    await withTempDir('runner-keys-structured', async (dir) => {
      let runner = 'oai';
      const phase = (name: string, more = '') => `  - name: ${name}\n    intelligence: prompt.md\n    runner: ${runner}\n    output: out/${name}.json\n${more}`;
      // structured: goes on the runner the phases use.
      const yaml = (structured: string) =>
        `seeds: seeds.json\ncourse: {code: spa_for_eng, target_language: spa, known_language: eng}\n${RUNNERS.replace(`  ${runner}:\n`, `  ${runner}:\n${structured}`)}phases:\n` +
        phase('plain') +
        phase('named', '    schema: {type: object, properties: {id: {type: string}}}\n') +
        phase('kind', '    merge: ssi:seed_pairs\n');
      for (const [f, t] of Object.entries({ 'seeds.json': '[{"id": "S1", "text": "a"}]', 'prompt.md': '# p\n', 'agent.js': '', 'rec.json': '[]' })) await writeFile(path.join(dir, f), t);
      const hashes = async (structured: string): Promise<Record<string, string>> => {
        await writeFile(path.join(dir, 'pipeline.yaml'), yaml(structured));
        const r = await loadPipeline(dir);
        expect(r.ok, r.ok ? '' : formatUserError(r.error)).toBe(true);
        if (!r.ok) return {};
        const out: Record<string, string> = {};
        for (const p of r.value.phases) out[p.name] = String((await phaseParts(r.value, p, async (rel) => hashString(rel))).runner.config);
        return out;
      };
      const strict = await hashes('');
      const off = await hashes('    structured: off\n');
      // No schema, or a kind's default (not keyed): the runner's hash as pinned above, whatever structured: says.
      expect([strict.plain, strict.kind, off.plain, off.kind]).toEqual(Array(4).fill('79a71d46ce0d9eaa'));
      expect(strict.named).not.toBe('79a71d46ce0d9eaa');
      expect(off.named).not.toBe(strict.named);

      // claude-code: --json-schema (tool, its default) or the schema files named in the prompt (off).
      runner = 'claude';
      const tool = await hashes('');
      const files = await hashes('    structured: off\n');
      expect([tool.plain, tool.kind, files.plain, files.kind]).toEqual(Array(4).fill('191455cc6807a660'));
      expect(tool.named).not.toBe('191455cc6807a660');
      expect(files.named).not.toBe(tool.named);
    });
  });
});
