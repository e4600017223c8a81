// The operator's entry point (`pyworkflow-retention controller`). Filled in by the operator work.
import type { CommandIO } from '../cli/sweep-command.js';

export async function runController(_argv: readonly string[], io: CommandIO): Promise<number> {
  io.stderr.write('error: the controller is not built yet in this release\n');
  return 1;
}
