import { afterEach, describe, expect, it } from 'vitest';
import { events, Project, seedsJson } from './helpers/project.js';
import { gate, Watch } from './helpers/watch.js';

// An input that changes between cf computing a batch's key and reading it for the run (an editor saving
// while cf works) is no fault of the batch: it is not built and nothing is recorded for it.
// Here pairs#1 is held open by the test while prompts/legos.md is edited; legos#1 then reads the new text.

let p: Project | undefined;
let w: Watch | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  w?.proc.kill('SIGKILL');
  await w?.proc.catch(() => undefined);
  await p?.remove();
  p = undefined;
  w = undefined;
});

const EDITED_LEGOS = '# Legos\nSplit each pair.\nSUFFIX-FOR S0005: (edited)\n';

async function heldProject(): Promise<{ env: Record<string, string>; arrived: () => Promise<{ target: string }>; release: (t: string) => void }> {
  p = await Project.create({ seeds: 20 });
  await p.write('seeds.json', seedsJson(20, (i) => (i === 5 ? 'gate me' : `seed number ${i}`)));
  const held = await gate(p.dir);
  cleanups.push(() => held.close());
  return { env: { FAKE_GATE_TEXT: 'gate me', FAKE_GATE_SOCKET: held.path, FAKE_ONLY_PHASE: 'pairs' }, arrived: () => held.arrived(), release: (t) => held.release(t) };
}

describe('an input edited while cf runs', () => {
  it('cf build: the batch that would read it is not built (not failed, nothing recorded), exit 1; the next build builds it', async () => {
    const { env, arrived, release } = await heldProject();
    const build = p!.spawn(['build'], env);
    expect((await arrived()).target).toBe('pairs#1');
    await p!.write('prompts/legos.md', EDITED_LEGOS);
    release('pairs#1');
    const r = await build;
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('legos#1 not built: prompts/legos.md changed while cf was running');
    expect(r.stdout).toContain('cf: not done: 1 ran, 0 fresh, 1 not built (input changed) in');
    expect(r.stdout).toContain('run cf build again');
    expect(r.stdout).not.toContain('FAILED');
    expect(await p!.read('.cf/records.log')).not.toContain('"t":"fail"');
    const again = await p!.cf(['build', '--json']);
    expect(again.code).toBe(0);
    expect(events(again.stdout).at(-1)).toMatchObject({ ran: ['legos#1'], failed: [], cancelled: [] });
    expect(await p!.read('out/legos.json')).toContain('legos(pairs(gate me))(edited)');
  });

  it('cf watch: the batch is cancelled (not failed) and built again with the new input', async () => {
    const { env, arrived, release } = await heldProject();
    // A debounce long enough that legos#1 reads the edit before the watcher acts on it.
    w = new Watch(p!.spawn(['watch', '--json'], { ...env, CF_WATCH_DEBOUNCE_MS: '3000' }));
    expect((await arrived()).target).toBe('pairs#1');
    await p!.write('prompts/legos.md', EDITED_LEGOS);
    release('pairs#1');
    const first = await w.rebuild();
    expect(first.events.find((e) => e.event === 'cancelled')).toMatchObject({ target: 'legos#1', because: 'prompts/legos.md changed while cf was running' });
    expect(first.events.filter((e) => e.event === 'failed')).toEqual([]);
    expect(first.summary).toMatchObject({ ran: ['pairs#1'], failed: [], cancelled: ['legos#1'] });
    const again = await w.rebuild();
    expect(again.changed).toEqual(['prompts/legos.md']);
    expect(again.ran).toEqual(['legos#1']);
    expect(await p!.read('out/legos.json')).toContain('legos(pairs(gate me))(edited)');
  });
});
