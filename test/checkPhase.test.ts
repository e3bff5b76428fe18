import { afterEach, describe, expect, it } from 'vitest';
import { checkPhaseFile } from '../src/app/checkPhase.js';
import type { Item } from '../src/config/seeds.js';
import { TWO_PHASES } from './helpers/project.js';
import { Bench } from './helpers/workspace.js';

/*
 * cf check FILE --phase NAME (the Workspace, in memory): any phase's output checked batch by batch as a
 * build checks an agent's answer (every input id once, the phase's schema, its validator), nothing recorded.
 */

const SCHEMA = '    schema: {type: object, properties: {id: {type: string}, text: {type: string, pattern: "^legos"}}, required: [id, text]}\n';
const benches: Bench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.remove();
});

async function bench(): Promise<Bench> {
  const b = await Bench.create({ seeds: 60, pipeline: TWO_PHASES(SCHEMA) });
  benches.push(b);
  return b;
}

const items = (text: string | null): Item[] => JSON.parse(text!) as Item[];

describe('cf check --phase', () => {
  it("checks each batch of the file with the phase's schema and the built-in checks; items of no seed are named; nothing is recorded", async () => {
    const b = await bench();
    await b.build();
    const ws = await b.open();
    const legos = ws.pipeline.phases[1]!;
    expect(await checkPhaseFile(ws, legos, items(b.output('out/legos.json')))).toEqual({
      phase: 'legos',
      batches: [1, 2, 3].map((n) => ({ target: `legos#${n}`, kind: 'valid', items: 20, warnings: [] })),
      unknownIds: [],
    });
    const status = await b.status();
    const edited = items(b.output('out/legos.json'))
      .map((it) => (it.id === 'S0002' ? { ...it, text: 'nope' } : it))
      .filter((it) => it.id !== 'S0025')
      .concat([{ id: 'S0999', text: 'legos(x)' }]);
    const report = await checkPhaseFile(ws, legos, edited);
    expect(report.unknownIds).toEqual(['S0999']);
    expect(report.batches.map((x) => x.kind)).toEqual(['invalid', 'invalid', 'valid']);
    expect(report.batches[0]).toMatchObject({ kind: 'invalid', errors: [{ item: 'S0002', message: '/text: must match ^legos, not "nope"' }] });
    expect(report.batches[1]).toMatchObject({ kind: 'invalid', items: 19, errors: [{ source: 'output', message: expect.stringContaining('S0025') }] });
    expect(await b.status()).toEqual(status);
  });

  it("runs the phase's validator; a batch whose input is not built is not checked, and says what to build", async () => {
    const b = await bench();
    b.validators.set('pairs', (its) => its.filter((it) => String(it.text).includes('BAD')).map((it) => ({ item: String(it.id), message: 'says BAD' })));
    const ws = await b.open();
    const pairs = Array.from({ length: 60 }, (_, i) => ({ id: `S${String(i + 1).padStart(4, '0')}`, text: i === 41 ? 'BAD' : 'fine' }));
    const report = await checkPhaseFile(ws, ws.pipeline.phases[0]!, pairs);
    expect(report.batches.map((x) => x.kind)).toEqual(['valid', 'valid', 'invalid']);
    expect(report.batches[2]).toMatchObject({ errors: [{ item: 'S0042', message: 'says BAD', source: 'validator' }] });
    const legos = await checkPhaseFile(ws, ws.pipeline.phases[1]!, []);
    expect(legos.batches[0]).toEqual({ target: 'legos#1', kind: 'not-checked', reason: 'its input pairs#1 is not built (cf build pairs)' });
  });
});
