// Deterministic names and label values of what the operator creates for a policy. Deterministic so
// that a retry after a crash finds what it already created (AlreadyExists) instead of a duplicate.

import { createHash } from 'node:crypto';
import { API_GROUP, LABELS, MANAGED_BY, RUN_COMPONENT } from '../api/common.js';

/** CronJob names may have at most 52 characters (the CronJob controller appends 11 for its Jobs). */
export const CRONJOB_NAME_MAX = 52;
/** Jobs, label values and the pods' job-name label: at most 63. */
export const LABEL_VALUE_MAX = 63;

/** On Jobs, once their result is in the policy's status (see run-accounting.ts). */
export const ACCOUNTED_ANNOTATION = `${API_GROUP}/accounted`;
/**
 * On run pods, from the pod template: the API server keeps a run's pod (and with it the run's result,
 * its termination message) until the controller has recorded that result and removes this (see
 * run-accounting.ts). On the pods, not the Jobs: the CronJob controller copies only the labels and
 * annotations of its Job template into a Job, while the Job controller copies the pod template's
 * finalizers into every pod, so only this is in place from the first instant, also while the
 * operator is down.
 */
export const RUN_FINALIZER = `${API_GROUP}/run-result`;
/** On run Jobs and their pods: the UID of the policy they belong to (a re-created policy of the same name is another policy). */
export const POLICY_UID_ANNOTATION = `${API_GROUP}/policy-uid`;
/** On CronJobs: hash of the spec the operator last wrote, to notice its own changes (see cronjob-drift.ts). */
export const SPEC_HASH_ANNOTATION = `${API_GROUP}/spec-hash`;

export function shortHash(text: string, length = 8): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** `name` if it fits in `max`, else a prefix of it plus a hash of the whole (still unique, still readable). */
export function boundedName(name: string, max: number): string {
  if (name.length <= max) return name;
  const head = name.slice(0, max - 9).replace(/[-.]+$/, '');
  return `${head}-${shortHash(name)}`;
}

export function cronJobName(policyName: string): string {
  return boundedName(`rp-${policyName}`, CRONJOB_NAME_MAX);
}

/** The Job of a manual run: one name per (policy, token), so a token can only ever start one Job. */
export function manualJobName(policyName: string, token: string): string {
  return `${boundedName(`rp-${policyName}`, LABEL_VALUE_MAX - 15)}-now-${shortHash(token, 10)}`;
}

/** A label value naming an object (names may be longer than label values). */
export function nameLabelValue(name: string): string {
  return boundedName(name, LABEL_VALUE_MAX);
}

/** Labels on a policy's CronJob, Jobs and pods: the informers select on managed-by. */
export function runLabels(policyName: string, backendName: string): Record<string, string> {
  return {
    [LABELS.name]: 'pyworkflow-retention',
    [LABELS.component]: RUN_COMPONENT,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.policy]: nameLabelValue(policyName),
    [LABELS.backend]: nameLabelValue(backendName),
  };
}

/** The label selector of everything the controller watches besides its own kinds. */
export const MANAGED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;
