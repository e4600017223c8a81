// Where the generated artefacts live (repository-relative), shared by the generator and its staleness tests.

import type { Schema } from './openapi.js';
import { RETENTION_POLICY_SCHEMA } from './retention-policy.js';
import { STORAGE_BACKEND_SCHEMA } from './storage-backend.js';

/** Plain CRD YAML, for `kubectl apply` (and deploy/manifests/crds.yaml). */
export const CRD_OUTPUT_DIRS = ['crds'] as const;
/** The same CRDs as templates of the Helm chart (renderCrdHelmTemplate), so `helm upgrade` upgrades them. */
export const CRD_HELM_TEMPLATE_DIR = 'helm/pyworkflow-retention-operator/templates/crds';
export const GENERATED_TYPES_PATH = 'src/api/generated/types.ts';
export const API_TYPE_ROOTS: readonly Schema[] = [STORAGE_BACKEND_SCHEMA, RETENTION_POLICY_SCHEMA];
