import type { S3Client } from '@aws-sdk/client-s3';
import type { RemoteBackend, RemoteObject } from './backend.js';

/*
 * A shared cache in an S3-compatible bucket, through the AWS SDK (loaded only when a build uses one).
 * Credentials come from the SDK's own chain (environment, profile, instance role), never from cf's config.
 * An S3 PUT is atomic: a reader sees the whole object or none.
 */

export interface S3Settings {
  bucket: string;
  /** "" or "some/prefix/". */
  prefix: string;
  /** An S3-compatible server (MinIO, Ceph, R2): path-style addressing. null: AWS. */
  endpoint: string | null;
  region: string | null;
  /** Tests only: credentials of a local server. cf itself always leaves them to the SDK's chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Connecting gives up after this long, an answer after that long: a remote that hangs must not hold a build. */
const CONNECT_MS = 3_000;
const ANSWER_MS = 30_000;

export class S3Backend implements RemoteBackend {
  private constructor(
    private readonly s3: S3Client,
    private readonly sdk: typeof import('@aws-sdk/client-s3'),
    private readonly o: S3Settings,
  ) {}

  static async open(o: S3Settings): Promise<S3Backend> {
    // Its CommonJS build once bundled: the module is the import's default.
    const loaded = (await import('@aws-sdk/client-s3')) as typeof import('@aws-sdk/client-s3') & { default?: typeof import('@aws-sdk/client-s3') };
    const sdk = 'S3Client' in loaded && loaded.S3Client ? loaded : loaded.default!;
    // The SDK warns on stderr, once per process, that its releases of 2027 will want Node 22: cf supports
    // Node 20 with the version it pins, and prints its own messages only.
    const quiet = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
    const was = process.env[quiet];
    process.env[quiet] = 'true';
    try {
      const s3 = new sdk.S3Client({
        region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: true } : {}),
        ...(o.credentials ? { credentials: o.credentials } : {}),
        maxAttempts: 2,
        requestHandler: { connectionTimeout: CONNECT_MS, requestTimeout: ANSWER_MS },
        // Checksums only where S3 requires them: S3-compatible servers do not all know the newer headers.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      return new S3Backend(s3, sdk, o);
    } finally {
      if (was === undefined) delete process.env[quiet];
      else process.env[quiet] = was;
    }
  }

  get where(): string {
    return `s3://${this.o.bucket}/${this.o.prefix}`;
  }

  async get(name: string): Promise<string | null> {
    try {
      const r = await this.s3.send(new this.sdk.GetObjectCommand({ Bucket: this.o.bucket, Key: this.o.prefix + name }));
      return (await r.Body?.transformToString('utf8')) ?? '';
    } catch (e) {
      const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      // No such object: a miss. No such bucket is not: the remote is misconfigured (said once, as unavailable).
      if (x.name === 'NoSuchKey' || (x.$metadata?.httpStatusCode === 404 && x.name !== 'NoSuchBucket')) return null;
      throw e;
    }
  }

  async put(name: string, text: string): Promise<void> {
    await this.s3.send(new this.sdk.PutObjectCommand({ Bucket: this.o.bucket, Key: this.o.prefix + name, Body: text, ContentType: 'application/json' }));
  }

  async *list(prefix: string): AsyncIterable<RemoteObject> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(new this.sdk.ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: this.o.prefix + prefix, ContinuationToken: token }));
      for (const c of page.Contents ?? []) {
        if (c.Key) yield { name: c.Key.slice(this.o.prefix.length), modified: c.LastModified ?? new Date(0), bytes: c.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(names: readonly string[]): Promise<void> {
    // DeleteObjects takes 1,000 keys a request.
    for (let i = 0; i < names.length; i += 1000) {
      const chunk = names.slice(i, i + 1000);
      const r = await this.s3.send(new this.sdk.DeleteObjectsCommand({ Bucket: this.o.bucket, Delete: { Objects: chunk.map((n) => ({ Key: this.o.prefix + n })), Quiet: true } }));
      const failed = r.Errors?.[0];
      if (failed) throw new Error(`${failed.Code ?? 'error'}: ${failed.Message ?? ''} (${failed.Key ?? ''})`);
    }
  }

  close(): void {
    this.s3.destroy();
  }
}
