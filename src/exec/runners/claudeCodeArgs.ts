import { PIPELINE_DIR } from '../../config/pipeline.js';

/*
 * How cf runs Claude Code for an attempt: the preset's command as it is keyed (config/builtinRunners.ts),
 * with the flags and environment that make a run an agent run of a build rather than a session of a person.
 * None of these change what the agent is asked; they change what it may touch, what it leaves behind, and
 * what cf learns of it. Checked against `@anthropic-ai/claude-code` 2.1.332 (test/claudecode.real.cli.test.ts).
 */

/** Flags every run gets, after `-p`. */
const RUN_FLAGS = [
  // Runs are not sessions to resume: without it, every attempt's prompt, data and answer stay in ~/.claude/projects.
  '--no-session-persistence',
  // The working directory, environment and memory paths go into the first user message, not the system
  // prompt: the system prompt is the same for every batch (in any attempt directory) and is read from the
  // prompt cache across batches.
  '--exclude-dynamic-system-prompt-sections',
];

/**
 * The output format cf reads: an event a line as it happens, each model call's usage included
 * (claudeCodeOutput.ts); subagents' messages too (without it, a killed run's subagent calls go untold).
 */
const STREAM_FORMAT = ['stream-json', '--verbose', '--include-partial-messages', '--forward-subagent-text'];

/**
 * The environment cf sets for Claude Code (over its own; a runner's `env:` still overrides it): what an
 * agent run reads is what its key says.
 * - CLAUDE_CODE_DISABLE_CLAUDE_MDS: no CLAUDE.md of the pipeline's directory, its parents or ~/.claude is
 *   read (they are not keyed: an edit to one would leave batches fresh); `claude_md: true` turns them on.
 * - CLAUDE_CODE_DISABLE_AUTO_MEMORY: no auto-memory: notes an earlier run wrote for the attempt's directory
 *   would be an input no key holds (there is no opt-in: the agent writes them itself).
 * - DISABLE_AUTOUPDATER: the CLI does not replace itself in the middle of a build.
 * Telemetry and other traffic are the user's settings (CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, in the
 * environment or the runner's env:).
 */
export function claudeCodeEnv(claudeMd: boolean): Record<string, string> {
  return {
    ...(claudeMd ? {} : { CLAUDE_CODE_DISABLE_CLAUDE_MDS: '1' }),
    CLAUDE_CODE_DISABLE_AUTO_MEMORY: '1',
    DISABLE_AUTOUPDATER: '1',
  };
}

/**
 * A permission rule's path: `//` and the absolute path (a single `/` would be relative to the settings
 * source), with the characters of gitignore-style patterns escaped.
 */
function rulePath(dir: string): string {
  return `/${dir.replace(/[\\*?[\]{}!]/g, (c) => `\\${c}`)}`;
}

export interface ClaudeCodeRun {
  /** The preset's argv as keyed, PIPELINE_DIR not yet put in. */
  argv: string[];
  pipelineDir: string;
  /** The pipeline's directory as the CLI may see it too, when it differs (a symlink resolved). */
  realPipelineDir?: string;
  /** The run's working directory is its attempt's own (cwd: run): writes are confined to it. */
  confined: boolean;
  /** The phase's model, replacing (or adding) --model. */
  model?: string;
  /** The batch schema the answer is held to (--json-schema: the StructuredOutput tool), in print mode. */
  jsonSchema?: string;
}

/**
 * The argv of one run. The preset gave `--permission-mode acceptEdits --add-dir <pipeline>`: edits were
 * accepted anywhere in the pipeline's directory, `.cf/` and the seeds included. Confined, the pipeline's
 * directory is no working directory (no --add-dir): edits (the Write and Edit tools, and the Bash tool's
 * file commands and redirections) are accepted in the attempt's directory only, and anything else that
 * would need a permission is refused (nobody answers prompts in -p mode); a Read rule keeps the pipeline
 * readable.
 */
export function claudeCodeArgv(run: ClaudeCodeRun): string[] {
  const argv = run.argv.map((a) => a.replaceAll(PIPELINE_DIR, run.pipelineDir));
  // The flags go after -p (headless mode): a command without it is no Claude Code run of the preset's.
  const p = argv.indexOf('-p');
  if (p >= 0) {
    const format = argv.indexOf('--output-format');
    if (format >= 0 && argv[format + 1] === 'json') argv.splice(format + 1, 1, ...STREAM_FORMAT);
    const flags = [...RUN_FLAGS];
    const addDir = argv.findIndex((a, i) => a === '--add-dir' && argv[i + 1] === run.pipelineDir);
    if (run.confined && addDir >= 0) {
      argv.splice(addDir, 2);
      // A rule of --allowedTools (not --settings, which a runner's args could give again and replace): repeated, its rules add up.
      const dirs = [...new Set([run.pipelineDir, run.realPipelineDir ?? run.pipelineDir])];
      flags.push('--allowedTools', ...dirs.map((d) => `Read(${rulePath(d)}/**)`));
    }
    if (run.jsonSchema !== undefined) flags.push('--json-schema', run.jsonSchema);
    argv.splice(p + 1, 0, ...flags);
  }
  if (run.model) {
    const i = argv.indexOf('--model');
    if (i >= 0 && i + 1 < argv.length) argv[i + 1] = run.model;
    else argv.splice(p >= 0 ? p + 1 : argv.length, 0, '--model', run.model);
  }
  return argv;
}
