import { Option } from 'commander';
import { parseRemoteLocation, REMOTE_FORMS } from '../config/cacheConfig.js';
import { parseDuration } from '../util/duration.js';
import { BadValue } from './badValue.js';
import type { OptionValues } from './dashboardArgs.js';
import type { GcOptions } from './options.js';

/** The shared cache's options of build and watch. */
export const remoteCache = (): Option[] => [
  new Option('--remote-cache <URL>', "the shared cache for this run (s3://BUCKET/PREFIX, file:///DIR or a directory), instead of pipeline.yaml's cache: (also CF_REMOTE_CACHE)"),
  new Option('--no-remote-cache', 'no shared cache for this run (also CF_REMOTE_CACHE=off)'),
];
/** --remote-cache URL (its form checked here), --no-remote-cache, or neither (pipeline.yaml's, or CF_REMOTE_CACHE). */
export function remoteCacheOf(v: OptionValues): { remoteCache?: string | false } {
  if (typeof v.remoteCache === 'string') {
    const r = parseRemoteLocation(v.remoteCache, '.');
    if (!r.ok) throw new BadValue({ kind: 'usage', message: `--remote-cache: ${r.error}`, hint: `a remote cache is ${REMOTE_FORMS}` });
  }
  return typeof v.remoteCache === 'string' || v.remoteCache === false ? { remoteCache: v.remoteCache } : {};
}

/** An age: "30d", "2w", "12h", "90m" (days and weeks, or a duration as timeouts take it). */
function ageOf(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(d|w)$/.exec(v.trim());
  const ms = m ? Number(m[1]) * (m[2] === 'w' ? 7 : 1) * 86_400_000 : parseDuration(v);
  if (ms === null || !(ms > 0)) throw new BadValue({ kind: 'usage', message: `--older-than wants an age (e.g. 30d, 2w, 12h), not "${v}"`, hint: 'cf help gc' });
  return ms;
}

export const GC_AFTER = `
The shared cache is never cleaned by cf clean or a build: cf gc --remote --older-than 30d deletes its
records and outputs not written for 30 days (a batch whose record is gone is built, and published, again
by the next machine that needs it). A bucket's lifecycle rule (expire objects under PREFIX/cf/ after N
days) does the same without cf.`;

export const gcOptions = (): Option[] => [
  new Option('--remote', "the shared cache (pipeline.yaml's cache:, --remote-cache or CF_REMOTE_CACHE), not this checkout's store"),
  new Option('--older-than <AGE>', 'with --remote: delete what was not written for AGE (e.g. 30d, 12h, 2w)'),
  new Option('-n, --dry-run', 'list what would be deleted; delete nothing'),
  new Option('--remote-cache <URL>', "with --remote: this shared cache instead of pipeline.yaml's (also CF_REMOTE_CACHE)"),
];

/** `cf gc`'s options from its values: --older-than goes with --remote, and --remote needs it. */
export function gcOf(v: OptionValues): Omit<GcOptions, 'dir'> {
  const remote = v.remote === true;
  const olderThanMs = typeof v.olderThan === 'string' ? ageOf(v.olderThan) : null;
  if (remote && olderThanMs === null) throw new BadValue({ kind: 'usage', message: 'cf gc --remote needs --older-than AGE (e.g. 30d): what was written since is kept', hint: 'cf gc --remote --older-than 30d' });
  if (!remote && (olderThanMs !== null || typeof v.remoteCache === 'string')) throw new BadValue({ kind: 'usage', message: "--older-than and --remote-cache go with --remote (cf gc alone cleans this checkout's store)", hint: 'cf gc --remote --older-than 30d' });
  return { dryRun: v.dryRun === true, remote, olderThanMs, ...remoteCacheOf(v) };
}
