/**
 * Like GNU make, cf runs a shell-string command without a shell when it needs none: plain words,
 * quotes, $VAR / ${VAR} expansions and simple redirections (< file, > file, >> file, 2> file) are done
 * here; anything else (pipes, lists, globs, substitutions, ~, assignments…) goes to /bin/sh as written.
 * One process fewer per agent and validator run, which on a 20,000-seed build is thousands of execs.
 */
export interface SimpleCommand {
  argv: string[];
  stdin?: string;
  stdout?: { file: string; append: boolean };
  stderr?: { file: string; append: boolean };
}

/** Characters that make a word need a real shell when they appear unquoted. */
const SPECIAL = new Set(['|', '&', ';', '(', ')', '`', '*', '?', '[', ']', '{', '}', '~', '#', '!', '\n']);

export function parseSimpleCommand(cmd: string, env: Record<string, string | undefined>): SimpleCommand | null {
  const words: Array<{ text: string; quoted: boolean }> = [];
  let i = 0;
  const n = cmd.length;
  while (i < n) {
    while (i < n && (cmd[i] === ' ' || cmd[i] === '\t')) i++;
    if (i >= n) break;
    let text = '';
    let quoted = false;
    while (i < n && cmd[i] !== ' ' && cmd[i] !== '\t') {
      const c = cmd[i]!;
      if (c === "'") {
        const end = cmd.indexOf("'", i + 1);
        if (end === -1) return null;
        text += cmd.slice(i + 1, end);
        i = end + 1;
        quoted = true;
      } else if (c === '"') {
        i++;
        while (i < n && cmd[i] !== '"') {
          const d = cmd[i]!;
          if (d === '\\' && i + 1 < n && '$`"\\\n'.includes(cmd[i + 1]!)) {
            text += cmd[i + 1];
            i += 2;
          } else if (d === '$') {
            const v = expand(cmd, i, env);
            if (!v) return null;
            text += v.value;
            i = v.end;
          } else if (d === '`') {
            return null;
          } else {
            text += d;
            i++;
          }
        }
        if (i >= n) return null;
        i++;
        quoted = true;
      } else if (c === '\\') {
        if (i + 1 >= n) return null;
        text += cmd[i + 1];
        i += 2;
      } else if (c === '$') {
        // Unquoted expansion would be split into fields: leave that to the shell.
        return null;
      } else if (SPECIAL.has(c)) {
        return null;
      } else if (c === '<' || c === '>') {
        // Only as an operator of its own ("<", ">", ">>", "2>", "2>>"), not glued to a word (a>b).
        if (quoted || !/^(2|>|2>)?$/.test(text) || (c === '<' && text !== '')) return null;
        text += c;
        i++;
      } else {
        text += c;
        i++;
      }
    }
    words.push({ text, quoted });
  }
  // VAR=value cmd: an assignment, for the shell.
  if (words[0] && !words[0].quoted && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0].text)) return null;
  // Redirections: "<" / ">" / ">>" / "2>" / "2>>" as their own words, each followed by one word.
  const out: SimpleCommand = { argv: [] };
  for (let w = 0; w < words.length; w++) {
    const word = words[w]!;
    const op = word.quoted ? null : /^(2?>>?|<)$/.exec(word.text)?.[0] ?? null;
    if (op === null) {
      if (!word.quoted && /[<>]/.test(word.text)) return null;
      out.argv.push(word.text);
      continue;
    }
    const target = words[++w];
    if (!target || (!target.quoted && /[<>]/.test(target.text))) return null;
    if (op === '<') out.stdin = target.text;
    else if (op.startsWith('2')) out.stderr = { file: target.text, append: op === '2>>' };
    else out.stdout = { file: target.text, append: op === '>>' };
  }
  return out.argv.length ? out : null;
}

function expand(cmd: string, i: number, env: Record<string, string | undefined>): { value: string; end: number } | null {
  const braced = cmd[i + 1] === '{';
  const m = (braced ? /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/ : /^\$([A-Za-z_][A-Za-z0-9_]*)/).exec(cmd.slice(i));
  if (!m) return null;
  return { value: env[m[1]!] ?? '', end: i + m[0].length };
}
