import { describe, expect, it } from 'vitest';
import { parseSimpleCommand } from '../src/exec/processes/shellWords.js';

const env = { CF_OUTPUT_FILE: '/tmp/out dir/o.json', CF_PHASE: 'p1', EMPTY: '' };

describe('running shell strings without a shell when they need none', () => {
  it('plain words, quotes, expansions inside double quotes, redirections', () => {
    expect(parseSimpleCommand('grep -q phase "$CF_OUTPUT_FILE"', env)).toEqual({ argv: ['grep', '-q', 'phase', '/tmp/out dir/o.json'] });
    expect(parseSimpleCommand(`mawk -v ph="\${CF_PHASE}" -f 'a b.awk' in.json > "$CF_OUTPUT_FILE"`, env)).toEqual({
      argv: ['mawk', '-v', 'ph=p1', '-f', 'a b.awk', 'in.json'],
      stdout: { file: '/tmp/out dir/o.json', append: false },
    });
    expect(parseSimpleCommand('cmd < in.txt 2>> err.log', env)).toEqual({ argv: ['cmd'], stdin: 'in.txt', stderr: { file: 'err.log', append: true } });
    expect(parseSimpleCommand('echo "x$EMPTY" \\"y\\"', env)).toEqual({ argv: ['echo', 'x', '"y"'] });
  });

  it('leaves everything else to /bin/sh', () => {
    for (const cmd of ['a | b', 'a && b', 'a; b', 'echo $CF_PHASE', 'ls *.json', 'echo ~', 'X=1 cmd', 'echo $(date)', 'echo `date`', 'a>b', 'cmd > ', 'echo "unterminated', '# comment', 'a &'])
      expect(parseSimpleCommand(cmd, env), cmd).toBeNull();
  });
});
