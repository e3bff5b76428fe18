import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { graphModel } from '../src/app/graph.js';
import { batchStates } from '../src/app/inspect.js';
import { dot, mermaid } from '../src/cli/format/graph.js';
import { scaffold } from '../src/cli/init/scaffold.js';
import { REPO } from './helpers/project.js';
import { Bench } from './helpers/workspace.js';

/* cf graph: what each phase reads, and with --batches each batch's state as cf status decides it. */

const benches: Bench[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.remove();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('cf graph', () => {
  it("the example course (cf init --template course): each phase's items, context, intelligence, schema and its runner's and validator's files", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cf-graph-'));
    dirs.push(dir);
    await scaffold(REPO, 'course', dir, (f) => f);
    const ws = await Bench.on(dir).open();
    const m = graphModel(ws.pipeline, { count: ws.inputs.graph.seedCount, batches: ws.inputs.graph.batchCount });
    expect(m.seeds).toEqual({ file: 'vfs/seeds/spa_demo_seeds.json', count: 60, batches: 3 });
    const baskets = m.phases.find((p) => p.name === 'lego_baskets')!;
    expect(baskets).toMatchObject({ output: 'vfs/courses/spa_for_eng_demo/lego_baskets.json', schema: 'ssi:lego_baskets', items: 'independent' });
    expect(baskets.reads).toEqual([
      { kind: 'items', from: 'lego_pairs', fromKind: 'phase' },
      { kind: 'context', from: 'lego_pairs', fromKind: 'phase', label: 'vocabulary' },
      { kind: 'intelligence', from: 'vfs/intelligence/lego_baskets.md', fromKind: 'file' },
      { kind: 'runner', from: 'vfs/agent/scripted-agent.mjs', fromKind: 'file', label: 'scripted' },
      { kind: 'runner', from: 'vfs/agent/lexicon.json', fromKind: 'file', label: 'scripted' },
      { kind: 'runner', from: 'vfs/agent/baskets.mjs', fromKind: 'file', label: 'scripted' },
      { kind: 'validator', from: 'vfs/agent/validate.mjs', fromKind: 'file' },
    ]);
    const text = mermaid(m);
    expect(text.startsWith('flowchart LR\n  seeds[("vfs/seeds/spa_demo_seeds.json<br/>60 seeds, 3 batches")]\n')).toBe(true);
    // One node per file, however many phases read it; an edge per read, saying what it is.
    expect(text.match(/\["vfs\/agent\/validate\.mjs"\]/g)).toHaveLength(1);
    expect(text).toContain('  p1 -->|"items"| p2\n  p1 -->|"context: vocabulary"| p2\n');
    expect(dot(m)).toContain('  p1 -> p2 [label="context: vocabulary"];');
  });

  it('--batches: each phase\'s batches in runs of one state (fresh, stale, waiting, failed), as cf status counts them', async () => {
    const b = await Bench.create({ seeds: 60 });
    benches.push(b);
    b.knobs = { fail: ['S0045'], onlyPhase: 'legos' };
    await b.build();
    await b.editSeed('S0001', 'edited');
    const ws = await b.open();
    const m = graphModel(ws.pipeline, { count: 60, batches: 3 }, await batchStates(ws));
    expect(m.phases.map((p) => p.batches)).toEqual([
      { total: 3, counts: { fresh: 2, stale: 1, waiting: 0, failed: 0 }, runs: [{ first: 1, last: 1, state: 'stale' }, { first: 2, last: 3, state: 'fresh' }] },
      {
        total: 3,
        counts: { fresh: 1, stale: 0, waiting: 1, failed: 1 },
        runs: [{ first: 1, last: 1, state: 'waiting' }, { first: 2, last: 2, state: 'fresh' }, { first: 3, last: 3, state: 'failed' }],
      },
    ]);
    const status = await b.status();
    expect(status.phases.map((p) => [p.fresh, p.stale, p.waiting, p.failed])).toEqual([[2, 1, 0, 0], [1, 0, 1, 1]]);
    const text = mermaid(m);
    expect(text).toContain('  subgraph p1_batches["legos: 3 batches (1 fresh, 1 waiting, 1 failed)"]\n    direction TB\n    p1["legos<br/>→ out/legos.json"]:::phase\n    p1_1["batch 1: waiting"]:::waiting\n');
    expect(text).toContain('    p1_3["batch 3: failed"]:::failed\n  end\n');
    expect(text).toContain('  classDef failed fill:#f8d7da,stroke:#dc3545\n');
    expect(dot(m)).toContain('    p0_2 [label="batches 2–3: fresh", shape=box, style=filled, fillcolor="#d4edda", color="#28a745"];');
  });
});
