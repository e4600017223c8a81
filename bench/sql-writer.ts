// A pyworkflow-shaped writer process for the SQL benchmark: for a fixed time, a few loops each create
// a run, record its events and a hook, and finish it, one autocommit statement at a time as
// pyworkflow's workers do. Prints one JSON line with the statement latencies (ms) when done.
// Usage: node dist/bench/sql-writer.js --engine postgres|mysql --url <admin URL> --database <db> --ms <duration> [--loops 4]
// SIGTERM stops it early; it still prints its latencies.

import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';

interface Exec {
  run(sql: string, params: unknown[]): Promise<void>;
  close(): Promise<void>;
}

async function open(engine: string, url: URL, database: string): Promise<Exec> {
  if (engine === 'postgres') {
    const c = new pg.Client({ host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database });
    await c.connect();
    return {
      run: async (sql, params) => {
        let i = 0;
        await c.query(sql.replace(/\?/g, () => `$${++i}`), params);
      },
      close: () => c.end(),
    };
  }
  const c = await mysql.createConnection({ host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database });
  return { run: async (sql, params) => void (await c.query(sql, params)), close: () => c.end() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { engine: { type: 'string' }, url: { type: 'string' }, database: { type: 'string' }, ms: { type: 'string' }, loops: { type: 'string' } } });
  const engine = values.engine ?? 'postgres';
  const url = new URL(values.url!);
  const until = Date.now() + Number(values.ms ?? '5000');
  const ts = (): string => (engine === 'mysql' ? new Date().toISOString().replace('T', ' ').replace('Z', '000') : new Date().toISOString());
  const latencies: number[] = [];
  const errors: string[] = [];
  // SIGTERM ends the run early (the benchmark stops the writer when a phase ends).
  let stopped = false;
  process.on('SIGTERM', () => {
    stopped = true;
  });
  const tag = `${process.pid.toString(16)}${Date.now().toString(16)}`;
  const loop = async (k: number): Promise<void> => {
    const db = await open(engine, url, values.database!);
    try {
      for (let i = 0; !stopped && Date.now() < until; i++) {
        const timed = async (sql: string, params: unknown[]): Promise<void> => {
          const t = performance.now();
          try {
            await db.run(sql, params);
          } catch (err) {
            // A failed write is a finding, not the end of the benchmark: counted and reported.
            errors.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`.trim());
          }
          latencies.push(performance.now() - t);
        };
        const runId = `run_w${tag}${k}${i.toString(16).padStart(6, '0')}`;
        await timed(`INSERT INTO workflow_runs (run_id, workflow_name, status, created_at, updated_at, input_args, input_kwargs) VALUES (?, 'bench_wf', 'running', ?, ?, '[]', '{}')`, [runId, ts(), ts()]);
        for (let s = 0; s < 3; s++) {
          await timed(`INSERT INTO events (event_id, run_id, sequence, type, timestamp, data) VALUES (?, ?, ?, 'step.completed', ?, '{}')`, [`evt_${runId}_${s}`, runId, s, ts()]);
        }
        await timed(`INSERT INTO hooks (run_id, hook_id, token, created_at, status) VALUES (?, 'hook_w_1', ?, ?, 'pending')`, [runId, `${runId}:hook_w_1`, ts()]);
        await timed(`UPDATE workflow_runs SET status = 'completed', updated_at = ?, completed_at = ? WHERE run_id = ?`, [ts(), ts(), runId]);
      }
    } finally {
      await db.close();
    }
  };
  await Promise.all(Array.from({ length: Number(values.loops ?? '4') }, (_, k) => loop(k)));
  process.stdout.write(JSON.stringify({ latencies, errors }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
