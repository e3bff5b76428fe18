/*
 * A shared cache's storage: named objects holding text, in an S3-compatible bucket (s3.ts) or a directory on
 * a shared disk (directory.ts). Each write is all or nothing (an S3 PUT; a directory's temp file renamed):
 * two machines writing the same object leave one whole copy. What is stored there, and how it is named and
 * checked, is the shared store's (sharedStore.ts, sharedRecords.ts): a backend only moves text.
 */

/** One stored object, as a listing gives it. */
export interface RemoteObject {
  name: string;
  modified: Date;
  bytes: number;
}

export interface RemoteBackend {
  /** Where it is, as messages say it (s3://bucket/prefix/, or the directory). */
  readonly where: string;
  /** The object's text, or null when there is none. Throws when the remote cannot answer (down, refused). */
  get(name: string): Promise<string | null>;
  put(name: string, text: string): Promise<void>;
  /** Every object whose name starts with `prefix`. */
  list(prefix: string): AsyncIterable<RemoteObject>;
  delete(names: readonly string[]): Promise<void>;
  /** Lets go of connections (the S3 client's sockets). */
  close(): void;
}

/** Why a remote did not answer, in a line: the SDK's error name and message, or a system error's code. */
export function describeRemoteError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const x = e as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
  const status = x.$metadata?.httpStatusCode;
  const name = x.name && x.name !== 'Error' ? x.name : x.code;
  const message = x.message.split('\n')[0]!.trim();
  const head = name && !message.includes(name) ? `${name}: ${message}` : message || name || 'unknown error';
  return status && !head.includes(String(status)) ? `${head} (HTTP ${status})` : head;
}
