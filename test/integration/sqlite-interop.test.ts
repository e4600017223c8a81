// Needs: real pyworkflow (PYWORKFLOW_PYTHON, PYWORKFLOW_DRIVER) and a real SQLite file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { runInteropScenario } from '../support/interop.js';
import { pyworkflow } from '../support/pyworkflow.js';

describe('sqlite interop with real pyworkflow', () => {
  it('purges exactly the eligible runs everywhere pyworkflow looks, keeps the rest readable', async () => {
    const storage = { type: 'sqlite', base_path: join(mkdtempSync(join(tmpdir(), 'pywr-interop-')), 'pyworkflow.db') };
    await pyworkflow('init', storage);
    await runInteropScenario({ storage });
  });
});
