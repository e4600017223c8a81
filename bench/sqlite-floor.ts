// The SQLite floor, in its own process like the contenders it is compared with: exactly the rows our
// sweep deletes (the runs and their events, steps, hooks, cancellation flags and `{run_id}:`
// checkpoints), deleted by the minimal DELETE statements in one transaction, with the connection as
// pyworkflow opens it (foreign keys on, default page cache). Housekeeping rows are left out on both
// sides of the ratio's meaning: they are a few hundred rows here.
// Usage: node dist/bench/sqlite-floor.js <database> <cutoff ISO>; prints {"runs": n, "seconds": s}.

import Database from 'better-sqlite3';
import { formatPythonUtc } from '../src/backends/python-time.js';
import { TERMINAL_STATUSES } from '../src/engine/statuses.js';

const [path, cutoffIso] = process.argv.slice(2);
if (!path || !cutoffIso) throw new Error('usage: sqlite-floor.js <database> <cutoff ISO>');
const db = new Database(path, { fileMustExist: true });
db.pragma('foreign_keys = ON');
const statuses = TERMINAL_STATUSES.map((s) => `'${s}'`).join(',');
const doomed = `SELECT run_id FROM workflow_runs WHERE status IN (${statuses}) AND updated_at < ?`;
const cutoff = formatPythonUtc(new Date(cutoffIso));
const t0 = performance.now();
let runs = 0;
db.transaction(() => {
  for (const t of ['events', 'steps', 'hooks', 'cancellation_flags']) db.prepare(`DELETE FROM ${t} WHERE run_id IN (${doomed})`).run(cutoff);
  db.prepare(`DELETE FROM checkpoints WHERE substr(step_run_id, 1, instr(step_run_id, ':') - 1) IN (${doomed})`).run(cutoff);
  runs = db.prepare(`DELETE FROM workflow_runs WHERE run_id IN (${doomed})`).run(cutoff).changes;
}).immediate();
const seconds = (performance.now() - t0) / 1000;
db.close();
console.log(JSON.stringify({ runs, seconds }));
