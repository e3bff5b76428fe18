import type { Item } from '../../config/seeds.js';
import type { RemoteBackend } from '../../store/remote/backend.js';
import { objectName, sha256 } from '../../store/remote/names.js';

/*
 * A valid batch's output on its way from a worker to the coordinator: stored in the shared cache (issue 16's
 * `cache:`, a bucket or a shared directory) as a blob named by the SHA-256 of its text, as the shared store
 * names outputs, so Redis carries the record and not the output. The coordinator checks the text against
 * the name before it takes it.
 */

export interface OutputBlobs {
  /** Where they are (the shared cache's `where`): a worker stores outputs there only when its coordinator reads there too. */
  readonly where: string;
  /** Stores the items' text; returns its SHA-256. */
  put(items: Item[]): Promise<string>;
  /** The items stored under `sha`, or why they cannot be taken (missing, or not matching their name). */
  get(sha: string): Promise<{ items: Item[] } | { problem: string }>;
}

export function backendBlobs(backend: RemoteBackend): OutputBlobs {
  return {
    where: backend.where,
    async put(items) {
      const text = JSON.stringify(items);
      const sha = sha256(text);
      await backend.put(objectName('blob', sha), text);
      return sha;
    },
    async get(sha) {
      let text: string | null;
      try {
        text = await backend.get(objectName('blob', sha));
      } catch (e) {
        return { problem: `the shared cache ${backend.where} did not answer: ${(e as Error).message}` };
      }
      if (text === null) return { problem: `its output ${sha.slice(0, 12)}… is not in the shared cache ${backend.where}` };
      if (sha256(text) !== sha) return { problem: `its output in the shared cache ${backend.where} does not match its hash` };
      try {
        const items = JSON.parse(text) as unknown;
        if (Array.isArray(items)) return { items: items as Item[] };
      } catch {
        // not JSON: below
      }
      return { problem: `its output in the shared cache ${backend.where} is not a JSON array` };
    },
  };
}
