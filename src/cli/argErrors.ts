import type { Option } from 'commander';
import { suggestion } from '../util/didYouMean.js';
import type { UserError } from '../util/errors.js';
import type { CommandName } from './options.js';

/** The commands and each one's options: what an unknown option or command is told against. */
export interface Cli {
  commands: CommandName[];
  optionsOf(command: CommandName): Option[];
}

export function flagsOf(options: Option[]): string[] {
  return options.flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f)));
}

/** The commands other than `except` that declare this flag. */
function commandsTaking(flag: string, except: CommandName | null, cli: Cli): CommandName[] {
  return cli.commands.filter((c) => c !== except && flagsOf(cli.optionsOf(c)).includes(flag));
}

function list(names: string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** An option the command does not declare: said in cf's words, with where it belongs or what was meant. */
export function unknownOption(cli: Cli, command: CommandName | null, arg: string, globals: string[], argv: string[]): UserError {
  const flag = arg.startsWith('--') ? arg.replace(/=.*$/, '') : arg;
  if (command === 'watch' && (flag === '-n' || flag === '--dry-run')) {
    return { kind: 'usage', message: `cf watch has no dry run (${flag}): it builds on every change`, hint: 'cf build -n shows what would run' };
  }
  const takers = commandsTaking(flag, command, cli);
  const elsewhere = takers.map((c) => `cf ${c}`);
  if (command === null) {
    if (!takers.length) return { kind: 'usage', message: `unknown option "${flag}"${longSuggestion(flag, globals)}`, hint: 'cf --help' };
    // A command's option given before the command: the same words with the command first, when it takes it.
    const at = argv.findIndex((a) => takers.includes(a as CommandName));
    const fixed = at >= 0 ? `cf ${[argv[at], ...argv.slice(0, at), ...argv.slice(at + 1)].join(' ')}` : `${elsewhere[0]} ${flag} …`;
    return { kind: 'usage', message: `${flag} goes after the command name (${list(elsewhere)} take${takers.length === 1 ? 's' : ''} it)`, hint: fixed };
  }
  if (elsewhere.length) {
    return { kind: 'usage', message: `cf ${command} takes no ${flag} option (${list(elsewhere)} ${elsewhere.length === 1 ? 'does' : 'do'})`, hint: `cf help ${command} lists its options` };
  }
  const own = [...flagsOf(cli.optionsOf(command)), ...globals];
  return { kind: 'usage', message: `unknown option "${flag}" for cf ${command}${longSuggestion(flag, own)}`, hint: `cf help ${command} lists its options` };
}

export function unknownCommand(cli: Cli, word: string): UserError {
  return { kind: 'usage', message: `unknown command "${word}"${suggestion(word, cli.commands)}`, hint: 'cf --help' };
}

/** Did-you-mean for a long option (a one-letter option is too short to guess from). */
function longSuggestion(flag: string, candidates: string[]): string {
  return flag.startsWith('--') ? suggestion(flag, candidates.filter((c) => c.startsWith('--'))) : '';
}
