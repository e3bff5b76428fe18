import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * pipeline.yaml's `cache:` key: a shared cache (an S3-compatible bucket, or a directory on a shared disk)
 * that builds read batches from and publish them to. Not part of any key: turning it on or off re-keys
 * nothing. Credentials are never in pipeline.yaml (they come from the AWS SDK's own chain).
 */

/** read-write: take from it and publish to it; read: take only (a CI that may not publish); off: neither. */
export type CacheMode = 'read-write' | 'read' | 'off';

export interface CacheConfig {
  /** s3://BUCKET/PREFIX, file:///DIR, or a directory path (relative to the pipeline directory). */
  remote: string;
  /** An S3-compatible server's URL (MinIO, Ceph, R2); null: AWS. */
  endpoint: string | null;
  region: string | null;
  mode: CacheMode;
}

/** Where a shared cache is. */
export type RemoteLocation = { kind: 's3'; bucket: string; prefix: string } | { kind: 'dir'; path: string };

/** The forms a remote may take, as errors say them. */
export const REMOTE_FORMS = 's3://BUCKET/PREFIX, file:///DIR or a directory path';

/**
 * Keys that look like credentials: refused in `cache:` with a message that says where credentials come
 * from, not as an unknown key.
 */
const CREDENTIAL_KEY = /secret|password|passwd|token|credential|access_?key|api_?key|private_?key|session/i;

export function isCredentialKey(key: string): boolean {
  return CREDENTIAL_KEY.test(key);
}

export const CREDENTIALS_HINT =
  'credentials come from the AWS SDK\'s own chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, a profile (AWS_PROFILE, ~/.aws), or an instance role';

/**
 * A remote as written (pipeline.yaml, --remote-cache, CF_REMOTE_CACHE), parsed; a relative directory is
 * relative to `base`. An error says what is wrong (the caller says where).
 */
export function parseRemoteLocation(url: string, base: string): { ok: true; value: RemoteLocation } | { ok: false; error: string } {
  const text = url.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    const m = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(text)!;
    const bucket = m[1]!;
    if (bucket.includes('@') || bucket.includes(':')) return { ok: false, error: `"${url}" holds credentials or a port; credentials never go in the URL, and a server's address goes in endpoint:` };
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) return { ok: false, error: `"${bucket}" is not a bucket name (3 to 63 lower-case letters, digits, "." or "-")` };
    const prefix = m[2]!.replace(/^\/+|\/+$/g, '');
    return { ok: true, value: { kind: 's3', bucket, prefix: prefix ? `${prefix}/` : '' } };
  }
  if (scheme === 'file') {
    let p: string;
    try {
      p = fileURLToPath(text);
    } catch (e) {
      return { ok: false, error: `"${url}" is not a file URL (${(e as Error).message}); expected file:///DIR` };
    }
    return { ok: true, value: { kind: 'dir', path: p } };
  }
  if (scheme) return { ok: false, error: `a remote cache is ${REMOTE_FORMS}, not ${scheme}://` };
  if (!text) return { ok: false, error: `a remote cache is ${REMOTE_FORMS}` };
  return { ok: true, value: { kind: 'dir', path: path.resolve(base, text) } };
}

/** An endpoint URL, or what is wrong with it (credentials never go in it). */
export function endpointError(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL; expected e.g. http://127.0.0.1:9000`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `an endpoint is an http:// or https:// URL, not ${u.protocol}//`;
  if (u.username || u.password) return 'credentials never go in the endpoint URL';
  return null;
}
