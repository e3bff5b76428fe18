import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/*
 * What a failing agent or validator said, as a person needs it: its error line first (reports show the
 * first line of an error message), then the end of its stderr (kept in records, errors.txt and the retry's
 * prompt). The first line of a crashed Node script is `node:internal/modules/cjs/loader:1210`, of a Python
 * one `Traceback (most recent call last):`: both name where the error was thrown, not what it was.
 */

/** `Error: …`, `TypeError: …`, `Error [ERR_X]: …`, `ModuleNotFoundError: …`, `java.io.IOException: …`,
 * `error: …`, `error[E0425]: …`, `fatal: …`, `panic: …`, `ERROR: …`. */
const ERROR_LINE = /^(?:Uncaught )?(?:[\w$.]*(?:Error|Exception)(?: \[[\w-]+\])?|error(?:\[\w+\])?|fatal|panic|ERROR|FATAL)(?::\s|:$)/;

/** Lines that are where, not what: stack frames, source lines echoed with a caret, dumped error fields. */
const NOISE = [
  /^\s+at\s/, // a V8 stack frame
  /^\s*File ".*", line \d+/, // a Python frame
  /^Traceback \(most recent call last\):/,
  /^\s*[~^]+\s*$/, // the caret (and Python 3.11's ~~~^^^) under a source line
  /^\s*throw \w+;?\s*$/, // Node's echo of `throw err;`
  /^(?:node:)?[\w./@-]+:\d+$/, // Node's `file:line` above the echoed source line
  /^\s*[{}[\]],?\s*$/, // the braces of an error's dumped fields
  /^\s+\w+: .*,?$/, // a dumped field (`  code: 'MODULE_NOT_FOUND',`)
  /^Node\.js v\d/,
];

const TAIL_CHARS = 1500;
/** How much of the end of stderr is read for its summary: a stack trace fits many times over. */
const READ_BYTES = 16 * 1024;
const FALLBACK_LINES = 3;
const MAX_SUMMARY = 400;

function clip(s: string): string {
  return s.length > MAX_SUMMARY ? `${s.slice(0, MAX_SUMMARY - 1)}…` : s;
}

/** Where the error happened, when its trace says: the first frame below a V8 error line, or Python's last frame above. */
function locationOf(lines: string[], at: number): string | null {
  for (let i = at + 1; i < lines.length && /^\s+at\s/.test(lines[i]!); i++) {
    const m = /(?:\(|at )((?:file:\/\/)?\/[^()\s]+:\d+(?::\d+)?)\)?$/.exec(lines[i]!);
    if (m) return m[1]!;
  }
  for (let i = at - 1; i >= 0; i--) {
    const m = /^\s*File "(.*)", line (\d+)/.exec(lines[i]!);
    if (m) return `${m[1]} line ${m[2]}`;
    if (/^Traceback /.test(lines[i]!) || ERROR_LINE.test(lines[i]!)) break;
  }
  return null;
}

/**
 * The line of a process's stderr that says what went wrong: the last line that reads as an error (with
 * where it happened, when a stack trace says), else the last few lines that are not stack frames.
 */
export function summarizeStderr(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!ERROR_LINE.test(lines[i]!)) continue;
    const where = locationOf(lines, i);
    return clip(`${lines[i]!.trim()}${where ? ` (at ${where})` : ''}`);
  }
  const plain = lines.filter((l) => !NOISE.some((re) => re.test(l)));
  return clip((plain.length ? plain : lines).slice(-FALLBACK_LINES).map((l) => l.trim()).join(' / '));
}

/** The end of the text (at most TAIL_CHARS), as kept below the summary. */
function tailOf(text: string): string {
  const t = text.trim();
  return t.length > TAIL_CHARS ? `…${t.slice(-TAIL_CHARS)}` : t;
}

/** A failure's detail from stderr: the summary, then the tail when it says more. Empty when stderr is. */
export function stderrDetail(text: string): string {
  // Only the end is read for the summary (a process may print megabytes before it dies), from a line's start.
  if (text.length > READ_BYTES) {
    const from = text.length - READ_BYTES;
    const nl = text.indexOf('\n', from);
    text = text.slice(nl >= 0 ? nl + 1 : from);
  }
  const tail = tailOf(text);
  if (!tail) return '';
  const summary = summarizeStderr(text);
  return tail === summary ? summary : `${summary}\n${tail}`;
}

/** stderrDetail of a file, reading only its end (an agent may write megabytes of log there). */
export function stderrFileDetail(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - READ_BYTES);
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    // A read that starts inside a line (or a UTF-8 sequence) drops that partial line.
    const text = buf.subarray(0, got).toString('utf8');
    return stderrDetail(start > 0 ? text.slice(text.indexOf('\n') + 1) : text);
  } catch {
    return '';
  } finally {
    closeSync(fd);
  }
}
