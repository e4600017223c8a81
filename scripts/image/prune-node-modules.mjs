// Run in the image's build stage after `npm prune --omit=dev`: deletes from node_modules what the
// runtime never loads, so that the image carries only the code the CLI runs.
// - type declarations, source maps and TypeScript sources (node loads .js/.cjs/.mjs/.json/.node);
// - koffi's prebuilt binaries for other platforms (its loader picks build/koffi/<platform>_<arch>,
//   then the musl_ variant, see node_modules/koffi/index.js) and its C++ sources;
// - better-sqlite3's SQLite sources and compiler outputs (only build/Release/better_sqlite3.node loads);
// - prebuilt addons for other platforms (`prebuilds/<platform>-<arch>`, e.g. the bare-* packages'
//   binaries for the Bare runtime, which node never loads) and packages' own test and example folders.
// check-load.mjs then loads every module of the CLI, so a file removed here that is needed fails the build.
// Usage: node prune-node-modules.mjs <node_modules dir>

import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
if (!root) {
  console.error('usage: prune-node-modules.mjs <node_modules dir>');
  process.exit(2);
}

let freed = 0;
function remove(path) {
  try {
    freed += size(path);
    rmSync(path, { recursive: true, force: true });
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
}
function size(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, e) => n + size(join(path, e)), 0);
}

const DROP_FILE = /\.(d\.)?[cm]?ts$|\.map$|\.tsbuildinfo$/;
function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isFile() && DROP_FILE.test(e.name)) remove(p);
  }
}
walk(root);

// Folders at a package's root that no package loads at run time.
const DROP_DIR = new Set(['test', 'tests', '__tests__', 'example', 'examples']);
const hostPrebuild = `${process.platform}-${process.arch}`;
function packages(dir) {
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).flatMap((e) =>
    e.name.startsWith('@') ? packages(join(dir, e.name)) : [join(dir, e.name)]);
}
for (const pkg of packages(root)) {
  for (const e of readdirSync(pkg, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    if (DROP_DIR.has(e.name)) remove(join(pkg, e.name));
    else if (e.name === 'prebuilds') {
      for (const t of readdirSync(join(pkg, e.name))) if (t !== hostPrebuild) remove(join(pkg, e.name, t));
    } else if (e.name === 'node_modules') {
      for (const nested of packages(join(pkg, e.name))) walkPackage(nested);
    }
  }
}
function walkPackage(pkg) {
  for (const e of readdirSync(pkg, { withFileTypes: true })) {
    if (e.isDirectory() && DROP_DIR.has(e.name)) remove(join(pkg, e.name));
  }
}

const platform = `${process.platform}_${process.arch}`;
const koffiBuilds = join(root, 'koffi', 'build', 'koffi');
for (const t of readdirSync(koffiBuilds)) {
  if (t !== platform && t !== platform.replace(/^linux_/, 'musl_')) remove(join(koffiBuilds, t));
}
for (const d of ['src', 'vendor', 'doc']) remove(join(root, 'koffi', d));

const sqlite = join(root, 'better-sqlite3');
for (const d of ['deps', 'src', 'binding.gyp']) remove(join(sqlite, d));
const release = join(sqlite, 'build', 'Release');
for (const e of readdirSync(join(sqlite, 'build'))) if (e !== 'Release') remove(join(sqlite, 'build', e));
for (const e of readdirSync(release)) if (e !== 'better_sqlite3.node') remove(join(release, e));

console.log(`prune-node-modules: removed ${(freed / 1048576).toFixed(1)} MiB`);
