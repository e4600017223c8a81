// Run in the image's build stage after pruning: loads every compiled module of the CLI (so every
// dependency it imports) and exercises the two native modules, so that the build fails when pruning
// removed a file the CLI needs or a native module does not load with this node.
// Usage: node check-load.mjs <dist/src dir>

import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = resolve(process.argv[2] ?? 'dist/src');
// cli/main.js runs the CLI when loaded; everything it imports is loaded through the other modules.
const files = readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js') && f !== join('cli', 'main.js'));
for (const f of files) await import(pathToFileURL(join(dir, f)).href);

const require = createRequire(join(dir, '..', '..', 'package.json'));
const Database = require('better-sqlite3');
const { v } = new Database(':memory:').prepare('select sqlite_version() as v').get();
const koffi = require('koffi');
const getpid = koffi.load('libc.so.6').func('int getpid()');
if (getpid() !== process.pid) throw new Error('koffi: getpid() disagrees with process.pid');
console.log(`check-load: ${files.length} modules loaded; better-sqlite3 (SQLite ${v}) and koffi work`);
