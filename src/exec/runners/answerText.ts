import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { formatSize } from '../../util/size.js';

/*
 * An agent's answer as text: no larger than the phase's max_output, checked before it is read (a runaway
 * agent's 50 MB answer is refused from its size, not parsed, validated and merged), and valid UTF-8 (bytes
 * that are not are an error naming where, not a U+FFFD merged into the output). Either failure is an
 * invalid output: the attempt is retried with the error in its prompt, as for invalid JSON.
 */

export type AnswerText = { ok: true; text: string } | { ok: false; message: string };

/** The error of an answer of `bytes` bytes when over `max` (null when within). */
export function overMaxOutput(bytes: number, max: number, phase: string, what = 'the output'): string | null {
  if (bytes <= max) return null;
  return `${what} is ${bytes.toLocaleString('en-US')} bytes, over max_output ${formatSize(max)} for phase ${phase}`;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text, or the offset of the first byte that is not UTF-8. A leading BOM is dropped. */
export function decodeUtf8(bytes: Uint8Array, what = 'the output'): AnswerText {
  try {
    return { ok: true, text: decoder.decode(bytes) };
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 10) line++;
    return {
      ok: false,
      message: `${what} is not valid UTF-8 at byte ${at.toLocaleString('en-US')} (line ${line}): 0x${bytes[at]!.toString(16).padStart(2, '0')}; write the output as UTF-8`,
    };
  }
}

/**
 * The offset of the first byte of the first ill-formed sequence (Unicode's table 3-7 of well-formed UTF-8:
 * no overlong forms, no surrogates, nothing above U+10FFFF, no sequence cut short).
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const x = b[i + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return n;
}

/**
 * A file's bytes when it holds at most `limit` of them: its size checked before anything is read (on the
 * open file, so that the size checked is the size read), and again after (a process the agent left behind
 * may still be writing). Null when there is no such file.
 */
export function readBoundedFile(file: string, limit: number): { ok: true; bytes: Buffer } | { ok: false; size: number } | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    if (st.size > limit) return { ok: false, size: st.size };
    const bytes = readFileSync(fd);
    return bytes.length > limit ? { ok: false, size: bytes.length } : { ok: true, bytes };
  } finally {
    closeSync(fd);
  }
}

/** Reads an answer file: null when there is none; else its text, or why it cannot be taken. */
export function readAnswerFile(file: string, max: number, phase: string, what = 'the output'): AnswerText | null {
  const r = readBoundedFile(file, max);
  if (!r) return null;
  return r.ok ? decodeUtf8(r.bytes, what) : { ok: false, message: overMaxOutput(r.size, max, phase, what)! };
}
