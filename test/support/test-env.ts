// Access to the test environment written by `npm run env:up` (.test-env/env). A missing variable is
// a failure, never a skip: integration tests need their real server.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ENV_FILE = process.env.PYWR_ENV_FILE ?? join(REPO_ROOT, '.test-env', 'env');

/** Parses KEY=VALUE lines (comments and blanks ignored). */
export function readEnvFile(path = ENV_FILE): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** The value of a test-environment variable; throws with a pointer to `npm run env:up` when missing. */
export function requireEnv(name: string): string {
  const value = process.env[name] ?? readEnvFile()[name];
  if (value === undefined || value === '') {
    throw new Error(`test environment variable ${name} is not set: run \`npm run env:up\` first (it writes ${ENV_FILE})`);
  }
  return value;
}

/** The built CLI entry point (tests that spawn the real program use it). */
export const CLI_PATH = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
