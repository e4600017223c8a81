// Needs: real pyworkflow (PYWORKFLOW_PYTHON, PYWORKFLOW_DRIVER) writing a real file store, and the built CLI.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInteropScenario } from '../support/interop.js';
import { pyworkflow } from '../support/pyworkflow.js';

describe('file interop with real pyworkflow', () => {
  it('purges exactly the eligible runs everywhere pyworkflow looks, keeps the rest readable', async () => {
    const base = join(mkdtempSync(join(tmpdir(), 'pywr-file-interop-')), 'pyworkflow_data');
    const storage = { type: 'file', base_path: base };
    await pyworkflow('init', storage);
    await runInteropScenario({ storage });
    // No file of a purged run is left anywhere: every run-owned file names a run that still exists.
    const runs = new Set(readdirSync(join(base, 'runs')).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    const owner = (name: string, sep: string): string => name.slice(0, name.indexOf(sep));
    for (const n of readdirSync(join(base, 'events'))) expect(runs, `events/${n}`).toContain(n.replace(/\.jsonl$/, ''));
    for (const n of readdirSync(join(base, 'runs')).filter((x) => x.endsWith('.cancel'))) expect(runs, `runs/${n}`).toContain(n.replace(/\.cancel$/, ''));
    for (const n of readdirSync(join(base, 'hooks'))) expect(runs, `hooks/${n}`).toContain(owner(n, '__'));
    for (const n of readdirSync(join(base, 'checkpoints')).filter((x) => x.includes(':'))) expect(runs, `checkpoints/${n}`).toContain(owner(n, ':'));
    const tokens = JSON.parse(readFileSync(join(base, '_token_index.json'), 'utf8')) as Record<string, string>;
    for (const t of Object.keys(tokens)) expect(runs, `token ${t}`).toContain(owner(t, ':'));
  });
});
