// The controller runtime (src/controller) is a library: it must not import the reconcilers, the CLI or
// the storage backends, so it can be read, tested and reused without them (README "Layout").
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The folders under src/ that a file imports from (relative imports only). */
function importedFolders(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, resolve(join(file, '..'), s)).split('/')[0]!);
}

describe('layering', () => {
  it('src/controller imports nothing from src/reconcilers, src/cli or src/backends', () => {
    const offences = tsFiles(join(SRC, 'controller')).flatMap((f) =>
      importedFolders(f)
        .filter((folder) => ['reconcilers', 'cli', 'backends'].includes(folder))
        .map((folder) => `${relative(SRC, f)} imports from src/${folder}`),
    );
    expect(offences).toEqual([]);
  });

  it('the check sees an import of a forbidden folder', () => {
    expect(importedFolders(join(SRC, 'reconcilers', 'setup.ts'))).toContain('controller');
  });
});
