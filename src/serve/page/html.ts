/*
 * The dashboard's page: plain HTML and CSS, served by cf (no build step, nothing from elsewhere); its
 * script is client.ts, served as /app.js. The token the page sends with what it saves is set in a meta tag
 * by the server that serves it (a page elsewhere cannot read it).
 */

const PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="cf-token" content="@TOKEN@">
<title>cf dashboard</title>
<style>
  :root { --fresh: #2e7d32; --done: #43a047; --running: #1e88e5; --retrying: #fb8c00; --failed: #e53935; --stale: #9e9e9e;
          --waiting: #bdbdbd; --queued: #90caf9; --skipped: #6d4c41; --cancelled: #795548; --stopped: #8e24aa; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { padding: 12px 20px; background: #263238; color: #eceff1; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  .badge { padding: 2px 8px; border-radius: 10px; background: #546e7a; text-transform: uppercase; font-size: 12px; }
  .badge.running { background: var(--running); } .badge.done { background: var(--done); } .badge.failed { background: var(--failed); }
  main { display: grid; grid-template-columns: minmax(420px, 1fr) minmax(420px, 1.3fr); gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; padding: 12px 14px; margin-bottom: 16px; }
  h2 { font-size: 15px; margin: 0 0 8px; } h3 { font-size: 14px; margin: 12px 0 6px; }
  .stats { color: #555; font-size: 13px; margin-bottom: 8px; }
  .grid { display: flex; flex-wrap: wrap; gap: 4px; }
  .cell { width: 34px; height: 26px; border-radius: 4px; border: 0; color: #fff; font-size: 11px; cursor: pointer; background: var(--stale); }
  .cell[data-state=fresh] { background: var(--fresh); } .cell[data-state=done] { background: var(--done); }
  .cell[data-state=running] { background: var(--running); } .cell[data-state=retrying] { background: var(--retrying); }
  .cell[data-state=failed] { background: var(--failed); } .cell[data-state=waiting] { background: var(--waiting); color: #333; }
  .cell[data-state=queued] { background: var(--queued); color: #333; } .cell[data-state=skipped] { background: var(--skipped); }
  .cell[data-state=cancelled] { background: var(--cancelled); } .cell[data-state=stopped] { background: var(--stopped); }
  .cell.selected { outline: 3px solid #263238; }
  .legend span { display: inline-block; margin-right: 10px; font-size: 12px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  table { border-collapse: collapse; width: 100%; } td, th { border-top: 1px solid #eee; padding: 4px 6px; vertical-align: top; text-align: left; }
  pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: 12px; max-height: 260px; overflow: auto; }
  textarea { width: 100%; min-height: 140px; font: 12px monospace; }
  .flag { color: #b26a00; font-size: 12px; } .corrected { color: #1565c0; font-size: 12px; }
  .error { color: #b71c1c; font-size: 13px; } .muted { color: #777; font-size: 12px; }
  button.small { font-size: 12px; } select { font-size: 12px; }
  .attempt { border-top: 1px dashed #ddd; padding-top: 6px; margin-top: 6px; }
</style>
</head>
<body>
<header>
  <h1 id="course">cf</h1>
  <span id="status" class="badge">…</span>
  <span id="summary"></span>
  <span id="eta"></span>
  <span id="cost"></span>
</header>
<main>
  <div>
    <section>
      <div class="legend" id="legend"></div>
    </section>
    <div id="phases"></div>
    <section id="failures-box">
      <h2>Failures</h2>
      <div>phase <select id="f-phase"><option value="">all</option></select>
           rule <select id="f-rule"><option value="">all</option></select></div>
      <div id="failures"></div>
    </section>
  </div>
  <div>
    <section id="batch"><p class="muted">Click a batch to see why it is stale or fresh, its items, its attempts and errors.</p></section>
  </div>
</main>
<script src="/app.js"></script>
</body>
</html>
`;

/** The page, carrying the token its script sends with what it saves. */
export function pageHtml(token: string): string {
  const escaped = token.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return PAGE.replace('@TOKEN@', escaped);
}
