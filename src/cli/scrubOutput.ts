import { secrets } from '../util/secrets.js';

/*
 * The last defence for what cf prints: every write to stdout and stderr goes through the scrubber, whoever
 * makes it (reporters, log-update's live line, an internal error's stack). Text from agents, validators and
 * APIs is already scrubbed where it enters cf (util/secrets.ts); this catches what a future path forgets.
 */

const installed = new WeakSet<NodeJS.WritableStream>();

type Write = (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;

/** Scrubs every later write to these streams (default: the process's stdout and stderr). Installs once per stream. */
export function scrubProcessOutput(streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    if (installed.has(stream)) continue;
    installed.add(stream);
    const write = stream.write.bind(stream) as Write;
    const scrubbed: Write = (chunk, encoding, cb) => {
      const s = secrets();
      if (s.empty) return write(chunk, encoding, cb);
      // A string in another encoding (hex, base64) is not text cf prints: left alone.
      if (typeof chunk === 'string' && (typeof encoding !== 'string' || encoding === 'utf8' || encoding === 'utf-8')) return write(s.scrub(chunk), encoding, cb);
      if (chunk instanceof Uint8Array) return write(s.scrubBytes(chunk) ?? chunk, encoding, cb);
      return write(chunk, encoding, cb);
    };
    (stream as { write: Write }).write = scrubbed;
  }
}
