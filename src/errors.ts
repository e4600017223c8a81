// Typed errors with a stable code, an actionable message and the exit code the CLI maps them to.
// Messages are built from redacted descriptions only: no error here ever carries a credential.

import type { KindCounts } from './engine/records.js';

export type ErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_STORAGE_CONFIG'
  | 'UNSUPPORTED_BACKEND'
  | 'UNKNOWN_SCHEMA'
  | 'SWEEP_LOCKED'
  | 'CONNECTION_FAILED'
  | 'BACKEND_ERROR'
  | 'CANCELLED';

export class RetentionError extends Error {
  readonly code: ErrorCode;
  /** 2 = the caller's input is wrong; 1 = the run failed. */
  readonly exitCode: 1 | 2;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; exitCode?: 1 | 2 }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetentionError';
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** Bad flag, bad config key, bad number: exit 2, nothing touched. */
export class InvalidInputError extends RetentionError {
  constructor(message: string, code: ErrorCode = 'INVALID_INPUT') {
    super(code, message, { exitCode: 2 });
    this.name = 'InvalidInputError';
  }
}

/** The store's layout is not one this version knows: refuse before deleting anything. */
export class UnknownSchemaError extends RetentionError {
  constructor(backend: string, found: string, supported: readonly string[]) {
    super(
      'UNKNOWN_SCHEMA',
      `${backend}: unknown pyworkflow schema (${found}); supported: ${supported.join(', ')}. Nothing was deleted. ` +
        'Upgrade pyworkflow-retention to a release that knows this layout.',
    );
    this.name = 'UnknownSchemaError';
  }
}

/** Another sweep holds the store's sweep lock. */
export class SweepLockedError extends RetentionError {
  constructor(target: string, waitedMs: number) {
    super(
      'SWEEP_LOCKED',
      `another retention sweep is running against ${target} (waited ${Math.round(waitedMs / 1000)} s for its lock); ` +
        'nothing was deleted by this run, try again when it has finished',
    );
    this.name = 'SweepLockedError';
  }
}

export class CancelledError extends RetentionError {
  constructor(reason: string) {
    super('CANCELLED', `sweep stopped between batches: ${reason}; everything deleted so far is complete, a re-run continues`);
    this.name = 'CancelledError';
  }
}

/**
 * A batch of runs stopped partway, by a failure or a stop request between two of its transactions
 * (or, in stores without transactions, between two of its deletes): `done` is exactly what it
 * deleted before that, so the sweep still reports exact counts. `cause` is the reason it stopped.
 */
export class IncompleteBatchError extends Error {
  constructor(
    cause: unknown,
    readonly done: { counts: Partial<KindCounts>; purgedRunIds: readonly string[] },
  ) {
    // No text of the cause here: it may be a driver's, not yet scrubbed; it is translated where it is reported.
    super('a batch of runs stopped partway', { cause });
    this.name = 'IncompleteBatchError';
  }
}

/** Translates a driver error; an IncompleteBatchError keeps what its batch deleted and translates only its cause. */
export function translateError(err: unknown, translate: (cause: unknown) => RetentionError): RetentionError | IncompleteBatchError {
  return err instanceof IncompleteBatchError ? new IncompleteBatchError(translate(err.cause), err.done) : translate(err);
}

/** Wraps a driver error with the (redacted) target it happened on. */
export function backendError(target: string, action: string, cause: unknown, code: ErrorCode = 'BACKEND_ERROR'): RetentionError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  const serverCode = (cause as { code?: unknown } | null)?.code;
  const suffix = typeof serverCode === 'string' && serverCode !== '' && !detail.includes(serverCode) ? ` [${serverCode}]` : '';
  return new RetentionError(code, `${target}: ${action} failed: ${detail}${suffix}`, { cause });
}
