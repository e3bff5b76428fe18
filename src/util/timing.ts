/**
 * `CF_TIMING=1`: where a command's time goes, as ninja's `-d stats` tells it: marks set along the way,
 * printed on stderr at exit with the time since the process started. Costs nothing when unset.
 */
const on = process.env.CF_TIMING === '1';
const marks: Array<[string, number]> = [];

export function mark(label: string): void {
  if (!on) return;
  if (marks.length === 0) process.on('exit', () => process.stderr.write(`${marks.map(([l, t]) => `cf timing: ${t.toFixed(1).padStart(7)} ms  ${l}`).join('\n')}\n`));
  marks.push([label, performance.now()]);
}
