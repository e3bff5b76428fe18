import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Project } from './helpers/project.js';
import { Lines, stopAll } from './helpers/watch.js';

// The parser itself is tested in memory (args.test.ts); this is the real process: exit codes, and that an
// option a command does not take changes nothing (cf clean -n and cf watch -n used to delete and build).
let p: Project | undefined;
let watch: ReturnType<Project['spawn']> | undefined;
afterEach(async () => {
  await stopAll([watch], p);
  watch = undefined;
});

describe('each command takes only its own options', () => {
  it('cf watch -n is refused and runs nothing; cf clean -n lists and deletes nothing; cf status -j is exit 2', async () => {
    p = await Project.create({ seeds: 30 });
    watch = p.spawn(['watch', '-n']);
    // Refused before a word on stdout (a cf that took -n would say it is watching, and keep going).
    expect(await new Lines(watch).next().catch(() => null)).toBeNull();
    const refused = await watch;
    expect(refused.exitCode).toBe(2);
    expect(String(refused.stderr)).toContain('hint: cf build -n shows what would run');
    expect(await p.takeRuns()).toEqual([]);
    expect(existsSync(p.file('.cf/records.log'))).toBe(false);

    expect((await p.cf(['build'])).code).toBe(0);
    await p.takeRuns();
    const before = await Promise.all(['out/pairs.json', 'out/legos.json', '.cf/records.log'].map((f) => p!.read(f)));
    const dry = await p.cf(['clean', '-n']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would remove out/pairs.json');
    expect(dry.stdout).toContain('would forget 2 batch records of pairs: pairs#1, pairs#2');
    expect(dry.stdout).toMatch(/cf: dry run: would remove 2 outputs, forget 4 batch records, delete 4 run directories and \d+ stored outputs; nothing was deleted/);
    expect(await Promise.all(['out/pairs.json', 'out/legos.json', '.cf/records.log'].map((f) => p!.read(f)))).toEqual(before);
    expect((await p.cf(['build'])).stdout).toContain('0 ran');
    expect(await p.takeRuns()).toEqual([]);

    const status = await p.cf(['status', '-j', '2']);
    expect(status.code).toBe(2);
    expect(status.stderr).toBe('cf: error: cf status takes no -j option (cf build, cf watch and cf worker do)\n  hint: cf help status lists its options');
    const help = await p.cf(['help', 'build']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('-n, --dry-run');
  });
});
