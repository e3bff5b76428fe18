import { CF_VERSION } from '../version.js';

export const TARGETS_HELP = `
targets: an output path (out/pairs.json), its file name when unambiguous (pairs.json),
         a phase name (pairs), or one batch (pairs#3)`;

/** `cf --help`: every command on a line or two, the targets, and the options by command. */
export const USAGE = `cf ${CF_VERSION}: a content-addressed build tool for LLM-agent pipelines

usage: cf [-C DIR] COMMAND [options] [TARGET...]

commands:
  init [DIR]            start a project: a pipeline that cf build builds offline, in DIR (default: here)
                        [--template minimal|course]
  build [TARGET...]     build targets (default: every phase's output); runs only stale batches
  watch [TARGET...]     build, then rebuild what each saved change affects (Ctrl-C to stop)
  status                per phase: batches fresh, stale, failed; merged outputs; recorded failures
  explain TARGET...     why a target is stale or fresh, naming what changed
  graph                 the phases and what each reads [--format mermaid|dot|json] [--batches]
  clean [TARGET...]     delete merged outputs and forget batch records (default: everything)
  check FILE            check an existing file: --phase NAME as that phase's output (its schema and
                        validators), or an SSi file by its rule set: per-rule counts and every failure
                        [--as seed_pairs|lego_pairs|lego_baskets] [--rules r1,r2] [--lang spa]
                        [--seeds canonical.json [--target-name NAME]] [--seed-pairs F] [--lego-pairs F]
                        (companion files default to those beside FILE) [--json]
  adopt PHASE --from F  take an existing merged output as PHASE's batches, fresh for the current inputs
  serve                 a live dashboard of the course [--port 4280] [--host 127.0.0.1] [--token T]
  correct PHASE ID      correct a generated item (--set JSON | --pointer /p --value JSON) [--author A]
  corrections [PHASE]   list corrections; [--keep ID] re-bases one on the item generated now, [--drop ID]
  gc                    delete stored outputs no record refers to; --remote --older-than 30d: the
                        shared cache's objects not written for 30 days
  worker --queue URL    run the stale batches a cf build --queue enqueues, in this checkout [-j N]
  help COMMAND          a command's options (also: cf COMMAND --help)
${TARGETS_HELP}

options (each command takes only its own; cf help COMMAND lists them):
  -C DIR                run as if started in DIR (like make -C); before or after the command
  -j, --jobs N          build, watch: agent runs at once (default: pipeline.yaml "jobs", else 4)
  -n, --dry-run         build: list what would run and why; run nothing
                        clean: list what would be deleted; delete nothing
  --json                NDJSON events (build, watch) or one JSON document (status, explain, check, adopt)
                        on stdout
  -q, --quiet           build: print only failures and the summary
  -v, --verbose         build: also print fresh targets and why each batch runs (watch: every batch)
  --max-cost USD        build: start no agent run that would take the build's spending past USD
                        (watch: the whole session's spending)
  --allow-empty-seeds   build, watch: build from a seeds file that holds no seeds (rewriting the
                        outputs empty); without it cf build refuses when outputs hold items (exit 2)
  --serve               build, watch: serve the dashboard while it runs (--port, --host, --token as cf serve)
  --remote-cache URL    build, watch, gc: the shared cache for this run (s3://BUCKET/PREFIX or a
                        directory), instead of pipeline.yaml's cache: (also CF_REMOTE_CACHE=URL)
  --no-remote-cache     build, watch: no shared cache for this run (also CF_REMOTE_CACHE=off)
  --queue URL           build, worker: the Redis of cf worker processes on other machines
                        (redis://HOST:PORT; also queue: in pipeline.yaml, CF_QUEUE); --no-queue: none;
                        status: also which batch runs on which worker
  -h, --help            this help
  --version             print the version

exit codes: 0 done, 1 a target failed or was not built, 2 bad usage or config, 130 interrupted`;
