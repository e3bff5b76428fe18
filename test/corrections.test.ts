import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { correct, correctionStates, dropCorrections, keepCorrections } from '../src/app/corrections.js';
import { parseCorrections } from '../src/config/corrections.js';
import { applyCorrection } from '../src/engine/corrections.js';
import { hashCanonical } from '../src/util/hash.js';
import { Bench } from './helpers/workspace.js';

/*
 * Corrections (corrections/PHASE.jsonl): made by a reviewer (cf correct, the dashboard) or by editing a
 * merged output by hand; checked by the phase's validation; applied at the merge and to what reads the
 * item downstream; kept when the item is generated again, and flagged until kept or dropped.
 */

let bench: Bench | undefined;
afterEach(async () => {
  await bench?.remove();
  bench = undefined;
});

type Pair = { id: string; text: string };
const item = (b: Bench, file: string, id: string): Pair => (JSON.parse(b.output(file)!) as Pair[]).find((x) => x.id === id)!;

describe('corrections of generated items (the Workspace, in memory)', () => {
  it('a correction reruns what reads the item; it survives regeneration (flagged), is kept, then dropped', async () => {
    const b = (bench = await Bench.create({ seeds: 60 }));
    await b.build();
    const ws = await b.open();
    const saved = await correct(ws, { phase: 'pairs', id: 'S0025', change: { pointer: '/text', value: 'pairs(reviewed)' }, author: 'ana' });
    expect(saved).toMatchObject({ kind: 'saved', target: 'pairs#2', file: 'corrections/pairs.jsonl' });
    const lines = parseCorrections(await b.read('corrections/pairs.jsonl'), 'corrections/pairs.jsonl');
    expect(lines.ok && lines.value).toEqual([
      { id: 'S0025', pointer: '/text', value: 'pairs(reviewed)', base: hashCanonical({ id: 'S0025', text: 'pairs(seed number 25)' }), author: 'ana', at: expect.any(String) },
    ]);

    // Applied at the merge and downstream: the batch that reads the item runs, nothing else.
    const applied = await b.build();
    expect(applied.ran).toEqual(['legos#2']);
    expect(item(b, 'out/pairs.json', 'S0025').text).toBe('pairs(reviewed)');
    expect(item(b, 'out/legos.json', 'S0025').text).toBe('legos(pairs(reviewed))');
    expect((await correctionStates(await b.open())).map((c) => c.state)).toEqual(['current']);

    // The intelligence edited: pairs is generated again (S0025 differently); the correction still applies,
    // so what reads it does not run again, and it is flagged as made against an older generation.
    await b.write('prompts/pairs.md', '# Pairs\nTranslate each seed.\nSUFFIX-FOR S0025: (v2)\n');
    const regenerated = await b.build();
    expect(regenerated.ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(item(b, 'out/pairs.json', 'S0025').text).toBe('pairs(reviewed)');
    expect(item(b, 'out/legos.json', 'S0025').text).toBe('legos(pairs(reviewed))');
    const flagged = await correctionStates(await b.open());
    expect(flagged).toMatchObject([{ phase: 'pairs', id: 'S0025', target: 'pairs#2', state: 'older' }]);

    // Kept: re-based on the new generation (checked again); nothing to build.
    expect(await keepCorrections(await b.open(), { phase: 'pairs', id: 'S0025' })).toMatchObject({ kind: 'saved' });
    expect((await correctionStates(await b.open())).map((c) => c.state)).toEqual(['current']);
    expect((await b.build()).ran).toEqual([]);

    // Dropped: the item is shown as generated, and what reads it runs again.
    expect(await dropCorrections(await b.open(), { phase: 'pairs', id: 'S0025' })).toEqual({ dropped: 1, file: 'corrections/pairs.jsonl' });
    const dropped = await b.build();
    expect(dropped.ran).toEqual(['legos#2']);
    expect(item(b, 'out/pairs.json', 'S0025').text).toBe('pairs(seed number 25)(v2)');
    expect(item(b, 'out/legos.json', 'S0025').text).toBe('legos(pairs(seed number 25)(v2))');
  });

  it("a correction that fails the phase's validation is refused with its errors, and nothing is saved", async () => {
    const b = (bench = await Bench.create({ seeds: 40 }));
    b.validators.set('pairs', (items) => items.filter((it) => String(it.text).includes('BAD')).map((it) => ({ item: String(it.id), message: 'says BAD' })));
    await b.build();
    const r = await correct(await b.open(), { phase: 'pairs', id: 'S0005', change: { set: { id: 'S0005', text: 'BAD' } } });
    expect(r).toEqual({ kind: 'invalid', target: 'pairs#1', errors: [{ attempt: 0, source: 'validator', item: 'S0005', message: 'says BAD' }] });
    await expect(readFile(b.file('corrections/pairs.jsonl'))).rejects.toThrow(/ENOENT/);
    // A pointer that names no place in the item, an unknown item or phase: refused as usage errors.
    expect(await correct(await b.open(), { phase: 'pairs', id: 'S0005', change: { pointer: '/no/such', value: 1 } })).toMatchObject({ kind: 'error', error: { message: '/no/such names no place in S0005 (its parent does not exist)' } });
    expect(await correct(await b.open(), { phase: 'pairs', id: 'S9999', change: { set: {} } })).toMatchObject({ kind: 'error', error: { message: expect.stringContaining('no item "S9999"') } });
    expect(await correct(await b.open(), { phase: 'pair', id: 'S0005', change: { set: {} } })).toMatchObject({ kind: 'error', error: { message: 'no phase "pair" (did you mean "pairs"?)' } });
    expect((await b.build()).ran).toEqual([]);
  });

  it('a merged output edited by hand becomes corrections: they survive regeneration, where the edit was lost before', async () => {
    const b = (bench = await Bench.create({ seeds: 60 }));
    await b.build();
    const pairs = JSON.parse(b.output('out/pairs.json')!) as Pair[];
    pairs[24]!.text = 'pairs(hand-fixed)';
    await b.editOutput('out/pairs.json', JSON.stringify(pairs));
    const taken = await b.build();
    expect(taken.events.find((e) => e.event === 'edit-taken')).toMatchObject({ targets: ['pairs#2'], corrections: 'corrections/pairs.jsonl' });
    expect(taken.ran).toEqual(['legos#2']);
    expect(await b.read('corrections/pairs.jsonl')).toContain('"set":{"id":"S0025","text":"pairs(hand-fixed)"}');

    await b.write('prompts/pairs.md', '# Pairs\nTranslate each seed.\nSUFFIX-FOR S0025: (v2)\n');
    const regenerated = await b.build();
    expect(regenerated.ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect(item(b, 'out/pairs.json', 'S0025').text).toBe('pairs(hand-fixed)');
    expect(item(b, 'out/legos.json', 'S0025').text).toBe('legos(pairs(hand-fixed))');
  });

  it('a pointer correction changes one place of the item, never the item it was given', () => {
    const generated = { id: 'S0001', legos: [{ lego: { known: 'I', target: 'yo' } }] };
    expect(applyCorrection(generated, { id: 'S0001', pointer: '/legos/0/lego/target', value: 'Yo', base: '', author: '', at: '' })).toEqual({ id: 'S0001', legos: [{ lego: { known: 'I', target: 'Yo' } }] });
    expect(applyCorrection(generated, { id: 'S0001', pointer: '/legos/3/lego', value: 1, base: '', author: '', at: '' })).toBeNull();
    expect(applyCorrection(generated, { id: 'S0001', pointer: '/a~1b', value: 1, base: '', author: '', at: '' })).toEqual({ ...generated, 'a/b': 1 });
    expect(generated.legos[0]!.lego.target).toBe('yo');
  });
});
