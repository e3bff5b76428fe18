import { describe, expect, it } from 'vitest';
import { stderrDetail, summarizeStderr } from '../src/runners/stderrSummary.js';

describe("a failing command's stderr is told by its error line", () => {
  const NODE_MISSING = `node:internal/modules/cjs/loader:1210
  throw err;
  ^

Error: Cannot find module '/tmp/p/missing.js'
    at Module._resolveFilename (node:internal/modules/cjs/loader:1207:15)
    at node:internal/main/run_main_module:28:49 {
  code: 'MODULE_NOT_FOUND',
  requireStack: []
}

Node.js v20.20.0
`;
  it('Node: a missing script, a thrown error (with where), an ESM import error', () => {
    expect(summarizeStderr(NODE_MISSING)).toBe("Error: Cannot find module '/tmp/p/missing.js'");
    const thrown = `/tmp/p/agent.js:3
throw new Error('no answer from the model');
^

Error: no answer from the model
    at Object.<anonymous> (/tmp/p/agent.js:3:7)
    at Module._compile (node:internal/modules/cjs/loader:1554:14)

Node.js v20.20.0`;
    expect(summarizeStderr(thrown)).toBe('Error: no answer from the model (at /tmp/p/agent.js:3:7)');
    const esm = `node:internal/modules/esm/resolve:854
  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);
        ^

Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'openai' imported from /tmp/p/agent.mjs
    at packageResolve (node:internal/modules/esm/resolve:854:9) {
  code: 'ERR_MODULE_NOT_FOUND'
}`;
    expect(summarizeStderr(esm)).toBe("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'openai' imported from /tmp/p/agent.mjs");
  });

  it("Python: a traceback's last line with its frame; a script that cannot be opened", () => {
    const tb = `Traceback (most recent call last):
  File "/tmp/p/check.py", line 12, in <module>
    main()
  File "/tmp/p/check.py", line 8, in main
    data = json.load(f)
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
`;
    expect(summarizeStderr(tb)).toBe('json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0) (at /tmp/p/check.py line 8)');
    expect(summarizeStderr("python3: can't open file '/tmp/p/missing.py': [Errno 2] No such file or directory\n")).toBe(
      "python3: can't open file '/tmp/p/missing.py': [Errno 2] No such file or directory",
    );
  });

  it('other programs: error:/panic: lines, else the last lines that are not stack frames', () => {
    expect(summarizeStderr('compiling…\nerror[E0425]: cannot find value `x` in this scope\n  --> src/main.rs:2:5\n')).toBe('error[E0425]: cannot find value `x` in this scope');
    expect(summarizeStderr('panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/tmp/main.go:8 +0x1d\n')).toBe(
      'panic: runtime error: index out of range [5] with length 3',
    );
    expect(summarizeStderr('loading model\ncalling the API\n/bin/sh: 1: claude: not found\n')).toBe('loading model / calling the API / /bin/sh: 1: claude: not found');
    expect(summarizeStderr('')).toBe('');
  });

  it('the detail is the error line first, then the end of stderr as it was', () => {
    const d = stderrDetail(NODE_MISSING);
    expect(d.split('\n')[0]).toBe("Error: Cannot find module '/tmp/p/missing.js'");
    expect(d).toContain('node:internal/modules/cjs/loader:1210\n  throw err;');
    expect(stderrDetail('just this\n')).toBe('just this');
    expect(stderrDetail('  \n')).toBe('');
  });
});
