// Reading pyworkflow run files that damage made unparsable: never a crash, and a parent link is used
// only when it can be read whole.
import { describe, expect, it } from 'vitest';
import { parseRunFile } from '../../../../src/backends/file/run-file.js';

describe('parseRunFile on a truncated run file', () => {
  it('keeps a whole parent link', () => {
    const read = parseRunFile('r1', '{"run_id": "r1", "parent_run_id": "p1", "status": "comp');
    expect(read).toMatchObject({ kind: 'invalid', parentKnown: true, run: { parentRunId: 'p1' } });
  });

  it('treats a parent link with a broken escape as unknown instead of throwing', () => {
    const read = parseRunFile('r1', '{"run_id": "r1", "parent_run_id": "a\\u12", "status": "comp');
    expect(read).toMatchObject({ kind: 'invalid', parentKnown: false, run: { parentRunId: null } });
  });
});
