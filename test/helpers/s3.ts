import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import type { RemoteBackend } from '../../src/store/remote/backend.js';
import { DirectoryBackend } from '../../src/store/remote/directory.js';
import { kindOf, REMOTE_ROOT, sha256 } from '../../src/store/remote/names.js';
import { S3Backend } from '../../src/store/remote/s3.js';
import { readShared } from '../../src/store/remote/sharedRecords.js';

/*
 * A real S3-protocol server for the tests (s3rver, on a free loopback port, over a temporary directory),
 * and what the tests ask of a shared cache: its objects, checked as a reader checks them.
 */

export const BUCKET = 'course-cache';
/** s3rver's fixed credentials: given to the SDK by the tests (cf itself leaves them to the SDK's chain). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export class S3Server {
  private server: S3rver | null = null;
  port = 0;
  private readonly backends: RemoteBackend[] = [];

  private constructor(readonly dir: string) {}

  static async start(): Promise<S3Server> {
    const s = new S3Server(await mkdtemp(path.join(tmpdir(), 'cf-s3rver-')));
    await s.run();
    return s;
  }

  /** Starts (again, on the same port and directory once it has one). */
  async run(): Promise<void> {
    this.server = new S3rver({ address: '127.0.0.1', port: this.port, silent: true, directory: this.dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
    this.port = (await this.server.run()).port;
  }

  /** Stops answering at once, connections open or not (its objects stay on disk). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    const closing = s.close();
    (s as unknown as { httpServer?: import('node:http').Server }).httpServer?.closeAllConnections();
    await closing;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A backend over this server, under `prefix` (closed by remove()). */
  async backend(prefix: string): Promise<S3Backend> {
    const b = await S3Backend.open({ bucket: BUCKET, prefix, endpoint: this.endpoint, region: null, credentials: S3RVER_CREDENTIALS });
    this.backends.push(b);
    return b;
  }

  async remove(): Promise<void> {
    for (const b of this.backends.splice(0)) b.close();
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A directory remote in a new temporary directory. */
export async function directoryRemote(): Promise<{ backend: DirectoryBackend; dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cf-shared-disk-'));
  return { backend: new DirectoryBackend(dir), dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** What a shared cache holds, by kind (object names). */
export async function objects(b: RemoteBackend): Promise<{ batch: string[]; item: string[]; blob: string[]; other: string[] }> {
  const out = { batch: [] as string[], item: [] as string[], blob: [] as string[], other: [] as string[] };
  for await (const o of b.list(REMOTE_ROOT)) out[kindOf(o.name) ?? 'other'].push(o.name);
  for (const list of Object.values(out)) list.sort();
  return out;
}

/**
 * Every record of a shared cache read as a reader reads it, with its output: the problems found (a record
 * that does not parse, or whose output is missing or does not match its hashes). Empty: nothing corrupt.
 */
export async function corrupt(b: RemoteBackend): Promise<string[]> {
  const problems: string[] = [];
  const o = await objects(b);
  for (const name of [...o.batch, ...o.item]) {
    const kind = kindOf(name) as 'batch' | 'item';
    const sha = name.slice(name.lastIndexOf('/') + 1, -'.json'.length);
    const r = readShared((await b.get(name)) ?? '', kind, sha);
    if (typeof r === 'string') {
      problems.push(`${name}: ${r}`);
      continue;
    }
    const blob = await b.get(`${REMOTE_ROOT}blob/${r.out.sha256.slice(0, 2)}/${r.out.sha256}.json`);
    if (blob === null) problems.push(`${name}: its output is missing`);
    else if (sha256(blob) !== r.out.sha256) problems.push(`${name}: its output does not match its hash`);
  }
  return problems;
}
