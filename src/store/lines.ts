import { closeSync, openSync, readSync } from 'node:fs';
import type { StateRecord } from './records.js';

/**
 * Calls `fn` with each non-empty line of a file, read `chunk` bytes at a time (a line is decoded from its
 * own bytes: a UTF-8 sequence never holds a newline byte). Nothing when the file does not exist.
 */
export function forEachLineOfFile(file: string, fn: (line: string) => void, chunk = 4 << 20): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return;
  }
  try {
    const buf = Buffer.allocUnsafe(chunk);
    let carry: Buffer | null = null;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const data: Buffer = carry ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      carry = null;
      let start = 0;
      for (;;) {
        const nl = data.indexOf(10, start);
        if (nl === -1) {
          // The next read reuses buf: keep a copy of the unfinished line.
          if (start < data.length) carry = Buffer.from(data.subarray(start));
          break;
        }
        if (nl > start) fn(data.toString('utf8', start, nl));
        start = nl + 1;
      }
    }
    if (carry?.length) fn(carry.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** One log line's record; null for a line torn by a crash mid-write (that record never completed). */
export function parseRecord(line: string): StateRecord | null {
  try {
    return JSON.parse(line) as StateRecord;
  } catch {
    return null;
  }
}

/** Calls `fn` with each record of a log's text; a line torn by a crash mid-write is skipped. */
export function forEachRecord(text: string, fn: (r: StateRecord, bytes: number) => void): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    const r = line ? parseRecord(line) : null;
    if (r) fn(r, line.length + 1);
  }
}
