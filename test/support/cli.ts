// Runs the built CLI (dist/src/cli/main.js) as a real process, the way a user or the run pod does.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runProcess } from './process.js';
import { CLI_PATH } from './test-env.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function requireBuilt(): void {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` before the tests`);
}

export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  requireBuilt();
  return runProcess(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env } });
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  requireBuilt();
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Calls `onLine` with each whole line the CLI writes to stderr (its log lines), as they arrive. */
export function onStderrLines(child: ChildProcess, onLine: (line: string) => void): void {
  let buffered = '';
  child.stderr!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}
