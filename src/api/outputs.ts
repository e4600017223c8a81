// Where the generated artefacts live (repository-relative), shared by the generator and its staleness tests.

import type { Schema } from './openapi.js';
import { RETENTION_POLICY_SCHEMA } from './retention-policy.js';
import { STORAGE_BACKEND_SCHEMA } from './storage-backend.js';

export const CRD_OUTPUT_DIRS = ['crds', 'helm/pyworkflow-retention-operator/crds'] as const;
export const GENERATED_TYPES_PATH = 'src/api/generated/types.ts';
export const API_TYPE_ROOTS: readonly Schema[] = [STORAGE_BACKEND_SCHEMA, RETENTION_POLICY_SCHEMA];
