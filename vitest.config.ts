import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Vitest runs cores - 1 files at a time: one on a 2-core machine. The CLI tests wait on the processes
    // they start (agents, validators, timeouts, lock takeovers) as much as they compute: a file per core
    // keeps both cores busy (on 2 cores, the suite took 102 s one file at a time, 72 s two at a time).
    maxWorkers: Math.max(2, availableParallelism()),
    // A worker runs its files one after another without loading the modules again for each (about a
    // fifth of the suite's CPU time went to that). A test file therefore leaves the process as it found it:
    // environment variables set are restored, spies restored, servers closed (see api.test.ts).
    isolate: false,
  },
});
