#!/usr/bin/env node
// Entry point of `pyworkflow-retention`: dispatches to the sweep command (the run inside the CronJob's
// pod) and the controller; maps errors to exit codes (2 bad input, 1 failure).

import { RetentionError } from '../errors.js';

// Commands load their modules lazily: the long-running controller never carries the sweep's
// config validators and backends, and a sweep never loads the controller.
async function usage(): Promise<string> {
  const { SWEEP_USAGE } = await import('./sweep-command.js');
  return `Usage: pyworkflow-retention <command> [options]

Commands:
  sweep        purge old pyworkflow runs from one store (see: pyworkflow-retention sweep --help)
  controller   run the Kubernetes operator
  version      print the version

${SWEEP_USAGE}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const abort = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => abort.abort(new Error(`received ${sig}`)));
  }
  const io = { stdout: process.stdout, stderr: process.stderr, env: process.env, now: () => new Date(), signal: abort.signal };
  switch (command) {
    case 'sweep': {
      const { runSweepCommand } = await import('./sweep-command.js');
      return runSweepCommand(rest, io);
    }
    case 'controller': {
      const { runController } = await import('./controller-command.js');
      return runController(rest, io);
    }
    case 'version':
    case '--version':
      process.stdout.write(`${await version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(await usage());
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`error: unknown command "${command}"\n\n${await usage()}`);
      return 2;
  }
}

async function version(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

// Once the command has returned, its result is written and nothing else is owed; a handle a driver
// leaves behind after closing (cassandra-driver 4.10 keeps a timer for about a minute after its
// connection was cut) must not keep a finished run pod alive. Unref'd: it never delays a clean exit.
function exitSoon(): void {
  setTimeout(() => process.exit(), 2000).unref();
}

const verbose = process.argv.includes('--verbose');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    exitSoon();
  },
  (err: unknown) => {
    if (err instanceof RetentionError) {
      process.stderr.write(`error: ${err.message}\n`);
      if (verbose && err.cause instanceof Error) process.stderr.write(`${err.cause.stack ?? ''}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      if (verbose && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
      process.exitCode = 1;
    }
    exitSoon();
  },
);
