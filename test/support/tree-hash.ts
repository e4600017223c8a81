// A fingerprint of a directory tree (paths, modes, mtimes and bytes, never following a symlink), to
// show that a sweep changed nothing in it.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every entry under `dir` except the subtree at `skip`, with its mode, mtime and bytes. */
export function treeHash(dir: string, skip?: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (path === skip) continue;
      const st = lstatSync(path);
      h.update(`${path}\0${st.mode}\0${st.mtimeMs}\0`);
      if (st.isDirectory()) walk(path);
      else h.update(readFileSync(path));
    }
  };
  walk(dir);
  return h.digest('hex');
}
