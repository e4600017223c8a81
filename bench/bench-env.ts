// Benchmarks read tool paths (e.g. the pyworkflow virtualenv) from the test environment file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function envValue(name: string): string {
  if (process.env[name]) return process.env[name];
  const file = join(import.meta.dirname, '..', '..', '.test-env', 'env');
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
      if (m && m[1] === name) return m[2]!;
    }
  }
  throw new Error(`${name} is not set: run \`npm run env:up\` first`);
}
