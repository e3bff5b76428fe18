/**
 * `CF_TIMING=1`: where a command's time goes, as ninja's `-d stats` tells it: marks set along the way,
 * printed on stderr at exit with the time since the process started and the memory held then (and the
 * peak). Costs nothing when unset.
 */
const on = process.env.CF_TIMING === '1';
const marks: Array<[string, number, number]> = [];

export function mark(label: string): void {
  if (!on) return;
  if (marks.length === 0) {
    process.on('exit', () => {
      const peak = (process.resourceUsage().maxRSS / 1024).toFixed(0);
      const rows = marks.map(([l, t, rss]) => `cf timing: ${t.toFixed(1).padStart(7)} ms  rss ${(rss / 2 ** 20).toFixed(0).padStart(4)} MB  ${l}`);
      process.stderr.write(`${rows.join('\n')}\ncf timing: peak rss ${peak} MB\n`);
    });
  }
  marks.push([label, performance.now(), process.memoryUsage.rss()]);
}
