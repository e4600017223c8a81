// The retention.pyworkflow.io/v1alpha1 API: constants, generated types and runtime validators, in one import.

export * from './common.js';
export * from './generated/types.js';
export { RETENTION_POLICY_CONDITIONS, RETENTION_POLICY_NAMES, RUN_OUTCOMES, HISTORY_LIMIT, type RunOutcome } from './retention-policy.js';
export {
  STORAGE_BACKEND_CONDITIONS,
  STORAGE_BACKEND_NAMES,
  STORAGE_TYPES,
  TLS_MODES,
  CASSANDRA_CONSISTENCY_LEVELS,
  type StorageType,
} from './storage-backend.js';
export { isValidSchedule, isValidTimeZoneName, scheduleAsFiveFields, SCHEDULE_MACROS } from './schedule.js';
export { crdName } from './crd.js';
export {
  validateRetentionPolicy,
  validateRetentionPolicySpec,
  validateStorageBackend,
  validateStorageBackendSpec,
  type Validated,
} from './validate.js';
