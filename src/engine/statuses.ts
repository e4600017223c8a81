// pyworkflow's run statuses as stored (lowercase strings), split into the ones a sweep may purge and the ones it never touches.

export const TERMINAL_STATUSES = ['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted'] as const;
export const ACTIVE_STATUSES = ['pending', 'running', 'suspended'] as const;

export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export type ActiveStatus = (typeof ACTIVE_STATUSES)[number];
export type RunStatus = TerminalStatus | ActiveStatus;

export function isTerminalStatus(s: string): s is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(s);
}
