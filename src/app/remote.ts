import { homedir, hostname } from 'node:os';
import { endpointError, parseRemoteLocation, REMOTE_FORMS, type RemoteLocation } from '../config/cacheConfig.js';
import type { Pipeline } from '../config/pipeline.js';
import type { BuildEvent } from '../events/types.js';
import type { OpenedStore } from '../store/buildStore.js';
import type { RemoteBackend } from '../store/remote/backend.js';
import { DirectoryBackend } from '../store/remote/directory.js';
import { SharedStore, type RemoteCache } from '../store/sharedStore.js';
import type { UserError } from '../util/errors.js';
import { err, ok, type Result } from '../util/result.js';
import { CF_VERSION } from '../version.js';

/*
 * Which shared cache a command uses, and opening it. pipeline.yaml's `cache:` says it for everyone; one
 * run may say otherwise: --remote-cache URL (or CF_REMOTE_CACHE=URL) another place, --no-remote-cache (or
 * CF_REMOTE_CACHE=off) none; CF_REMOTE_CACHE_MODE=read|read-write|off another mode (a CI that must not
 * publish). An S3-compatible server's URL comes from `endpoint:`, else AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL; credentials only ever from the AWS SDK's own chain.
 */

/** What the command line says of the shared cache for one run: a URL, off (false), or nothing (null). */
export type RemoteOverride = string | false | null;

export interface RemoteSettings {
  /** As written (for messages). */
  url: string;
  location: RemoteLocation;
  endpoint: string | null;
  region: string | null;
  mode: 'read' | 'read-write';
}

const MODES = ['read-write', 'read', 'off'] as const;

/** The shared cache this run uses (null: none), or what is wrong with the command line's or the environment's. */
export function remoteSettings(pipeline: Pipeline, override: RemoteOverride = null, env: NodeJS.ProcessEnv = process.env): Result<RemoteSettings | null, UserError> {
  const cache = pipeline.cache ?? null;
  const envUrl = env.CF_REMOTE_CACHE?.trim() || null;
  const envMode = env.CF_REMOTE_CACHE_MODE?.trim() || null;
  if (envMode !== null && !(MODES as readonly string[]).includes(envMode)) {
    return err({ kind: 'usage', message: `CF_REMOTE_CACHE_MODE is "${envMode}"; expected ${MODES.join(', ')}` });
  }
  if (override === false || envUrl === 'off' || envMode === 'off') return ok(null);
  // The command line first, then the environment, then pipeline.yaml (a relative directory: to where each is said).
  const given = override !== null ? { url: override, from: '--remote-cache', base: process.cwd() } : envUrl ? { url: envUrl, from: 'CF_REMOTE_CACHE', base: process.cwd() } : null;
  if (!given && (!cache || cache.mode === 'off') && envMode === null) return ok(null);
  const url = given?.url ?? cache?.remote;
  if (!url) return ok(null);
  const location = parseRemoteLocation(url, given?.base ?? pipeline.dir);
  if (!location.ok) {
    const from = given?.from ?? `${pipeline.file}: cache.remote`;
    return err({ kind: 'usage', message: `${from}: ${location.error}`, hint: `a remote cache is ${REMOTE_FORMS}` });
  }
  const endpoint = cache?.endpoint ?? (env.AWS_ENDPOINT_URL_S3?.trim() || env.AWS_ENDPOINT_URL?.trim() || null);
  const bad = endpoint ? endpointError(endpoint) : null;
  if (bad) return err({ kind: 'usage', message: `the S3 endpoint: ${bad}` });
  const mode = envMode === 'read' || envMode === 'read-write' ? envMode : cache?.mode === 'read' ? 'read' : 'read-write';
  return ok({ url, location: location.value, endpoint, region: cache?.region ?? null, mode });
}

/** The backend of a shared cache (the AWS SDK is loaded only for a bucket). */
export async function openBackend(s: RemoteSettings): Promise<RemoteBackend> {
  if (s.location.kind === 'dir') return new DirectoryBackend(s.location.path);
  const { S3Backend } = await import('../store/remote/s3.js');
  return S3Backend.open({ bucket: s.location.bucket, prefix: s.location.prefix, endpoint: s.endpoint, region: s.region });
}

/** The checkout's store with the shared cache behind it, for one build. */
export function shareStore(local: OpenedStore, remote: RemoteCache, o: { dir: string; now(): Date; emit(e: BuildEvent): void }): SharedStore {
  return new SharedStore(local, { remote, now: o.now, emit: o.emit, host: hostname(), cf: CF_VERSION, paths: [o.dir, homedir()] });
}
