import { formatUserError, UserErrorException } from '../util/errors.js';
import { unreachable } from '../util/result.js';
import { CF_VERSION, STATE_FORMAT } from '../version.js';
import { parseCommandLine, type BuildOptions } from './args.js';
import { quietOnBrokenPipe } from './pipe.js';
import { scrubProcessOutput } from './scrubOutput.js';

export const VERSION = CF_VERSION;

export type { AdoptOptions, BuildOptions, CheckCommandOptions, CleanOptions, ExplainOptions, GlobalOptions, GraphOptions, InitOptions, StatusOptions, WatchOptions } from './options.js';

/** The answer of the no-op fast path: the same summary a full no-op build prints. */
function reportNoop(opts: BuildOptions, fresh: string[], ms: number): number {
  if (opts.json) {
    const summary = { event: 'summary', ok: true, exitCode: 0, ms, ran: [], fresh, failed: [], skipped: [], merged: [], cancelled: [], stopped: [], usage: {}, ts: new Date().toISOString() };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else if (!opts.quiet) {
    process.stdout.write(`cf: ${fresh.length} batch target${fresh.length === 1 ? '' : 's'} fresh, nothing to do (no input changed since the last build)\ncf: done: 0 ran, ${fresh.length} fresh in ${ms} ms\n`);
  } else {
    process.stdout.write(`cf: done: 0 ran, ${fresh.length} fresh in ${ms} ms\n`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  // Everything cf prints is scrubbed of the secrets it can know (util/secrets.ts), whoever prints it.
  scrubProcessOutput();
  quietOnBrokenPipe(process.stdout);
  quietOnBrokenPipe(process.stderr);
  const parsed = parseCommandLine(argv);
  switch (parsed.kind) {
    case 'print':
      process.stdout.write(parsed.text);
      return parsed.exitCode;
    case 'error':
      process.stderr.write(`${formatUserError(parsed.error)}\n`);
      return 2;
    case 'run':
      break;
  }
  const run = parsed.run;
  try {
    switch (run.command) {
      // Commands load their modules on demand: `cf --help` does not pay for the engine.
      case 'build': {
        if (!run.opts.dryRun && !run.opts.serve) {
          const started = Date.now();
          const fresh = await (await import('./noop.js')).noopFastPath(run.opts.dir, run.args, STATE_FORMAT);
          if (fresh) return reportNoop(run.opts, fresh, Date.now() - started);
        }
        return await (await import('./commands/build.js')).buildCommand(run.opts, run.args);
      }
      case 'watch':
        return await (await import('./commands/watch.js')).watchCommand(run.opts, run.args);
      case 'status':
        return await (await import('./commands/status.js')).statusCommand(run.opts, run.args);
      case 'explain':
        return await (await import('./commands/explain.js')).explainCommand(run.opts, run.args);
      case 'clean':
        return await (await import('./commands/clean.js')).cleanCommand(run.opts, run.args);
      case 'check':
        return await (await import('./commands/check.js')).checkCommand(run.opts, run.args, run.check);
      case 'adopt':
        return await (await import('./commands/adopt.js')).adoptCommand(run.opts, run.args, run.from);
      case 'serve':
        return await (await import('./commands/serve.js')).serveCommand(run.opts, run.args);
      case 'correct':
        return await (await import('./commands/correct.js')).correctCommand(run.opts, run.args, run.correct);
      case 'corrections':
        return await (await import('./commands/correct.js')).correctionsCommand(run.opts, run.args, run.corrections);
      case 'gc':
        return await (await import('./commands/gc.js')).gcCommand(run.opts, run.args);
      case 'init':
        return await (await import('./commands/init.js')).initCommand(run.opts, run.args);
      case 'graph':
        return await (await import('./commands/graph.js')).graphCommand(run.opts, run.args);
      case 'worker':
        return await (await import('./commands/worker.js')).workerCommand(run.opts, run.args);
      default:
        return unreachable(run);
    }
  } catch (e) {
    if (e instanceof UserErrorException) {
      process.stderr.write(`${formatUserError(e.error)}\n`);
      return 2;
    }
    throw e;
  }
}
