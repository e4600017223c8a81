// Needs: the built CLI and setpriv(1) (util-linux), to run it as an unprivileged user (tests run as
// root, to whom every directory is writable). A dry run writes nothing: it works on a store its user
// can only read, and leaves no lock file behind; the file store and the SQLite store alike.
import { chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SweepReport } from '../../src/engine/report.js';
import { runCli } from '../support/cli.js';
import { runProcess } from '../support/process.js';
import { fileStoreFixture } from '../support/stores/file-store.js';
import { sqliteFixture } from '../support/stores/sqlite-store.js';
import type { StoreFixture, StoreHandle } from '../support/stores/store-fixture.js';
import { CLI_PATH } from '../support/test-env.js';
import { emptyDataset, type Dataset } from '../../src/model/dataset.js';
import { treeHash } from '../support/tree-hash.js';

const NOBODY = '65534';
const OLD = new Date(Date.now() - 90 * 86_400_000);

const handles: StoreHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.destroy();
});

function dataset(): Dataset {
  const d = emptyDataset();
  for (const id of ['run_a', 'run_b']) {
    d.runs.push({
      run_id: id, workflow_name: 'wf', status: 'completed', created_at: OLD, updated_at: OLD, started_at: null, completed_at: null,
      idempotency_key: null, parent_run_id: null, nesting_depth: 0, continued_from_run_id: null, continued_to_run_id: null,
      input_args: '[]', input_kwargs: '{}', result: null, error: null, context: '{}',
    });
    d.events.push({ event_id: `evt_${id}`, run_id: id, sequence: 0, type: 'step.completed', timestamp: OLD, data: {}, step_id: null });
    d.cancellationFlags.push({ run_id: id, created_at: OLD });
  }
  return d;
}

async function dryRunAsNobody(fixture: StoreFixture): Promise<void> {
  const h = await fixture.create(fixture.adapt(dataset()));
  handles.push(h);
  const storage = JSON.stringify(h.storageConfig);
  const base = h.storageConfig.base_path as string;
  // The store's directory (mkdtemp makes it 0700) may be entered, but everything in it is root's: read-only to nobody.
  const top = dirname(base);
  chmodSync(top, 0o755);
  const before = treeHash(top);
  const args = ['sweep', '--storage', storage, '--retention-days', '30', '--dry-run', '--output', 'json'];
  const r = await runProcess('setpriv', ['--reuid', NOBODY, '--regid', NOBODY, '--clear-groups', process.execPath, CLI_PATH, ...args]);
  expect(r.code, r.stderr).toBe(0);
  const result = JSON.parse(r.stdout) as SweepReport;
  expect(result.deleted).toMatchObject({ runs: 2, events: 2, cancellationFlags: 2 });
  expect(treeHash(top), 'the dry run wrote nothing').toBe(before);
  // As root too: no lock file appears in the store.
  const asRoot = await runCli(args);
  expect(asRoot.code, asRoot.stderr).toBe(0);
  expect(treeHash(top), 'the dry run wrote nothing').toBe(before);
}

describe('a dry run writes nothing', () => {
  it('file store: works read-only and leaves no lock file', async () => {
    await dryRunAsNobody(fileStoreFixture);
  });

  it('sqlite store: works read-only and leaves no sweep-lock sidecar', async () => {
    await dryRunAsNobody(sqliteFixture);
  });
});
