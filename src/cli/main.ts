import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatUserError, UserErrorException } from '../util/errors.js';
import { unreachable } from '../util/result.js';
import { CF_VERSION, STATE_FORMAT } from '../version.js';
import { quietOnBrokenPipe } from './pipe.js';

export const VERSION = CF_VERSION;

const USAGE = `cf ${VERSION}: a content-addressed build tool for LLM-agent pipelines

usage: cf [-C DIR] COMMAND [options] [TARGET...]

commands:
  build [TARGET...]     build targets (default: every phase's output); runs only stale batches
  watch [TARGET...]     build, then rebuild what each saved change affects (Ctrl-C to stop)
  status                per phase: batches fresh, stale, failed; merged outputs; recorded failures
  explain TARGET...     why a target is stale or fresh, naming what changed
  clean [TARGET...]     delete merged outputs and forget batch records (default: everything)
  check FILE            run an SSi rule set on an existing file: per-rule counts and every failure
                        [--as seed_pairs|lego_pairs|lego_baskets] [--rules r1,r2] [--lang spa]
                        [--seeds canonical.json] [--seed-pairs F] [--lego-pairs F] (default: F beside FILE)
  adopt PHASE --from F  take an existing merged output as PHASE's batches, fresh for the current inputs

targets: an output path (out/pairs.json), its file name when unambiguous (pairs.json),
         a phase name (pairs), or one batch (pairs#3)

options:
  -C DIR                run as if started in DIR (like make -C)
  -j, --jobs N          agent runs at once (default: pipeline.yaml "jobs", else 4)
  -n, --dry-run         build: list what would run and why; run nothing
  --json                NDJSON events (build) or one JSON document (status, explain) on stdout
  -q, --quiet           build: print only failures and the summary
  -v, --verbose         build: also print fresh targets and why each batch runs
  --max-cost USD        build: start no agent run that would take the build's spending past USD
                        (watch: the whole session's spending)
  --allow-empty-seeds   build, watch: build from a seeds file that holds no seeds (rewriting the
                        outputs empty); without it cf build refuses when outputs hold items (exit 2)
  -h, --help            this help
  --version             print the version

exit codes: 0 done, 1 a target failed or was not built, 2 bad usage or config, 130 interrupted`;

export interface GlobalOptions {
  dir: string;
  /** --max-cost USD */
  maxCost: number | null;
  jobs: number | null;
  json: boolean;
  dryRun: boolean;
  quiet: boolean;
  verbose: boolean;
  /** --allow-empty-seeds: a seeds file with no seeds is meant (not a save caught half-written). */
  allowEmptySeeds: boolean;
}

/** The answer of the no-op fast path: the same summary a full no-op build prints. */
function reportNoop(opts: GlobalOptions, fresh: string[], ms: number): number {
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

function usageError(message: string, hint?: string): never {
  throw new UserErrorException({ kind: 'usage', message, hint: hint ?? 'cf --help' });
}

export async function main(argv: string[]): Promise<number> {
  quietOnBrokenPipe(process.stdout);
  quietOnBrokenPipe(process.stderr);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        C: { type: 'string', short: 'C' },
        jobs: { type: 'string', short: 'j' },
        json: { type: 'boolean' },
        'dry-run': { type: 'boolean', short: 'n' },
        quiet: { type: 'boolean', short: 'q' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        // cf check / cf adopt
        as: { type: 'string' },
        rules: { type: 'string' },
        seeds: { type: 'string' },
        'seed-pairs': { type: 'string' },
        'lego-pairs': { type: 'string' },
        lang: { type: 'string' },
        'target-name': { type: 'string' },
        from: { type: 'string' },
        'max-cost': { type: 'string' },
        'allow-empty-seeds': { type: 'boolean' },
      },
    });
  } catch (e) {
    process.stderr.write(`${formatUserError({ kind: 'usage', message: (e as Error).message, hint: 'cf --help' })}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`cf ${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  try {
    let jobs: number | null = null;
    if (values.jobs !== undefined) {
      jobs = Number(values.jobs);
      if (!Number.isInteger(jobs) || jobs < 1) usageError(`-j wants a whole number ≥ 1, not "${values.jobs}"`);
    }
    let maxCost: number | null = null;
    if (values['max-cost'] !== undefined) {
      maxCost = Number(values['max-cost'].replace(/^\$/, ''));
      if (!Number.isFinite(maxCost) || maxCost < 0) usageError(`--max-cost wants dollars (e.g. 5 or 0.50), not "${values['max-cost']}"`);
    }
    const opts: GlobalOptions = {
      maxCost,
      dir: path.resolve(values.C ?? '.'),
      jobs,
      json: values.json ?? false,
      dryRun: values['dry-run'] ?? false,
      quiet: values.quiet ?? false,
      verbose: values.verbose ?? false,
      allowEmptySeeds: values['allow-empty-seeds'] ?? false,
    };
    const cmd = command as 'build' | 'watch' | 'status' | 'explain' | 'clean' | 'check' | 'adopt';
    switch (cmd) {
      // Commands load their modules on demand: `cf --help` does not pay for the engine.
      case 'build': {
        if (!opts.dryRun) {
          const started = Date.now();
          const fresh = await (await import('./noop.js')).noopFastPath(opts.dir, rest, STATE_FORMAT);
          if (fresh) return reportNoop(opts, fresh, Date.now() - started);
        }
        return await (await import('./commands/build.js')).buildCommand(opts, rest);
      }
      case 'watch':
        return await (await import('./commands/watch.js')).watchCommand(opts, rest);
      case 'status':
        return await (await import('./commands/status.js')).statusCommand(opts, rest);
      case 'explain':
        return await (await import('./commands/explain.js')).explainCommand(opts, rest);
      case 'clean':
        return await (await import('./commands/clean.js')).cleanCommand(opts, rest);
      case 'check':
        return await (await import('./commands/check.js')).checkCommand(opts, rest, {
          as: values.as,
          rules: values.rules,
          seeds: values.seeds,
          seedPairs: values['seed-pairs'],
          legoPairs: values['lego-pairs'],
          lang: values.lang,
          targetName: values['target-name'],
        });
      case 'adopt':
        return await (await import('./commands/adopt.js')).adoptCommand(opts, rest, values.from);
      default: {
        const known = ['build', 'watch', 'status', 'explain', 'clean', 'check', 'adopt'];
        if (!known.includes(cmd)) {
          const { suggestion } = await import('../util/didYouMean.js');
          usageError(`unknown command "${command}"${suggestion(command, known)}`);
        }
        return unreachable(cmd);
      }
    }
  } catch (e) {
    if (e instanceof UserErrorException) {
      process.stderr.write(`${formatUserError(e.error)}\n`);
      return 2;
    }
    throw e;
  }
}
