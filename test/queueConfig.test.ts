import { describe, expect, it } from 'vitest';
import { queueLocation } from '../src/config/queueConfig.js';

/* Which queue a command (cf build, cf worker, cf status) uses: src/config/queueConfig.ts, no Redis needed. */

describe('which queue a command uses (--queue, CF_QUEUE, pipeline.yaml)', () => {
  const url = (override: string | false | null, env: NodeJS.ProcessEnv, fromPipeline: string | null = 'redis://from-yaml:6379'): string | null => {
    const r = queueLocation(override, fromPipeline, env);
    if (!r.ok) throw new Error(r.error.message);
    return r.value?.url ?? null;
  };

  it('the command line first, then CF_QUEUE, then pipeline.yaml; --no-queue or CF_QUEUE=off: none', () => {
    expect(url(null, {})).toBe('redis://from-yaml:6379');
    expect(url(null, {}, null)).toBeNull();
    expect(url(null, { CF_QUEUE: 'redis://from-env:7000/2' })).toBe('redis://from-env:7000/2');
    // An empty CF_QUEUE says nothing (pipeline.yaml's holds).
    expect(url(null, { CF_QUEUE: '  ' })).toBe('redis://from-yaml:6379');
    expect(url('redis://from-flag:7001', { CF_QUEUE: 'redis://from-env:7000' })).toBe('redis://from-flag:7001');
    expect(url(false, { CF_QUEUE: 'redis://from-env:7000' })).toBeNull();
    expect(url(null, { CF_QUEUE: 'off' })).toBeNull();
    // --queue URL still beats CF_QUEUE=off (the command line first).
    expect(url('redis://from-flag:7001', { CF_QUEUE: 'off' })).toBe('redis://from-flag:7001');
  });

  it('a bad URL names where it came from; one with a password is refused (CF_QUEUE_PASSWORD instead)', () => {
    const error = (override: string | null, env: NodeJS.ProcessEnv, fromPipeline: string | null = null): string => {
      const r = queueLocation(override, fromPipeline, env, 'project/pipeline.yaml');
      if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
      expect(r.error.kind).toBe('usage');
      return r.error.message;
    };
    expect(error(null, { CF_QUEUE: 'http://x' })).toMatch(/^CF_QUEUE: "http:\/\/x" is not a Redis URL/);
    expect(error(null, {}, 'redis://h:1/x')).toMatch(/^project\/pipeline.yaml: queue: "\/x" is not a database number/);
    // The command line's URL is the one read, not pipeline.yaml's good one.
    expect(error('redis://:secret@h:1', {}, 'redis://h:1')).toMatch(/^--queue: a queue URL holds no user or password.*CF_QUEUE_PASSWORD/);
  });
});
