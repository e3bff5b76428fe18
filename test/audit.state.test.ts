import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BatchStatus } from '../src/engine/analyze.js';
import { takeHandEdits } from '../src/engine/handEdits.js';
import { loadPipeline } from '../src/config/loadPipeline.js';
import { registry } from '../src/config/registry.js';
import { registerSsi } from '../src/domains/ssi/index.js';
import { openState } from '../src/store/state.js';
import { formatStaleReason } from '../src/cli/format/reasons.js';
import { CommandValidator } from '../src/exec/validate.js';
import { hashString } from '../src/util/hash.js';
import { Project, TWO_PHASES } from './helpers/project.js';
import { withTempDir } from './helpers/tempDir.js';
import { World } from './helpers/memory.js';

// pipeline.yaml is read here as cf reads it: with the SSi domain registered (app/session.ts).
registerSsi(registry);

const THREE = [{ name: 'pairs' }, { name: 'legos' }, { name: 'baskets' }];

/** Batch statuses as cf status sees them, by target. */
async function statuses(w: World): Promise<Map<string, BatchStatus>> {
  const { analysis, decider } = await w.analysis();
  const out = new Map<string, BatchStatus>();
  for (const phase of decider.graph.phases) for (const b of decider.graph.batches()) out.set(`${phase.name}#${b}`, await analysis.batch(phase, b));
  return out;
}

describe('1. read-only commands find every key cf build finds', () => {
  it('a run found again in the history is fresh for status, explain and --dry-run too, and becomes the newest record', async () => {
    await withTempDir('history', async (dir) => {
      const w = await World.create(THREE, 60);
      w.state = await openState(dir, { readOnly: false });
      await w.build();
      const original = w.state.lastSuccess('pairs#2' as never)!.key;
      w.editSeed('S0025', 'edited');
      await w.build();
      w.editSeed('S0025', 'seed 25');
      // Served from what is recorded (no agent run), and now the batch's newest record again.
      expect((await w.build()).agentRuns).toEqual([]);
      expect(w.state.lastSuccess('pairs#2' as never)!.key).toBe(original);
      // cf clean of another phase compacts the log: superseded runs move to history.log.
      w.editSeed('S0025', 'edited');
      await w.build();
      w.editSeed('S0025', 'seed 25');
      await w.state.compact({ full: true });
      w.state.close();
      // A read-only State (cf status, explain, build -n) looks keys up as a build does: history included.
      w.state = await openState(dir, { readOnly: true });
      const seen = await statuses(w);
      expect([...seen.values()].filter((s) => s.kind !== 'fresh').map((s) => s.target)).toEqual([]);
      expect(() => w.state.append({ t: 'forget', target: 'pairs#1' as never, at: 'now' })).toThrow(/read-only/);
      w.state = await openState(dir, { readOnly: false });
      expect((await w.build()).agentRuns).toEqual([]);
      w.state.close();
    });
  });
});

describe('3. a record whose stored output is missing or damaged is not fresh', () => {
  it('a deleted stored output: that batch (only) runs again, and status says why', async () => {
    const w = await World.create(THREE, 60);
    await w.build();
    const rec = w.state.lastSuccess('legos#2' as never)!;
    w.objects.blobs.delete(rec.out);
    w.outputs.files.delete('out/legos.json');
    const s = (await statuses(w)).get('legos#2')!;
    expect(s.kind).toBe('stale');
    expect(s.kind === 'stale' && s.reasons.map(formatStaleReason)).toEqual([`the stored output of legos#2 (${rec.out}) is missing from .cf/objects or damaged`]);
    const r = await w.build();
    expect(r.agentRuns).toEqual(['legos#2']);
    expect(r.merged).toEqual(['out/legos.json']);
    expect(w.output('legos')).toHaveLength(60);
    expect((await w.build()).agentRuns).toEqual([]);
  });

  it('a damaged stored output found when it is read is built again in the same build, which completes', async () => {
    const w = await World.create(THREE, 60);
    await w.build();
    const rec = w.state.lastSuccess('pairs#3' as never)!;
    w.objects.blobs.set(rec.out, '[{"id": "S0041", "text": "bit rot"}]');
    w.outputs.files.delete('out/pairs.json');
    const r = await w.build();
    // Planned fresh (the file was there), found damaged by the merge: rebuilt, then merged.
    expect(r.agentRuns).toEqual(['pairs#3']);
    expect(r.ran).toEqual(['pairs#3']);
    expect(r.fresh).not.toContain('pairs#3');
    expect(r.cancelled).toEqual([]);
    expect(w.output('pairs').map((x) => x.text)[40]).toBe('pairs(seed 41)');
    expect((await w.build()).agentRuns).toEqual([]);
  });

  it('a downstream batch reading a damaged upstream output goes on once the upstream is built again', async () => {
    const w = await World.create(THREE, 60);
    await w.build();
    const rec = w.state.lastSuccess('pairs#1' as never)!;
    w.objects.blobs.set(rec.out, 'damaged');
    w.intelligence.set('prompts/legos.md', '# legos, reworded\n');
    const r = await w.build();
    expect(r.agentRuns).toEqual(['legos#1', 'legos#2', 'legos#3', 'pairs#1']);
    expect(r.failed).toEqual([]);
    expect(r.cancelled).toEqual([]);
  });
});

describe('2. a hand edit is validated by the whole validator, command included', () => {
  it('takes an edit a command validator accepts, refuses one it rejects (no crash)', async () => {
    await withTempDir('edits', async (dir) => {
      await writeFile(
        path.join(dir, 'check.mjs'),
        `import { readFileSync } from 'node:fs';
const out = JSON.parse(readFileSync(process.env.CF_OUTPUT_FILE, 'utf8'));
const bad = out.filter((it) => it.text.includes('BAD'));
for (const it of bad) console.log(it.id + ': says BAD (' + process.env.CF_TARGET + ', attempt ' + process.env.CF_ATTEMPT + ')');
process.exit(bad.length ? 1 : 0);
`,
      );
      const w = await World.create([{ name: 'pairs' }, { name: 'legos' }], 40);
      await w.build();
      const edit = (id: string, text: string): void => {
        const items = w.output('pairs').map((it) => (it.id === id ? { ...it, text } : it));
        void w.outputs.write('out/pairs.json', JSON.stringify(items));
      };
      const take = async () =>
        takeHandEdits({
          decider: await w.decider(),
          outputs: w.outputs,
          phases: (await w.decider()).graph.phases,
          executor: w.executor({ validatorFor: () => new CommandValidator({ argv: ['node', 'check.mjs'] }, dir, 10_000) }),
          runDir: (phase, batch) => path.join(dir, 'runs', phase.name, String(batch), 'edit'),
          signal: new AbortController().signal,
        });
      edit('S0005', 'corrected by a reviewer');
      const taken = await take();
      expect(taken).toMatchObject([{ phase: 'pairs', taken: ['pairs#1'], rejected: [] }]);
      expect(await readFile(path.join(dir, 'runs', 'pairs', '1', 'edit', 'output.json'), 'utf8')).toContain('corrected by a reviewer');
      const r = await w.build();
      expect(r.agentRuns).toEqual(['legos#1']);
      expect(w.output('legos')[4]!.text).toBe('legos(corrected by a reviewer)');

      edit('S0025', 'BAD');
      const refused = await take();
      expect(refused[0]!.taken).toEqual([]);
      expect(refused[0]!.rejected).toEqual([{ target: 'pairs#2', errors: [{ attempt: 0, source: 'validator', item: 'S0025', message: 'says BAD (pairs#2, attempt 0)' }] }]);
    });
  });
});

describe('5. temporaries a killed cf left are removed', () => {
  it('removes those of a cf that is gone, beside the outputs named and in a directory; keeps a live one and other files', async () => {
    await withTempDir('tmp', async (dir) => {
      // A pid that is certainly gone: a process that ran and was reaped.
      const { execa } = await import('execa');
      const gone = (await execa('node', ['-e', 'process.stdout.write(String(process.pid))'])).stdout;
      const live = process.ppid;
      await mkdir(path.join(dir, 'out'));
      await mkdir(path.join(dir, '.cf'));
      const files = {
        stale: `out/pairs.json.cf-tmp-${gone}-0a1b2c3d`,
        live: `out/pairs.json.cf-tmp-${live}-0a1b2c3d`,
        other: `out/notes.json.cf-tmp-${gone}-0a1b2c3d`,
        mine: 'out/pairs.json',
        state: `.cf/records.log.cf-tmp-${gone}-deadbeef`,
      };
      for (const f of Object.values(files)) await writeFile(path.join(dir, f), 'x');
      const { removeStaleTemporaries } = await import('../src/util/fsx.js');
      expect(await removeStaleTemporaries([path.join(dir, 'out', 'pairs.json'), { dir: path.join(dir, '.cf') }])).toBe(2);
      const { existsSync } = await import('node:fs');
      expect(Object.fromEntries(Object.entries(files).map(([k, f]) => [k, existsSync(path.join(dir, f))]))).toEqual({ stale: false, live: true, other: true, mine: true, state: false });
    });
  });
});

describe('6. a cached parse of pipeline.yaml is trusted only when it is intact', () => {
  it('a .cf/pipeline.json that disagrees with pipeline.yaml (edited, or another cf) is parsed again', async () => {
    const p = await Project.create({ seeds: 3 });
    try {
      const first = await loadPipeline(p.dir);
      expect(first.ok && first.value.batchSize).toBe(20);
      // The cached parse edited (by hand, or written by another cf): it says batch size 7.
      const cache = JSON.parse(await p.read('.cf/pipeline.json')) as { pipeline: string | { batchSize: number } };
      if (typeof cache.pipeline === 'string') cache.pipeline = JSON.stringify({ ...(JSON.parse(cache.pipeline) as object), batchSize: 7 });
      else cache.pipeline.batchSize = 7;
      await p.write('.cf/pipeline.json', JSON.stringify(cache));
      const again = await loadPipeline(p.dir);
      expect(again.ok && again.value.batchSize).toBe(20);
      // Rewritten whole: the next read takes it.
      const cached = JSON.parse(await p.read('.cf/pipeline.json')) as { sum: string; pipeline: string };
      expect(hashString(cached.pipeline)).toBe(cached.sum);
      await p.write('pipeline.yaml', TWO_PHASES().replace('batch_size: 20', 'batch_size: 5'));
      const edited = await loadPipeline(p.dir);
      expect(edited.ok && edited.value.batchSize).toBe(5);
    } finally {
      await p.remove();
    }
  });
});
