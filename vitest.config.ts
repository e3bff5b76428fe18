import { availableParallelism } from 'node:os';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The longest files start first, so that none starts last and runs on alone: by their last duration when
 * vitest's cache has it (as vitest's own order), and otherwise (a fresh checkout, CI) by their kind: the
 * tests of a real program beside cf (*.real.*: the Claude Code CLI) and of a browser (*.browser.*), then
 * the tests of the real CLI (*.cli.*), then the in-memory ones, largest first.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const cache = this.ctx.cache;
    const known = (f: TestSpecification) => cache.getFileTestResults(`${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`);
    if (sorted.every(known)) return sorted;
    const kind = (f: TestSpecification) => (/\.(real|browser)\.[^/]*$/.test(f.moduleId) ? 0 : /\.cli\.[^/]*$/.test(f.moduleId) ? 1 : 2);
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => kind(a.f) - kind(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Vitest runs cores - 1 files at a time: one on a 2-core machine. The CLI tests wait on the processes
    // they start (agents, validators, timeouts, lock takeovers) as much as they compute: a file per core
    // keeps both cores busy (on 2 cores, the suite took 102 s one file at a time, 72 s two at a time).
    maxWorkers: Math.max(2, availableParallelism()),
    sequence: { sequencer: LongestFirst },
    // A worker runs its files one after another without loading the modules again for each (about a
    // fifth of the suite's CPU time went to that). A test file therefore leaves the process as it found it:
    // environment variables set are restored, spies restored, servers closed (see api.test.ts).
    isolate: false,
    // The suite starts some 350 node processes (cf, fake agents, validators) and makes no TLS connection
    // (everything is loopback http). A NODE_EXTRA_CA_CERTS in the environment (some CI images and sandboxes
    // set it to the system bundle) makes every one of them parse that bundle at start: about 55 ms of CPU
    // each on a 2-core machine, 20 s over the suite. Empty, node ignores it.
    env: { NODE_EXTRA_CA_CERTS: '' },
  },
});
