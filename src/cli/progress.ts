// Progress display for a sweep: a redrawn bar on a terminal, periodic structured log lines otherwise.

import type { SweepProgress } from '../engine/sweep.js';
import { totalRecords } from '../engine/records.js';
import type { Logger } from '../log.js';

export type ProgressMode = 'bar' | 'log' | 'none';

export function createProgressReporter(
  mode: ProgressMode,
  options: { stream: NodeJS.WriteStream; logger: Logger; intervalMs?: number; now?: () => number },
): { update(p: SweepProgress): void; finish(): void } {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? (mode === 'bar' ? 100 : 10_000);
  let last = -Infinity;
  let drawn = false;

  const update = (p: SweepProgress): void => {
    if (mode === 'none') return;
    const t = now();
    if (p.phase !== 'done' && t - last < interval) return;
    last = t;
    if (mode === 'bar') {
      options.stream.write('\r' + renderBar(p, options.stream.columns ?? 80) + '\x1b[K');
      drawn = true;
    } else {
      options.logger.info('sweep progress', {
        phase: p.phase,
        runsSeen: p.runsSeen,
        runsExpected: p.runsExpected,
        recordsDeleted: totalRecords(p.deleted),
        deleted: p.deleted,
        elapsedMs: p.elapsedMs,
      });
    }
  };
  return {
    update,
    finish: () => {
      if (drawn) options.stream.write('\n');
    },
  };
}

export function renderBar(p: SweepProgress, columns: number): string {
  const fraction = p.runsExpected > 0 ? Math.min(1, p.runsSeen / p.runsExpected) : p.phase === 'runs' ? 0 : 1;
  const label = p.phase === 'runs' ? 'runs' : p.phase;
  const text = ` ${Math.round(fraction * 100)}% ${p.runsSeen}/${p.runsExpected} runs · ${p.deleted.runs} runs, ${totalRecords(p.deleted)} records · ${(p.elapsedMs / 1000).toFixed(1)} s ${label}`;
  const width = Math.max(10, Math.min(40, columns - text.length - 3));
  const full = Math.round(fraction * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]${text}`;
}
