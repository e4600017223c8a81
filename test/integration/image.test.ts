// Needs: root, buildah, podman and runc (scripts/image installs them from Debian) and the npm registry.
// Builds the operator's image with `npm run image`'s script (cached by its inputs: seconds when warm)
// and runs it under podman + runc the way the run pod does: uid 65532, read-only root filesystem,
// only /tmp writable, no capabilities, no network, the CronJob's own command, the store on a volume
// owned by another uid and reached through a supplementary group. The sweep's result must equal the
// same sweep by the host's CLI on an identical copy, row for row.

import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSqliteStore } from '../../src/backends/sqlite/seed.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { generateDataset } from '../../src/model/generate.js';
import { RUN_COMMAND } from '../../src/reconcilers/desired-cronjob.js';
import { runCli } from '../support/cli.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { runProcess, type ProcessResult } from '../support/process.js';
import { dumpSqlite, sqliteFixture } from '../support/stores/sqlite-store.js';
import { REPO_ROOT } from '../support/test-env.js';

const DAY = 86_400_000;
/** The store's owner on the volume: neither root nor the image's user. */
const OWNER_UID = 1000;
const OWNER_GID = 3000;

let image = '';
let work = '';

/** podman run through scripts/image/run.sh (the image scripts' store, runc, this machine's limits). */
function run(args: readonly string[]): Promise<ProcessResult> {
  return runProcess('bash', [join(REPO_ROOT, 'scripts/image/run.sh'), '--rm', '--network', 'none', ...args], { timeoutMs: 120_000 });
}

/** The run pod's restrictions (src/reconcilers/desired-cronjob.ts): read-only root, /tmp only, no capabilities. */
const POD_LIKE = [
  '--read-only', '--read-only-tmpfs=false', '--tmpfs', '/tmp:rw,size=64m,mode=1777',
  '--user', '65532:65532', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
];

beforeAll(async () => {
  const built = await runProcess('bash', [join(REPO_ROOT, 'scripts/image/build.sh')], { timeoutMs: 1_200_000 });
  if (built.code !== 0) throw new Error(`scripts/image/build.sh failed (${built.code}):\n${built.stderr.slice(-4000)}`);
  image = built.stdout.trim().split('\n').at(-1) ?? '';
  expect(image).toMatch(/^localhost\/pyworkflow-retention-operator:\d+\.\d+\.\d+-[0-9a-f]{12}$/);
  work = mkdtempSync(join(tmpdir(), 'pywr-image-'));
}, 1_200_000); // a cold build (bases and image) takes minutes; a warm one seconds

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the operator image', () => {
  it('starts the CLI by its entry point as uid 65532, on Node.js 24, without npm or a shell', async () => {
    const help = await run([...POD_LIKE, image, '--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pyworkflow-retention <command>/);

    const facts = await run([...POD_LIKE, '--entrypoint', 'node', image, '-p',
      "JSON.stringify({ v: process.version, uid: process.getuid(), npm: ['/usr/local/lib/node_modules/npm', '/usr/local/bin/npm', '/bin/sh'].filter((p) => require('fs').existsSync(p)) })"]);
    expect(facts.code, facts.stderr).toBe(0);
    expect(JSON.parse(facts.stdout)).toEqual({ v: expect.stringMatching(/^v24\./) as unknown, uid: 65532, npm: [] });
  });

  it('a sqlite sweep by the CronJob command, read-only root, store owned by another uid: same result as the host CLI', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * DAY);
    const data = sqliteFixture.adapt(generateDataset({ seed: 9, runs: 400, now, spanDays: 30, eventsPerRun: 3, edges: [cutoff], extras: true }));
    const hostDir = join(work, 'host');
    const volume = join(work, 'volume');
    mkdirSync(hostDir);
    mkdirSync(volume);
    seedSqliteStore(join(hostDir, 'pyworkflow.db'), data);
    seedSqliteStore(join(volume, 'pyworkflow.db'), data);
    // The volume as a worker pod would leave it: owned by its uid and group, group-writable, nothing for others.
    for (const p of [volume, join(volume, 'pyworkflow.db')]) chownSync(p, OWNER_UID, OWNER_GID);
    chmodSync(volume, 0o770);
    chmodSync(join(volume, 'pyworkflow.db'), 0o660);
    const terminationLog = join(work, 'termination-log');
    writeFileSync(terminationLog, '');
    chmodSync(terminationLog, 0o666);

    const sweepArgs = (dbPath: string): string[] => [
      'sweep', '--storage', JSON.stringify({ type: 'sqlite', base_path: dbPath }),
      '--older-than', cutoff.toISOString(), '--batch-size', '50', '--output', 'json', '--progress', 'log', '--log-format', 'json',
    ];
    const inImage = (extra: readonly string[]): Promise<ProcessResult> => run([
      ...POD_LIKE, ...extra, '-v', `${volume}:/data`, '-v', `${terminationLog}:/dev/termination-log`,
      '--entrypoint', RUN_COMMAND[0]!, image, ...RUN_COMMAND.slice(1),
      ...sweepArgs('/data/pyworkflow.db'), '--termination-log', '/dev/termination-log',
    ]);

    // Without the volume's group the run cannot open the store and changes nothing: the ownership is real.
    // (Compared as bytes: opening the store here as root could leave root-owned journal files behind.)
    const before = readFileSync(join(volume, 'pyworkflow.db'));
    const denied = await inImage([]);
    expect(denied.code, denied.stdout).toBe(1);
    expect(denied.stderr).toContain('permission denied on the database file or its directory');
    expect(readFileSync(join(volume, 'pyworkflow.db')).equals(before)).toBe(true);
    expect(readdirSync(volume)).toEqual(['pyworkflow.db']);

    const container = await inImage(['--group-add', String(OWNER_GID)]);
    expect(container.code, container.stderr.slice(-3000)).toBe(0);
    const host = await runCli(sweepArgs(join(hostDir, 'pyworkflow.db')));
    expect(host.code, host.stderr.slice(-3000)).toBe(0);

    const inContainer = JSON.parse(container.stdout) as { outcome: string; deleted: Record<string, number> };
    const onHost = JSON.parse(host.stdout) as { deleted: Record<string, number> };
    expect(inContainer.outcome).toBe('succeeded');
    const expected = expectedAfterSweep(data, { cutoff, statuses: TERMINAL_STATUSES, housekeeping: true });
    expect(inContainer.deleted.runs).toBe(expected.deletedRunIds.size);
    expect(inContainer.deleted.runs).toBeGreaterThan(50);
    expect(inContainer.deleted).toEqual(onHost.deleted);
    expect(JSON.parse(readFileSync(terminationLog, 'utf8'))).toMatchObject({ outcome: 'succeeded', deleted: inContainer.deleted });
    expect(dumpSqlite(join(volume, 'pyworkflow.db'))).toEqual(dumpSqlite(join(hostDir, 'pyworkflow.db')));
  });
});
