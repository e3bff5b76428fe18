import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPipeline } from '../src/config/loadPipeline.js';
import { registry } from '../src/config/registry.js';
import { registerSsi } from '../src/domains/ssi/index.js';
import type { Pipeline } from '../src/config/pipeline.js';
import type { Item } from '../src/config/seeds.js';
import { formatUserError } from '../src/util/errors.js';
import { Project, TWO_PHASES } from './helpers/project.js';
import { World, type MemPhase } from './helpers/memory.js';

// pipeline.yaml is read here as cf reads it: with the SSi domain registered (app/session.ts).
registerSsi(registry);

const word = (i: number): string => `w${i}`;

/** legos → baskets reading legos as its vocabulary context (the example course's shape). */
const WITH_CONTEXT: MemPhase[] = [
  { name: 'legos', items: 'independent' },
  { name: 'baskets', items: 'independent', context: { vocabulary: 'legos' } },
];

function contextWorld(w: World): World {
  w.agent = (req) => {
    const out = req.inputItems.map((it) =>
      req.phase === 'legos'
        ? { id: it.id, legos: String(it.text).split(' ').map((x, i) => ({ id: `${it.id}L${i}`, lego: { known: x, target: x } })) }
        : { id: it.id, basket: `b(${(it.legos as Array<{ lego: { target: string } }>).map((l) => l.lego.target).join(' ')})` },
    );
    return { ok: true, output: JSON.stringify(out) };
  };
  w.seeds = Array.from({ length: 60 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: `${word(i)} shared ${word(i + 1)}` }));
  return w;
}

describe('14. cf adopt records what a build finds fresh', () => {
  it('a phase with a vocabulary context, items: independent: adopted, then built with no agent run; one seed edited reruns one item', async () => {
    const built = contextWorld(await World.create(WITH_CONTEXT, 0));
    await built.build();
    const outputs: Record<string, Item[]> = { legos: built.output('legos'), baskets: built.output('baskets') };

    const w = contextWorld(await World.create(WITH_CONTEXT, 0));
    for (const phase of ['legos', 'baskets']) {
      const report = await w.adopt(phase, outputs[phase]!);
      expect(report.rejected).toEqual([]);
      expect(report.adopted).toHaveLength(3);
    }
    const r = await w.build();
    expect(r.agentRuns).toEqual([]);
    expect(r.fresh).toHaveLength(6);
    expect(w.output('baskets')).toEqual(outputs.baskets);
    // Each adopted item is cached on its own, as a build caches it: an edit regenerates that item only.
    const mark = w.runs.length;
    w.editSeed('S0030', `shared ${word(29)} ${word(30)}`); // the same words in another order: no later context changes
    await w.build();
    expect(w.runs.slice(mark).flatMap((x) => x.inputItems.map((it) => `${x.phase}:${String(it.id)}`)).sort()).toEqual(['baskets:S0030', 'legos:S0030']);
  });
});

describe('15. counts agree with each other', () => {
  it('the plan and the summary count the same batch targets, for a phase output and for one batch', async () => {
    const w = await World.create([{ name: 'pairs' }, { name: 'legos' }], 60);
    await w.build();
    for (const target of ['out/legos.json', 'legos#2', 'legos']) {
      const before = w.events.length;
      const r = await w.build([target]);
      const planned = w.events.slice(before).find((e) => e.event === 'planned') as { batches: number; fresh: number };
      expect({ target, planned: planned.batches, fresh: planned.fresh }).toEqual({ target, planned: r.fresh.length, fresh: r.fresh.length });
    }
  });

  it('with a context phase, the plan counts the context batches a build reads', async () => {
    const w = contextWorld(await World.create(WITH_CONTEXT, 0));
    await w.build();
    const before = w.events.length;
    const r = await w.build(['baskets#3']);
    const planned = w.events.slice(before).find((e) => e.event === 'planned') as { batches: number };
    expect(r.fresh.sort()).toEqual(['baskets#3', 'legos#1', 'legos#2', 'legos#3']);
    expect(planned.batches).toBe(4);
  });

  it('a failed batch is failed, not also stale; usage counts every attempt, priced or not', async () => {
    const w = await World.create([{ name: 'pairs' }], 60);
    w.agent = (req) => (req.batch === 2 ? { ok: false, failure: { kind: 'exit', code: 1, detail: 'no' } } : { ok: true, output: JSON.stringify(req.inputItems.map((it) => ({ id: it.id }))) });
    const r = await w.build();
    expect(r.usage.pairs!.attempts).toBe(2 + 3);
    const { analysis, decider } = await w.analysis();
    const s = await analysis.batch(decider.graph.phase('pairs'), 2);
    expect(s.kind === 'stale' && s.failure?.attempts).toBe(3);
  });

  it('no more processes run at once than -j, agents and validators alike, also for items: independent', async () => {
    const w = await World.create([{ name: 'pairs', items: 'independent', validate: () => [] }, { name: 'legos', validate: () => [] }], 200);
    w.jobs = 2;
    const r = await w.build();
    expect(r.failed).toEqual([]);
    let running = 0;
    let most = 0;
    const kinds = new Set<string>();
    for (const e of w.events) {
      if (e.event !== 'process') continue;
      kinds.add(e.what);
      running += e.state === 'start' ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(kinds).toEqual(new Set(['agent', 'validator']));
    expect(running).toBe(0);
    expect(most).toBe(2);
  });
});

describe('16, 17. config errors before anything runs', () => {
  let p: Project;
  beforeEach(async () => {
    p = await Project.create({ seeds: 3 });
  });
  afterEach(async () => {
    await p.remove();
  });

  async function load(yaml: string): Promise<Pipeline | string> {
    await p.write('pipeline.yaml', yaml);
    const r = await loadPipeline(p.dir);
    return r.ok ? r.value : formatUserError(r.error);
  }

  it('16. a phase reading its own output is named as such, not as "a later phase"', async () => {
    const msg = await load(TWO_PHASES().replace('    from: pairs', '    from: legos'));
    expect(msg).toContain('pipeline.yaml:14:11: phases[1].from: phase "legos" cannot read its own output');
    expect(msg).not.toContain('later');
  });

  it('4. an output that names a file the pipeline reads is a config error (file:line), whatever it is', async () => {
    const cases: Array<[string, string]> = [
      ['output: out/pairs.json', 'output: seeds.json'],
      ['output: out/pairs.json', 'output: prompts/legos.md'],
      ['output: out/legos.json', 'output: pipeline.yaml'],
    ];
    const msgs = [];
    for (const [from, to] of cases) msgs.push(await load(TWO_PHASES().replace(from, to)));
    expect(msgs[0]).toContain('pipeline.yaml:12:13: phases[0].output: seeds.json is read by this pipeline (seeds file, seeds); an output must be a file that only cf writes');
    expect(msgs[1]).toContain('phases[0].output: prompts/legos.md is read by this pipeline (intelligence file, phases[1].intelligence)');
    expect(msgs[2]).toContain('phases[1].output: pipeline.yaml is read by this pipeline');
  });

  it('17. an agent or validator whose program or script does not exist is found before anything runs', async () => {
    const check = async (yaml: string): Promise<string | null> => {
      const pipeline = await load(yaml);
      if (typeof pipeline === 'string') throw new Error(pipeline);
      const { unstartableCommand } = await import('../src/config/commandCheck.js');
      const e = unstartableCommand(pipeline, pipeline.phases);
      return e ? formatUserError(e) : null;
    };
    const FAKE = /command: \[node, "[^"]+"\]/;
    expect(await check(TWO_PHASES())).toBeNull();
    expect(await check(TWO_PHASES().replace(FAKE, 'command: [node, agent.js]'))).toContain(
      'pipeline.yaml:5:14: runners.fake.command: runner "fake": script agent.js does not exist',
    );
    expect(await check(TWO_PHASES().replace(FAKE, 'command: [nodee, agent.js]'))).toContain('runner "fake": program "nodee" is not found on PATH');
    expect(await check(TWO_PHASES().replace(FAKE, 'command: ./agent.sh'))).toContain('runner "fake": program ./agent.sh does not exist');
    await p.write('agent.sh', '#!/bin/sh\n');
    expect(await check(TWO_PHASES().replace(FAKE, 'command: ./agent.sh'))).toContain('program ./agent.sh is not executable');
    await chmod(p.file('agent.sh'), 0o755);
    expect(await check(TWO_PHASES().replace(FAKE, 'command: ./agent.sh'))).toBeNull();
    // Inline code and shell command lines are not taken for scripts.
    expect(await check(TWO_PHASES().replace(FAKE, `command: [node, -e, "require('fs')"]`))).toBeNull();
    expect(await check(TWO_PHASES().replace(FAKE, 'command: "cat prompt.md | node x.js"'))).toBeNull();
    // A validator: its own key.
    const validated = TWO_PHASES().replace('    output: out/legos.json', '    output: out/legos.json\n    validate: [python3, check.py]');
    expect(await check(validated)).toMatch(/pipeline.yaml:\d+:\d+: phases\[1\]\.validate: the validator of phase legos: script check.py does not exist/);
    await writeFile(path.join(p.dir, 'check.py'), '');
    expect(await check(validated)).toBeNull();
  });
});
