import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, USAGE, type Invocation, type Parsed } from '../src/cli/args.js';
import { formatUserError } from '../src/util/errors.js';
import { CF_VERSION } from '../src/version.js';

function run(argv: string[]): Invocation {
  const p = parseCommandLine(argv);
  if (p.kind !== 'run') throw new Error(`expected a command, got ${JSON.stringify(p)}`);
  return p.run;
}

/** The error as cf prints it. */
function error(argv: string[]): string {
  const p = parseCommandLine(argv);
  if (p.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(p)}`);
  return formatUserError(p.error);
}

function printed(argv: string[]): Extract<Parsed, { kind: 'print' }> {
  const p = parseCommandLine(argv);
  if (p.kind !== 'print') throw new Error(`expected text, got ${JSON.stringify(p)}`);
  return p;
}

describe('the command line: each command takes only its own options', () => {
  it('parses a command, its options and its targets; -C before or after the command', () => {
    expect(run(['build', '-j', '3', '--json', 'pairs', '--max-cost', '$0.50', '-qv'])).toEqual({
      command: 'build',
      opts: { dir: process.cwd(), jobs: 3, json: true, dryRun: false, quiet: true, verbose: true, maxCost: 0.5, allowEmptySeeds: false, serve: null },
      args: ['pairs'],
    });
    expect(run(['-C', 'x', 'status']).opts.dir).toBe(path.resolve('x'));
    expect(run(['status', '-C', 'x', '--json'])).toEqual({ command: 'status', opts: { dir: path.resolve('x'), json: true }, args: [] });
    expect(run(['watch', '--jobs=2', 'legos'])).toMatchObject({ command: 'watch', opts: { jobs: 2, verbose: false, allowEmptySeeds: false }, args: ['legos'] });
    expect(run(['clean', '-n', 'pairs#1'])).toEqual({ command: 'clean', opts: { dir: process.cwd(), dryRun: true }, args: ['pairs#1'] });
    expect(run(['check', 'f.json', '--as', 'lego_pairs', '--seed-pairs', 'sp.json', '--json'])).toMatchObject({
      command: 'check',
      opts: { json: true },
      args: ['f.json'],
      check: { as: 'lego_pairs', seedPairs: 'sp.json', rules: undefined },
    });
    expect(run(['adopt', 'pairs', '--from', 'old.json'])).toMatchObject({ command: 'adopt', args: ['pairs'], from: 'old.json' });
    // The dashboard: served by cf serve, or with --serve by build and watch; where, and with which token.
    expect(run(['serve'])).toEqual({ command: 'serve', opts: { dir: process.cwd(), serve: { host: '127.0.0.1', port: 4280, token: null } }, args: [] });
    expect(run(['watch', '--serve', '--port', '0', '--host', '0.0.0.0', '--token', 'T'])).toMatchObject({ opts: { serve: { host: '0.0.0.0', port: 0, token: 'T' } } });
    expect(run(['correct', 'pairs', 'S0005', '--pointer', '/text', '--value', '"x"'])).toMatchObject({ command: 'correct', args: ['pairs', 'S0005'], correct: { pointer: '/text', value: '"x"' } });
    expect(run(['corrections', 'pairs', '--drop', 'S0005'])).toMatchObject({ command: 'corrections', args: ['pairs'], corrections: { drop: 'S0005' } });
  });

  it('an option the command does not take is exit 2, saying which commands take it', () => {
    expect(error(['status', '-j', '2'])).toBe('cf: error: cf status takes no -j option (cf build, cf watch and cf worker do)\n  hint: cf help status lists its options');
    const rejected: Array<[string, string]> = [
      ['watch', '-q'],
      ['status', '--max-cost'],
      ['explain', '-n'],
      ['clean', '--json'],
      ['clean', '-j'],
      ['check', '--allow-empty-seeds'],
      ['adopt', '-v'],
      ['build', '--from'],
    ];
    for (const [command, flag] of rejected) expect(error([command, flag])).toContain(`cf ${command} takes no ${flag} option`);
  });

  it('cf watch -n is refused: watch has no dry run', () => {
    expect(error(['watch', '-n'])).toBe('cf: error: cf watch has no dry run (-n): it builds on every change\n  hint: cf build -n shows what would run');
    expect(error(['watch', '--dry-run', 'pairs'])).toContain('cf build -n shows what would run');
  });

  it('an unknown option or command: did you mean', () => {
    expect(error(['build', '--jbos', '2'])).toBe('cf: error: unknown option "--jbos" for cf build (did you mean "--jobs"?)\n  hint: cf help build lists its options');
    expect(error(['status', '--jsno'])).toContain('(did you mean "--json"?)');
    expect(error(['build', '--frobnicate'])).toBe('cf: error: unknown option "--frobnicate" for cf build\n  hint: cf help build lists its options');
    expect(error(['biuld', '--json'])).toBe('cf: error: unknown command "biuld" (did you mean "build"?)\n  hint: cf --help');
    // A command's option before the command: where it goes.
    expect(error(['-j', '2', 'build', 'pairs'])).toBe('cf: error: -j goes after the command name (cf build, cf watch and cf worker take it)\n  hint: cf build -j 2 pairs');
  });

  it('bad values keep their messages', () => {
    expect(error(['build', '-j', '0'])).toBe('cf: error: -j wants a whole number ≥ 1, not "0"\n  hint: cf --help');
    expect(error(['build', '-j', 'x'])).toBe('cf: error: -j wants a whole number ≥ 1, not "x"\n  hint: cf --help');
    expect(error(['watch', '--max-cost', 'abc'])).toContain('--max-cost wants dollars (e.g. 5 or 0.50), not "abc"');
    expect(error(['build', '-j'])).toBe('cf: error: -j, --jobs N wants a value\n  hint: cf help build lists its options');
  });

  it("help: cf help COMMAND and cf COMMAND --help list that command's options; cf --help is cf's usage", () => {
    const help = printed(['help', 'build']);
    expect(help.exitCode).toBe(0);
    for (const line of ['-j, --jobs N', '-n, --dry-run', '--json', '-q, --quiet', '-v, --verbose', '--max-cost USD', '--allow-empty-seeds', '-C DIR']) expect(help.text).toContain(line);
    expect(printed(['build', '--help'])).toEqual(help);
    expect(printed(['build', '-h', '--jbos'])).toEqual(help);
    const clean = printed(['help', 'clean']).text;
    expect(clean).toMatch(/-n, --dry-run +list what would be deleted; delete nothing/);
    expect(clean).not.toContain('--json');
    expect(printed(['--help'])).toEqual({ kind: 'print', text: `${USAGE}\n`, exitCode: 0 });
    expect(printed(['help'])).toEqual({ kind: 'print', text: `${USAGE}\n`, exitCode: 0 });
    expect(printed([])).toEqual({ kind: 'print', text: `${USAGE}\n`, exitCode: 2 });
    expect(printed(['--version'])).toEqual({ kind: 'print', text: `cf ${CF_VERSION}\n`, exitCode: 0 });
    expect(error(['help', 'biuld'])).toContain('cf help: unknown command "biuld" (did you mean "build"?)');
  });

  it('init [DIR] --template, graph --format --batches, check FILE --phase: parsed; each has its own help', () => {
    expect(run(['init', 'demo', '--template', 'course'])).toEqual({ command: 'init', opts: { dir: process.cwd(), template: 'course' }, args: ['demo'] });
    expect(run(['-C', 'x', 'graph', '--format', 'dot', '--batches'])).toEqual({ command: 'graph', opts: { dir: path.resolve('x'), format: 'dot', batches: true }, args: [] });
    expect(run(['check', 'out/pairs.json', '--phase', 'pairs'])).toMatchObject({ command: 'check', args: ['out/pairs.json'], check: { phase: 'pairs' } });
    expect(printed(['help', 'init']).text).toMatch(/^Usage: cf init \[options\] \[DIR\]\n[\s\S]*--template NAME/);
    expect(printed(['graph', '--help']).text).toMatch(/^Usage: cf graph \[options\]\n[\s\S]*--format FORMAT[\s\S]*--batches/);
    expect(error(['graph', '-j', '2'])).toBe('cf: error: cf graph takes no -j option (cf build, cf watch and cf worker do)\n  hint: cf help graph lists its options');
  });

  it("cf's usage names every option some command takes, with the commands that take it", () => {
    for (const command of ['init', 'build', 'watch', 'status', 'explain', 'clean', 'check', 'adopt', 'graph', 'serve', 'correct', 'corrections']) {
      const text = printed(['help', command]).text;
      const options = [...text.slice(text.indexOf('Options:'), text.indexOf('Global Options:')).matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);
      expect(options.length).toBeGreaterThan(1);
      for (const o of options) expect(USAGE, `${o} (cf ${command})`).toContain(o);
    }
  });
});
