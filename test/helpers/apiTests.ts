import { afterEach, beforeEach } from 'vitest';
import { INTELLIGENCE } from './apiPipelines.js';
import { startFakeApi, type FakeApi } from './fakeApi.js';
import { Bench } from './workspace.js';

/** What an API runner test file works with: the test's fake API and Bench, and the environment it sets. */
export interface ApiTests {
  /** The fake API of the running test (a fresh one per test, closed after it). */
  readonly api: FakeApi;
  /** The test's Bench, removed after it. */
  bench: Bench | undefined;
  /** Sets (a value) or unsets (undefined) environment variables for the test: restored after it. */
  setEnv(vars: Record<string, string | undefined>): void;
  /** A Bench over `seeds` seeds with pipeline.yaml `yaml`, prompts/pairs.md the cached INTELLIGENCE, real runners. */
  project(yaml: string, seeds: number): Promise<Bench>;
}

/**
 * The API runner tests' setup, called once at a test file's top: a fake API per test (`setup` scripts it),
 * `env` set for every test; after each, the environment as it was (vitest runs files in one process:
 * isolate: false), the API closed and the Bench removed.
 */
export function useApiTests(o: { env?: Record<string, string>; setup?(api: FakeApi): void } = {}): ApiTests {
  let api: FakeApi | undefined;
  const saved = new Map<string, string | undefined>();
  const t: ApiTests = {
    get api(): FakeApi {
      if (!api) throw new Error('the fake API runs during a test only');
      return api;
    },
    bench: undefined,
    setEnv(vars) {
      for (const [k, v] of Object.entries(vars)) {
        if (!saved.has(k)) saved.set(k, process.env[k]);
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
    async project(yaml, seeds) {
      const b = await Bench.create({ seeds, pipeline: yaml });
      await b.write('prompts/pairs.md', INTELLIGENCE);
      b.realAgents = true;
      t.bench = b;
      return b;
    },
  };
  beforeEach(async () => {
    api = await startFakeApi();
    if (o.env) t.setEnv(o.env);
    o.setup?.(api);
  });
  afterEach(async () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    saved.clear();
    await api?.close();
    api = undefined;
    await t.bench?.remove();
    t.bench = undefined;
  });
  return t;
}
