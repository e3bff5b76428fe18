import path from 'node:path';
import { Command, CommanderError, Help, Option } from 'commander';
import { suggestion } from '../util/didYouMean.js';

/**
 * The command line: the commands, the options each one takes (commander), and argv parsed into the command
 * to run, the text to print (help, version) or a usage error. Nothing here reads a file or writes output:
 * parsing is a function of argv, tested in memory (test/args.test.ts).
 *
 * Each command declares only its own options, so an option a command would ignore is an error there
 * (`cf watch -n`, `cf status -j 2`: exit 2), not silently accepted. -C, --help and --version are global.
 */

export type { AdoptOptions, BuildOptions, CheckCommandOptions, CheckOptions, CleanOptions, CommandName, CorrectOptions, CorrectValues, CorrectionsValues, ExplainOptions, GcOptions, GlobalOptions, GraphOptions, InitOptions, Invocation, Parsed, ServeOptions, ServeSettings, StatusOptions, WatchOptions, WorkerOptions } from './options.js';
import type { CommandName, Invocation, Parsed, ServeSettings } from './options.js';
import { correctionsOptions, correctOptions, serveOptions, serveSettings, type OptionValues } from './dashboardArgs.js';
import { BadValue } from './badValue.js';
import { GC_AFTER, gcOf, gcOptions, remoteCache, remoteCacheOf } from './cacheArgs.js';
import { flagsOf, unknownCommand, unknownOption, type Cli } from './argErrors.js';
import { queueOf, queueOptions, WORKER_AFTER } from './queueArgs.js';
import { TARGETS_HELP, USAGE } from './usage.js';
import { CF_VERSION } from '../version.js';

export { USAGE };



/** The options commands share, with the wording of their help (flags in commander's syntax: <VALUE>). */
const jobs = (): Option => new Option('-j, --jobs <N>', 'agent runs at once (default: pipeline.yaml "jobs", else 4)');
const ndjson = (): Option => new Option('--json', 'NDJSON events on stdout');
const jsonDocument = (): Option => new Option('--json', 'one JSON document on stdout');
const allowEmptySeeds = (): Option =>
  new Option(
    '--allow-empty-seeds',
    'build from a seeds file that holds no seeds (rewriting the outputs empty); without it cf build refuses when outputs hold items (exit 2)',
  );


/** A command's option values as commander hands them to its action (keys in camelCase: dryRun, maxCost). */
type Values = OptionValues;

/** --serve and where (`always`: cf serve); a bad value is a usage error. */
function serveOf(v: Values, always = false): ServeSettings | null {
  const s = serveSettings(v, always);
  if (s && 'kind' in s) throw new BadValue(s);
  return s;
}

/** Each command: its summary, usage, options, and how its commander values become its options. */
interface Spec {
  summary: string;
  usage: string;
  /** Printed after the options in the command's help. */
  after?: string;
  options: () => Option[];
  make: (v: Values, dir: string, args: string[]) => Invocation;
}

const SPECS: { [C in CommandName]: Spec } = {
  init: {
    summary: 'start a project: a working pipeline in DIR (default: here) that cf build builds offline',
    usage: '[options] [DIR]',
    after: '\nWrites only new files (DIR may be missing or empty): an existing file it would write is an error\n(exit 2), and nothing is written.',
    options: () => [new Option('--template <NAME>', 'minimal (default): one phase and a small local agent; course: the three-phase example course')],
    make: (v, dir, args) => ({ command: 'init', opts: { dir, template: str(v.template) }, args }),
  },
  build: {
    summary: "build targets (default: every phase's output); runs only stale batches",
    usage: '[options] [TARGET...]',
    after: TARGETS_HELP,
    options: () => [
      jobs(),
      new Option('-n, --dry-run', 'list what would run and why; run nothing'),
      ndjson(),
      new Option('-q, --quiet', 'print only failures and the summary'),
      new Option('-v, --verbose', 'also print fresh targets and why each batch runs'),
      new Option('--max-cost <USD>', "start no agent run that would take the build's spending past USD"),
      allowEmptySeeds(),
      ...serveOptions('serve the dashboard while it builds, and after, until Ctrl-C'),
      ...remoteCache(),
      ...queueOptions('enqueue the stale batches for cf worker processes (-j: jobs in the queue at once, default 64)'),
    ],
    make: (v, dir, args) => ({
      command: 'build',
      opts: {
        dir,
        jobs: jobsOf(v.jobs),
        maxCost: maxCostOf(v.maxCost),
        json: v.json === true,
        dryRun: v.dryRun === true,
        quiet: v.quiet === true,
        verbose: v.verbose === true,
        allowEmptySeeds: v.allowEmptySeeds === true,
        serve: serveOf(v),
        ...remoteCacheOf(v),
        ...queueOf(v),
      },
      args,
    }),
  },
  watch: {
    summary: 'build, then rebuild what each saved change affects (Ctrl-C to stop)',
    usage: '[options] [TARGET...]',
    after: `${TARGETS_HELP}\n\ncf watch has no dry run: cf build -n shows what would run.`,
    options: () => [
      jobs(),
      ndjson(),
      new Option('-v, --verbose', 'print every batch, fresh targets and why each batch runs'),
      new Option('--max-cost <USD>', "start no agent run that would take the whole session's spending past USD"),
      allowEmptySeeds(),
      ...serveOptions('serve the dashboard while it watches (a correction saved there is rebuilt from)'),
      ...remoteCache(),
    ],
    make: (v, dir, args) => ({
      command: 'watch',
      opts: { dir, jobs: jobsOf(v.jobs), maxCost: maxCostOf(v.maxCost), json: v.json === true, verbose: v.verbose === true, allowEmptySeeds: v.allowEmptySeeds === true, serve: serveOf(v), ...remoteCacheOf(v) },
      args,
    }),
  },
  status: {
    summary: 'per phase: batches fresh, stale, failed; merged outputs; recorded failures',
    usage: '[options]',
    options: () => [jsonDocument(), ...queueOptions('also ask this queue which batch runs on which worker', 'do not ask the queue, even when pipeline.yaml or CF_QUEUE name one')],
    make: (v, dir, args) => ({ command: 'status', opts: { dir, json: v.json === true, ...queueOf(v) }, args }),
  },
  explain: {
    summary: 'why a target is stale or fresh, naming what changed',
    usage: '[options] TARGET...',
    after: TARGETS_HELP,
    options: () => [jsonDocument()],
    make: (v, dir, args) => ({ command: 'explain', opts: { dir, json: v.json === true }, args }),
  },
  clean: {
    summary: 'delete merged outputs and forget batch records (default: everything)',
    usage: '[options] [TARGET...]',
    after: TARGETS_HELP,
    options: () => [new Option('-n, --dry-run', 'list what would be deleted; delete nothing')],
    make: (v, dir, args) => ({ command: 'clean', opts: { dir, dryRun: v.dryRun === true }, args }),
  },
  check: {
    summary: "check an existing file: as a phase's output (--phase), or an SSi file by its rule set",
    usage: '[options] FILE',
    after: "\nWith --phase, FILE is read as that phase's merged output and each batch's items go through the phase's\nchecks as a build's answers do: the built-in ones, its schema: and its validate: (nothing is recorded).\nWithout it, FILE is an SSi document (seed_pairs, lego_pairs or lego_baskets) checked by its rule set.",
    options: () => [
      new Option('--phase <NAME>', "check FILE as this phase's output: its schema and validators"),
      new Option('--as <KIND>', 'the kind of FILE: seed_pairs|lego_pairs|lego_baskets (default: told from its content)'),
      new Option('--rules <r1,r2>', 'only these rules'),
      new Option('--lang <CODE>', "the target language, e.g. spa (default: the file's)"),
      new Option('--seeds <FILE>', 'the canonical seeds, to check seed pairs against'),
      new Option('--target-name <NAME>', 'what {target} stands for in the canonical seeds (default: the language name)'),
      new Option('--seed-pairs <F>', 'the seed pairs of a lego_pairs FILE (default: seed_pairs.json beside FILE)'),
      new Option('--lego-pairs <F>', 'the LEGO pairs of a lego_baskets FILE (default: lego_pairs.json beside FILE)'),
      jsonDocument(),
    ],
    make: (v, dir, args) => ({
      command: 'check',
      opts: { dir, json: v.json === true },
      args,
      check: {
        phase: str(v.phase),
        as: str(v.as),
        rules: str(v.rules),
        seeds: str(v.seeds),
        seedPairs: str(v.seedPairs),
        legoPairs: str(v.legoPairs),
        lang: str(v.lang),
        targetName: str(v.targetName),
      },
    }),
  },
  adopt: {
    summary: "take an existing merged output as PHASE's batches, fresh for the current inputs",
    usage: '[options] PHASE --from FILE',
    options: () => [new Option('--from <FILE>', "the merged output to adopt (e.g. old/lego_pairs.json)"), jsonDocument()],
    make: (v, dir, args) => ({ command: 'adopt', opts: { dir, json: v.json === true }, args, from: str(v.from) }),
  },
  serve: {
    summary: 'a live dashboard of the course: batches, failures, costs; review and correct items',
    usage: '[options]',
    after: '\nBinds 127.0.0.1 (reads need no token there); any other address needs the token on every request.',
    options: () => serveOptions(null),
    make: (v, dir, args) => ({ command: 'serve', opts: { dir, serve: serveOf(v, true)! }, args }),
  },
  correct: {
    summary: "correct a generated item: saved in corrections/PHASE.jsonl once it passes the phase's validation",
    usage: '[options] PHASE ID (--set JSON | --pointer /p --value JSON)',
    options: () => [...correctOptions(), jsonDocument()],
    make: (v, dir, args) => ({ command: 'correct', opts: { dir, json: v.json === true }, args, correct: { set: str(v.set), pointer: str(v.pointer), value: str(v.value), author: str(v.author) } }),
  },
  corrections: {
    summary: "list the corrections (each phase's, or PHASE's); keep (re-base) or drop an item's",
    usage: '[options] [PHASE] [--keep ID | --drop ID]',
    options: () => [...correctionsOptions(), jsonDocument()],
    make: (v, dir, args) => ({ command: 'corrections', opts: { dir, json: v.json === true }, args, corrections: { keep: str(v.keep), drop: str(v.drop) } }),
  },
  graph: {
    summary: 'the phases and what each reads (seeds, intelligence, schema, deps, context)',
    usage: '[options]',
    after: '\nmermaid renders on GitHub and in many editors (```mermaid blocks); dot is Graphviz\'s\n(cf graph --format dot | dot -Tsvg > graph.svg).',
    options: () => [
      new Option('--format <FORMAT>', 'mermaid (default), dot or json'),
      new Option('--batches', "each phase's batches by state: fresh, stale, waiting, failed (as cf status decides them)"),
    ],
    make: (v, dir, args) => ({ command: 'graph', opts: { dir, format: str(v.format), batches: v.batches === true }, args }),
  },
  gc: {
    summary: "delete stored outputs no record refers to; --remote: the shared cache's old objects",
    usage: '[options]',
    after: GC_AFTER,
    options: gcOptions,
    make: (v, dir, args) => ({ command: 'gc', opts: { dir, ...gcOf(v) }, args }),
  },
  worker: {
    summary: 'run the stale batches a cf build --queue enqueues, with this checkout\'s runners and validators',
    usage: '--queue URL [options]',
    after: WORKER_AFTER,
    options: () => [
      new Option('-j, --jobs <N>', 'jobs at once (default: pipeline.yaml "jobs", else 4)'),
      ...queueOptions('the queue to take jobs from', false),
      new Option('--name <NAME>', 'how the coordinator names this worker (default: host:pid)'),
      new Option('--json', 'NDJSON lines on stdout'),
    ],
    make: (v, dir, args) => ({ command: 'worker', opts: { dir, jobs: jobsOf(v.jobs), json: v.json === true, ...queueOf(v), ...(typeof v.name === 'string' ? { name: v.name } : {}) }, args }),
  },
};

const COMMANDS = Object.keys(SPECS) as CommandName[];
const CLI: Cli = { commands: COMMANDS, optionsOf: (c) => SPECS[c].options() };

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function jobsOf(v: string | boolean | undefined): number | null {
  if (typeof v !== 'string') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new BadValue({ kind: 'usage', message: `-j wants a whole number ≥ 1, not "${v}"`, hint: 'cf --help' });
  return n;
}

function maxCostOf(v: string | boolean | undefined): number | null {
  if (typeof v !== 'string') return null;
  const n = Number(v.replace(/^\$/, ''));
  if (!Number.isFinite(n) || n < 0) throw new BadValue({ kind: 'usage', message: `--max-cost wants dollars (e.g. 5 or 0.50), not "${v}"`, hint: 'cf --help' });
  return n;
}

/** A commander error, with the command it came from (null: the program, before any command). */
class ParseError extends Error {
  constructor(
    readonly command: CommandName | null,
    readonly error: CommanderError,
  ) {
    super(error.message);
  }
}

/** The flags (-j, --jobs) of a command's declared options. */
/**
 * The program: the commands and the global options. Commander writes nothing itself (help and the version
 * are collected into `out`) and never exits the process: every error comes back as a ParseError.
 */
function program(out: string[], ran: (i: Invocation) => void): Command {
  const cf = new Command('cf')
    .usage('[-C DIR] COMMAND [options] [TARGET...]')
    .option('-C <DIR>', 'run as if started in DIR (like make -C)')
    .version(`cf ${CF_VERSION}`, '--version', 'print the version')
    .helpOption('-h, --help', 'this help')
    .helpCommand(false)
    .configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s), outputError: () => {} })
    .configureHelp({
      helpWidth: 110,
      showGlobalOptions: true,
      // -j N, as cf's usage writes it, not -j <N>.
      optionTerm: (o: Option) => o.flags.replace(/[<>]/g, ''),
      // The program's own help is cf's usage (commands, targets, options by command, exit codes).
      formatHelp: (cmd: Command, helper: Help) => (cmd.parent ? Help.prototype.formatHelp.call(helper, cmd, helper) : `${USAGE}\n`),
    })
    .exitOverride((e) => {
      throw new ParseError(null, e);
    })
    // A word that names no command (or none at all): cf's usage, or the command meant.
    .allowExcessArguments()
    .action(() => {
      throw new ParseError(null, new CommanderError(2, 'cf.noCommand', cf.args[0] ?? ''));
    });
  for (const name of COMMANDS) {
    const spec = SPECS[name];
    const sub = cf
      .command(name)
      .description(spec.summary)
      .usage(spec.usage)
      .allowExcessArguments()
      .exitOverride((e) => {
        throw new ParseError(name, e);
      })
      .action((values: Values, self: Command) => {
        ran(spec.make(values, path.resolve(String(cf.opts().C ?? '.')), self.args));
      });
    for (const o of spec.options()) sub.addOption(o);
    if (spec.after) sub.addHelpText('after', spec.after);
  }
  // `cf help COMMAND`: that command's help (as `cf COMMAND --help`).
  cf.command('help')
    .description("a command's options (also: cf COMMAND --help)")
    .usage('[COMMAND]')
    .allowExcessArguments()
    .exitOverride((e) => {
      throw new ParseError(null, e);
    })
    .action((_values: Values, self: Command) => {
      const [name] = self.args;
      if (!name) out.push(`${USAGE}\n`);
      else if (COMMANDS.includes(name as CommandName)) cf.commands.find((c) => c.name() === name)!.outputHelp();
      else throw new ParseError(null, new CommanderError(2, 'cf.unknownHelp', name));
    });
  return cf;
}

export function parseCommandLine(argv: string[]): Parsed {
  const out: string[] = [];
  let run: Invocation | null = null;
  const cf = program(out, (i) => (run = i));
  const globals = flagsOf(cf.options as Option[]).concat(['-h', '--help']);
  try {
    cf.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof BadValue) return { kind: 'error', error: e.error };
    if (!(e instanceof ParseError)) throw e;
    const { command, error: cause } = e;
    switch (cause.code) {
      case 'commander.helpDisplayed':
      case 'commander.version':
        return { kind: 'print', text: out.join(''), exitCode: 0 };
      case 'cf.noCommand':
        if (!cause.message) return { kind: 'print', text: `${USAGE}\n`, exitCode: 2 };
        return { kind: 'error', error: unknownCommand(CLI, cause.message) };
      case 'cf.unknownHelp':
        return { kind: 'error', error: { kind: 'usage', message: `cf help: unknown command "${cause.message}"${suggestion(cause.message, COMMANDS)}`, hint: `commands: ${COMMANDS.join(', ')}` } };
      case 'commander.unknownOption': {
        // `cf biuld --json`: the word that names no command is the mistake, not the option after it.
        const word = cf.args[0];
        if (command === null && word && !word.startsWith('-')) return { kind: 'error', error: unknownCommand(CLI, word) };
        const arg = /unknown option '(.*)'/.exec(cause.message)?.[1] ?? cause.message;
        return { kind: 'error', error: unknownOption(CLI, command, arg, globals, argv) };
      }
      case 'commander.optionMissingArgument': {
        const flags = /option '(.*)' argument missing/.exec(cause.message)?.[1];
        const message = flags ? `${flags.replace(/[<>]/g, '')} wants a value` : cause.message.replace(/^error: /, '');
        return { kind: 'error', error: { kind: 'usage', message, hint: command ? `cf help ${command} lists its options` : 'cf --help' } };
      }
      default:
        return { kind: 'error', error: { kind: 'usage', message: cause.message.replace(/^error: /, ''), hint: command ? `cf help ${command}` : 'cf --help' } };
    }
  }
  if (run) return { kind: 'run', run };
  // `cf help [COMMAND]` printed.
  return { kind: 'print', text: out.join(''), exitCode: 0 };
}
