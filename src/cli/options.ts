import type { UserError } from '../util/errors.js';

/** What each command is given once its command line is parsed (args.ts). */

/** Every option some command takes, validated. Each command gets the part it declares (the types below). */
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
  /** --serve (build, watch): the dashboard served in-process, where (null: not served). */
  serve: ServeSettings | null;
  /** --remote-cache URL (a string), --no-remote-cache (false); absent: pipeline.yaml's, or CF_REMOTE_CACHE. */
  remoteCache?: string | false;
  /** --queue URL (a string), --no-queue (false); absent: pipeline.yaml's `queue:`, or CF_QUEUE. */
  queue?: string | false;
}

/** Where the dashboard is served (cf serve, --serve): --host, --port, --token (null: generated when needed). */
export interface ServeSettings {
  host: string;
  port: number;
  token: string | null;
}
export type BuildOptions = GlobalOptions;
export type WatchOptions = Pick<GlobalOptions, 'dir' | 'jobs' | 'json' | 'verbose' | 'maxCost' | 'allowEmptySeeds' | 'serve' | 'remoteCache'>;
export type ServeOptions = Pick<GlobalOptions, 'dir'> & { serve: ServeSettings };
export type CorrectOptions = Pick<GlobalOptions, 'dir' | 'json'>;
/** `cf correct`'s own options: the whole item, or a pointer and its value (JSON text), and who corrects. */
export interface CorrectValues {
  set?: string;
  pointer?: string;
  value?: string;
  author?: string;
}
/** `cf corrections`: keep (re-base) or drop an item's corrections. */
export interface CorrectionsValues {
  keep?: string;
  drop?: string;
}
/** `cf gc`: the local store, or (--remote) the shared cache's objects older than `olderThanMs`. */
export type GcOptions = Pick<GlobalOptions, 'dir' | 'dryRun' | 'remoteCache'> & { remote: boolean; olderThanMs: number | null };
/** `cf status`: with a queue (`queue`, as cf build's), also which worker runs which batch. */
export type StatusOptions = Pick<GlobalOptions, 'dir' | 'json' | 'queue'>;
/** `cf worker`: runs the jobs of a queue in this checkout (`name`: how the coordinator names it; default host:pid). */
export type WorkerOptions = Pick<GlobalOptions, 'dir' | 'jobs' | 'json' | 'queue'> & { name?: string };
export type ExplainOptions = Pick<GlobalOptions, 'dir' | 'json'>;
export type CleanOptions = Pick<GlobalOptions, 'dir' | 'dryRun'>;
export type CheckCommandOptions = Pick<GlobalOptions, 'dir' | 'json'>;
/** `cf check`'s own options: the document kind and the files it is checked against. */
export interface CheckOptions {
  /** --phase NAME: check FILE as that phase's output (its schema and validators), in this pipeline. */
  phase?: string;
  as?: string;
  rules?: string;
  seeds?: string;
  seedPairs?: string;
  legoPairs?: string;
  lang?: string;
  targetName?: string;
}

export type AdoptOptions = Pick<GlobalOptions, 'dir' | 'json'>;
/** `cf init [DIR]`: which template (undefined: minimal). */
export type InitOptions = Pick<GlobalOptions, 'dir'> & { template: string | undefined };
/** `cf graph`: the format (undefined: mermaid) and whether each batch's state is shown. */
export type GraphOptions = Pick<GlobalOptions, 'dir'> & { format: string | undefined; batches: boolean };

/** A command to run, with its options and its positional arguments (each command checks their number). */
export type Invocation =
  | { command: 'build'; opts: BuildOptions; args: string[] }
  | { command: 'watch'; opts: WatchOptions; args: string[] }
  | { command: 'status'; opts: StatusOptions; args: string[] }
  | { command: 'explain'; opts: ExplainOptions; args: string[] }
  | { command: 'clean'; opts: CleanOptions; args: string[] }
  | { command: 'check'; opts: CheckCommandOptions; args: string[]; check: CheckOptions }
  | { command: 'adopt'; opts: AdoptOptions; args: string[]; from: string | undefined }
  | { command: 'serve'; opts: ServeOptions; args: string[] }
  | { command: 'correct'; opts: CorrectOptions; args: string[]; correct: CorrectValues }
  | { command: 'corrections'; opts: CorrectOptions; args: string[]; corrections: CorrectionsValues }
  | { command: 'gc'; opts: GcOptions; args: string[] }
  | { command: 'init'; opts: InitOptions; args: string[] }
  | { command: 'graph'; opts: GraphOptions; args: string[] }
  | { command: 'worker'; opts: WorkerOptions; args: string[] };

export type CommandName = Invocation['command'];

export type Parsed =
  | { kind: 'run'; run: Invocation }
  /** Help or the version on stdout; exit 2 when no command was given. */
  | { kind: 'print'; text: string; exitCode: 0 | 2 }
  | { kind: 'error'; error: UserError };
