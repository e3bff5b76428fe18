import { cp, readdir, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localGc, remoteGc } from '../src/app/gc.js';
import { parseCommandLine } from '../src/cli/args.js';
import { loadInputs } from '../src/app/inputs.js';
import { remoteSettings } from '../src/app/remote.js';
import { describeStatus } from '../src/cli/format/statuses.js';
import type { BuildEvent } from '../src/events/types.js';
import { LocalStore } from '../src/store/localStore.js';
import type { RemoteBackend } from '../src/store/remote/backend.js';
import { kindOf, sha256 } from '../src/store/remote/names.js';
import { readShared, type SharedBatch } from '../src/store/remote/sharedRecords.js';
import type { RemoteCache } from '../src/store/sharedStore.js';
import { REPO, TWO_PHASES } from './helpers/project.js';
import { corrupt, directoryRemote, objects, S3Server } from './helpers/s3.js';
import { withTempDir } from './helpers/tempDir.js';
import { Bench, type Built } from './helpers/workspace.js';

/*
 * A shared cache: one team's checkouts, on other machines, each batch paid for once. The composed
 * Workspace in memory (Bench: the fake agent, the store and outputs in memory) over a real S3-protocol
 * server (s3rver on a loopback port) or a directory (a shared disk).
 */

/** pairs (a batch is one unit) → legos (items: independent: each item cached on its own); 12 seeds, 3 batches. */
const PIPELINE = TWO_PHASES('    items: independent\n').replace('batch_size: 20', 'batch_size: 4');
const ALL = ['legos#1', 'legos#2', 'legos#3', 'pairs#1', 'pairs#2', 'pairs#3'];
const OUTPUTS = ['out/pairs.json', 'out/legos.json'];

let server: S3Server;
beforeAll(async () => {
  server = await S3Server.start();
});
afterAll(async () => {
  await server.remove();
});

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

/** A checkout of the course (its own temporary directory, so its own path) using this shared cache. */
async function checkout(remote: RemoteCache | null): Promise<Bench> {
  const b = await Bench.create({ pipeline: PIPELINE, seeds: 12 });
  b.remote = remote;
  cleanup.push(() => b.remove());
  return b;
}

let prefixes = 0;
/** A shared cache of its own: a prefix of the bucket, or a directory. */
async function sharedCache(kind: 's3' | 'directory', mode: RemoteCache['mode'] = 'read-write'): Promise<RemoteCache> {
  if (kind === 's3') return { backend: await server.backend(`course-${++prefixes}/`), mode };
  const d = await directoryRemote();
  cleanup.push(d.remove);
  return { backend: d.backend, mode };
}

const of = <E extends BuildEvent['event']>(r: Built, event: E): Array<Extract<BuildEvent, { event: E }>> =>
  r.events.filter((e): e is Extract<BuildEvent, { event: E }> => e.event === event);

/** The items an agent was given in a build's runs of a phase. */
const given = (r: Built, phase: string): string[] => r.runs.filter((x) => x.phase === phase).flatMap((x) => x.ids);

/** The shared record of a batch target (found by reading every batch record). */
async function recordOf(b: RemoteBackend, target: string): Promise<{ name: string; record: SharedBatch }> {
  for (const name of (await objects(b)).batch) {
    const sha = name.slice(name.lastIndexOf('/') + 1, -'.json'.length);
    const r = readShared((await b.get(name))!, 'batch', sha);
    if (typeof r !== 'string' && r.t === 'batch' && r.target === target) return { name, record: r };
  }
  throw new Error(`no shared record of ${target}`);
}
const blobName = (sha: string): string => `cf/v1/blob/${sha.slice(0, 2)}/${sha}.json`;

describe.each(['s3', 'directory'] as const)('a shared cache (%s)', (kind) => {
  it('two checkouts at different paths: B runs no agent and writes the same bytes; a seed edited in B runs only its batches (one item) there, and none in A', async () => {
    const cache = await sharedCache(kind);
    const [a, b] = [await checkout(cache), await checkout(cache)];
    expect(a.dir).not.toBe(b.dir);

    const first = await a.build();
    expect(first.ran).toEqual(ALL);
    expect(of(first, 'remote-published')).toEqual([expect.objectContaining({ batches: 6, items: 12 })]);

    const second = await b.build();
    expect(second.runs).toEqual([]);
    expect(second.exitCode).toBe(0);
    expect(second.summary.remote?.slice().sort()).toEqual(ALL);
    expect(of(second, 'fresh')[0]!.why).toMatchObject({ kind: 'remote', host: hostname(), taken: true });
    for (const out of OUTPUTS) expect(b.output(out)).toBe(a.output(out));
    expect(of(second, 'remote-published')).toEqual([]);
    // Recorded as built when A built it (a merged output's time is its newest batch's: the same in both).
    expect(b.store.lastSuccess('pairs#1' as never)).toMatchObject({ at: a.store.lastSuccess('pairs#1' as never)!.at, remote: { host: hostname() } });

    // Edited in B: its batches run there, and of legos#2 only the edited seed's item (the others are taken).
    await b.editSeed('S0006', 'edited on the second machine');
    const edited = await b.build();
    expect(edited.ran).toEqual(['legos#2', 'pairs#2']);
    expect(given(edited, 'legos')).toEqual(['S0006']);
    expect(of(edited, 'remote-published')).toEqual([expect.objectContaining({ batches: 2, items: 1 })]);

    // A, given the same edit, finds both in the shared cache.
    await a.editSeed('S0006', 'edited on the second machine');
    const pulled = await a.build();
    expect(pulled.runs).toEqual([]);
    expect(pulled.summary.remote?.slice().sort()).toEqual(['legos#2', 'pairs#2']);
    for (const out of OUTPUTS) expect(a.output(out)).toBe(b.output(out));

    // Where a fresh batch came from (cf explain, cf status), as a later command finds it.
    const [pairs1] = await b.explain(['pairs#1']);
    expect(pairs1!.kind === 'batch' && describeStatus(pairs1!.status)).toMatch(new RegExp(`^fresh: from the remote cache, built \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z by ${hostname()}$`));
    expect((await b.status()).phases.map((p) => [p.phase, p.remote])).toEqual([
      ['pairs', 2],
      ['legos', 2],
    ]);
    if (kind === 'directory') expect((await objects(cache.backend)).other).toEqual([]);
  });

  it('two checkouts building the same course at the same time: no corrupt object, the same outputs, a third takes everything', async () => {
    const cache = await sharedCache(kind);
    const [a, b, c] = [await checkout(cache), await checkout(cache), await checkout(cache)];
    const [ra, rb] = await Promise.all([a.build(), b.build()]);
    expect([ra.exitCode, rb.exitCode]).toEqual([0, 0]);
    expect(await corrupt(cache.backend)).toEqual([]);
    const held = await objects(cache.backend);
    expect([held.batch.length, held.item.length, held.other]).toEqual([6, 12, []]);
    for (const out of OUTPUTS) expect(b.output(out)).toBe(a.output(out));
    const third = await c.build();
    expect(third.runs).toEqual([]);
    for (const out of OUTPUTS) expect(c.output(out)).toBe(a.output(out));
  });
});

describe('a shared cache that is damaged, down, or may not be written', () => {
  it('an output altered in the bucket is found by its hash: that batch runs here, a warning names it; one missing too; the next checkout takes the repaired ones', async () => {
    const cache = await sharedCache('s3');
    const a = await checkout(cache);
    await a.build();
    const pairs2 = await recordOf(cache.backend, 'pairs#2');
    const text = (await cache.backend.get(blobName(pairs2.record.out.sha256)))!;
    await cache.backend.put(blobName(pairs2.record.out.sha256), text.replace('seed number 6', 'seed number 9'));
    const pairs3 = await recordOf(cache.backend, 'pairs#3');
    await cache.backend.delete([blobName(pairs3.record.out.sha256)]);

    const b = await checkout(cache);
    const r = await b.build();
    expect(r.exitCode).toBe(0);
    expect(r.ran).toEqual(['pairs#2', 'pairs#3']);
    expect(of(r, 'remote-damaged').map((e) => [e.target, e.reason])).toEqual([
      ['pairs#2', expect.stringContaining('does not match its hash')],
      ['pairs#3', expect.stringContaining('missing')],
    ]);
    for (const out of OUTPUTS) expect(b.output(out)).toBe(a.output(out));
    // B published them again: the shared cache is whole once more.
    expect(await corrupt(cache.backend)).toEqual([]);
    expect((await (await checkout(cache)).build()).runs).toEqual([]);
  });

  it('the remote stops mid-build: the build finishes locally with one warning; nothing half-uploaded is taken, and the next checkouts build the same bytes', async () => {
    const cache = await sharedCache('s3');
    // The real S3 backend, telling the test when it has stored a batch's record.
    let recorded!: () => void;
    const stored = new Promise<void>((resolve) => (recorded = resolve));
    const inner = cache.backend;
    const told: RemoteBackend = {
      where: inner.where,
      get: (n) => inner.get(n),
      put: async (n, t) => {
        await inner.put(n, t);
        if (kindOf(n) === 'batch') recorded();
      },
      list: (p) => inner.list(p),
      delete: (n) => inner.delete(n),
      close: () => undefined,
    };
    const a = await checkout({ backend: told, mode: 'read-write' });
    a.knobs = { gateText: 'seed number 9', onlyPhase: 'pairs' }; // pairs#3 waits for the test
    const build = a.build();
    const held = await a.gated.next();
    await stored;
    await server.stop();
    a.knobs = {};
    a.release(held.target);
    const r = await build.finally(() => server.run());
    expect(r.exitCode).toBe(0);
    expect(r.ran).toEqual(ALL);
    expect(of(r, 'remote-unavailable')).toEqual([expect.objectContaining({ remote: inner.where, reason: expect.stringMatching(/ECONNREFUSED|socket|connect/i) })]);

    // Back up. s3rver (unlike S3) keeps what a PUT cut off by the stop had sent: half an object, exactly what
    // must never be taken. A checkout takes what is whole and builds the rest, to the same bytes.
    const held2 = await objects(inner);
    expect(held2.batch.length).toBeGreaterThan(0);
    expect(held2.batch.length).toBeLessThan(6);
    const c = await checkout(cache);
    const after = await c.build();
    expect(after.exitCode).toBe(0);
    expect(after.ran.length).toBe(6 - (after.summary.remote?.length ?? 0));
    expect(after.ran).toContain('pairs#3');
    for (const out of OUTPUTS) expect(c.output(out)).toBe(a.output(out));
    // What it rebuilt, it published again (over any half-written record): the next checkout runs nothing.
    const d = await checkout(cache);
    expect((await d.build()).runs).toEqual([]);
    for (const out of OUTPUTS) expect(d.output(out)).toBe(a.output(out));
  });

  it('a record is published only after its output: a remote refusing outputs gets no record, and the build says why once', async () => {
    const cache = await sharedCache('s3');
    const inner = cache.backend;
    const refusing: RemoteBackend = {
      where: inner.where,
      get: (n) => inner.get(n),
      put: (n, t) => (kindOf(n) === 'blob' ? Promise.reject(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' })) : inner.put(n, t)),
      list: (p) => inner.list(p),
      delete: (n) => inner.delete(n),
      close: () => undefined,
    };
    const r = await (await checkout({ backend: refusing, mode: 'read-write' })).build();
    expect(r.exitCode).toBe(0);
    expect(of(r, 'remote-unavailable')).toEqual([expect.objectContaining({ op: 'publish', reason: 'AccessDenied: Access Denied' })]);
    expect(await objects(inner)).toEqual({ batch: [], item: [], blob: [], other: [] });
  });

  it('mode: read takes from the shared cache and writes nothing to it', async () => {
    const cache = await sharedCache('s3');
    await (await checkout(cache)).build();
    const before = await objects(cache.backend);
    const ci = await checkout({ backend: cache.backend, mode: 'read' });
    await ci.editSeed('S0006', 'edited on CI');
    const r = await ci.build();
    expect(r.ran).toEqual(['legos#2', 'pairs#2']);
    expect(r.summary.remote?.slice().sort()).toEqual(['legos#1', 'legos#3', 'pairs#1', 'pairs#3']);
    expect(of(r, 'remote-published')).toEqual([]);
    expect(await objects(cache.backend)).toEqual(before);
  });
});

describe('cf gc', () => {
  it("alone: this checkout's stored outputs no record refers to (dry: counted, kept)", async () => {
    const a = await checkout(null);
    await a.build();
    await a.store.blobs.put('["no record refers to this"]');
    const ws = await a.open();
    expect(await localGc(ws, { dryRun: true, onWait: () => undefined })).toBe(1);
    expect(await localGc(ws, { dryRun: false, onWait: () => undefined })).toBe(1);
    expect(await localGc(ws, { dryRun: false, onWait: () => undefined })).toBe(0);
    expect((await a.build()).runs).toEqual([]);
  });

  it('cf clean deletes none of them; gc deletes the objects not written for the given age, records first; -n deletes nothing', async () => {
    const d = await directoryRemote();
    cleanup.push(d.remove);
    const a = await checkout({ backend: d.backend, mode: 'read-write' });
    await a.build();
    const all = await objects(d.backend);
    // cf clean forgets this checkout's records and deletes its stored outputs: the shared cache keeps its own.
    expect((await a.clean()).storedOutputs).toBeGreaterThan(0);
    expect(await objects(d.backend)).toEqual(all);
    // pairs' objects written 40 days ago; legos' today.
    const pairs = new Set([(await recordOf(d.backend, 'pairs#1')).record.out.sha256]);
    const old = new Date(Date.now() - 40 * 86_400_000);
    for (const name of all.batch) {
      const sha = name.slice(name.lastIndexOf('/') + 1, -'.json'.length);
      const r = readShared((await d.backend.get(name))!, 'batch', sha) as SharedBatch;
      if (!r.target.startsWith('pairs#')) continue;
      pairs.add(r.out.sha256);
      for (const f of [name, blobName(r.out.sha256)]) await utimes(path.join(d.dir, f), old, old);
    }
    const ws = await a.open();
    const o = { olderThanMs: 30 * 86_400_000, override: d.dir, now: new Date() };
    const dry = await remoteGc(ws, { ...o, dryRun: true });
    expect(dry).toEqual({ ok: true, value: { remote: d.dir, dryRun: true, deleted: { batch: 3, item: 0, blob: 3, other: 0 }, kept: all.batch.length + all.item.length + all.blob.length - 6 } });
    expect(await objects(d.backend)).toEqual(all);
    expect((await remoteGc(ws, { ...o, dryRun: false })).ok).toBe(true);
    const left = await objects(d.backend);
    expect(left.batch.length).toBe(3);
    expect(left.blob.map((n) => n.slice(n.lastIndexOf('/') + 1, -5)).filter((s) => pairs.has(s))).toEqual([]);
    // The pairs run again (and are published again); the legos are taken.
    const b = await checkout({ backend: d.backend, mode: 'read-write' });
    expect((await b.build()).ran).toEqual(['pairs#1', 'pairs#2', 'pairs#3']);
    expect((await readdir(path.join(d.dir, 'cf', 'v1'))).sort()).toEqual(['batch', 'blob', 'item']);
  });

  it('over S3: lists and deletes by last-modified', async () => {
    const cache = await sharedCache('s3');
    const a = await checkout(cache);
    await a.build();
    const ws = await a.open();
    const override = `s3://course-cache/${cache.backend.where.split('/')[3]}`;
    const env = { AWS_ENDPOINT_URL_S3: server.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const kept = await remoteGc(ws, { olderThanMs: 86_400_000, dryRun: false, override, now: new Date() });
      expect(kept.ok && kept.value).toMatchObject({ deleted: { batch: 0, item: 0, blob: 0, other: 0 }, kept: 6 + 12 + 6 });
      const later = await remoteGc(ws, { olderThanMs: 86_400_000, dryRun: false, override, now: new Date(Date.now() + 2 * 86_400_000) });
      expect(later.ok && later.value).toMatchObject({ deleted: { batch: 6, item: 12, blob: 6, other: 0 }, kept: 0 });
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    expect(await objects(cache.backend)).toEqual({ batch: [], item: [], blob: [], other: [] });
  });
});

describe('keys a shared cache can hold', () => {
  it('the example course at two paths: the same shared names (SHA-256 of the key material), which holds no path of the checkout', async () => {
    const names = async (dir: string): Promise<string[]> => {
      const inputs = await loadInputs(dir);
      if (!inputs.ok) throw new Error(JSON.stringify(inputs.error));
      const d = inputs.value.decider(LocalStore.memory());
      return d.graph.phases.map((p) => {
        const material = d.keyMaterial(p, d.seedRefs(1))();
        expect(material).not.toContain(dir);
        return sha256(material);
      });
    };
    await withTempDir('here', (here) =>
      withTempDir('elsewhere', async (other) => {
        const dirs = [here, path.join(other, 'a', 'longer', 'path')];
        for (const dir of dirs) {
          await cp(path.join(REPO, 'pipeline.yaml'), path.join(dir, 'pipeline.yaml'));
          for (const sub of ['seeds', 'agent', 'intelligence']) await cp(path.join(REPO, 'vfs', sub), path.join(dir, 'vfs', sub), { recursive: true });
        }
        const [a, b] = [await names(dirs[0]!), await names(dirs[1]!)];
        expect(a).toHaveLength(3);
        expect(b).toEqual(a);
        expect(new Set(a).size).toBe(3);
      }),
    );
  });
});

describe('which shared cache a run uses', () => {
  const base = async (cache: string): Promise<Bench> => {
    const b = await Bench.create({ pipeline: `${TWO_PHASES()}cache:\n${cache}` });
    cleanup.push(() => b.remove());
    return b;
  };

  it("pipeline.yaml's cache:, overridden by --remote-cache, CF_REMOTE_CACHE, --no-remote-cache and CF_REMOTE_CACHE_MODE", async () => {
    const b = await base('  remote: s3://course-cache/spa\n  endpoint: http://127.0.0.1:9000\n  region: eu-west-1\n  mode: read\n');
    const p = (await b.open()).pipeline;
    expect(remoteSettings(p, null, {})).toEqual({ ok: true, value: { url: 's3://course-cache/spa', location: { kind: 's3', bucket: 'course-cache', prefix: 'spa/' }, endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', mode: 'read' } });
    expect(remoteSettings(p, '/mnt/shared/cf', { CF_REMOTE_CACHE: 's3://other/x' })).toMatchObject({ ok: true, value: { location: { kind: 'dir', path: '/mnt/shared/cf' } } });
    expect(remoteSettings(p, null, { CF_REMOTE_CACHE: 'file:///mnt/x' })).toMatchObject({ ok: true, value: { location: { kind: 'dir', path: '/mnt/x' }, mode: 'read' } });
    expect(remoteSettings(p, null, { CF_REMOTE_CACHE_MODE: 'read-write' })).toMatchObject({ ok: true, value: { mode: 'read-write' } });
    expect(remoteSettings(p, false, {})).toEqual({ ok: true, value: null });
    expect(remoteSettings(p, null, { CF_REMOTE_CACHE: 'off' })).toEqual({ ok: true, value: null });
    expect(remoteSettings(p, 'gs://x/y', {})).toMatchObject({ ok: false, error: { kind: 'usage', message: expect.stringContaining('--remote-cache: a remote cache is s3://BUCKET/PREFIX') } });
    expect(remoteSettings(p, null, { CF_REMOTE_CACHE_MODE: 'write' })).toMatchObject({ ok: false, error: { message: expect.stringContaining('CF_REMOTE_CACHE_MODE') } });
  });

  it('the command line: --remote-cache URL (its form checked), --no-remote-cache; cf gc --remote wants an age', () => {
    const opts = (argv: string[]): unknown => {
      const p = parseCommandLine(argv);
      return p.kind === 'run' ? p.run.opts : p.kind === 'error' ? p.error.message : p;
    };
    expect(opts(['build', '--remote-cache', 's3://course-cache/x'])).toMatchObject({ remoteCache: 's3://course-cache/x' });
    expect(opts(['watch', '--no-remote-cache'])).toMatchObject({ remoteCache: false });
    expect(opts(['build'])).not.toHaveProperty('remoteCache');
    expect(opts(['build', '--remote-cache', 'ftp://x'])).toContain('--remote-cache: a remote cache is');
    expect(opts(['gc', '--remote', '--older-than', '2w'])).toMatchObject({ remote: true, olderThanMs: 14 * 86_400_000 });
    expect(opts(['gc', '--remote', '--older-than', 'soon'])).toContain('--older-than wants an age');
    expect(opts(['status', '--remote-cache', 'x'])).toContain('cf status takes no --remote-cache option');
  });

  it('credentials in pipeline.yaml are refused where they are written, and say where credentials come from', async () => {
    const b = await base('  remote: s3://course-cache/spa\n  secret_access_key: abc123abc123\n');
    const r = await b.tryOpen();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ kind: 'config', line: 20, path: 'cache.secret_access_key', message: expect.stringContaining('credentials never go in pipeline.yaml'), hint: expect.stringContaining('AWS_ACCESS_KEY_ID') });
    const bad = await (await base('  remote: http://user:pw@example.org/x\n')).tryOpen();
    expect(!bad.ok && bad.error).toMatchObject({ path: 'cache.remote', message: expect.stringContaining('not http://') });
  });
});
