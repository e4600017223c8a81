// A manual run: the Job that annotating a policy with retention.pyworkflow.io/run-now=<token> starts,
// built from the policy's CronJob template like `kubectl create job --from=cronjob/...`, with a name
// derived from the token so that the same token can never start a second Job.

import { RUN_NOW_ANNOTATION, RUN_NOW_TOKEN_ANNOTATION } from '../api/common.js';
import type { RetentionPolicy } from '../api/generated/types.js';
import { policyOwnerReference } from './desired-cronjob.js';
import { manualJobName, shortHash } from './names.js';
import type { CronJob, Job } from './workloads.js';

/** status.lastRunNowToken holds at most this many characters. */
export const RUN_NOW_TOKEN_MAX = 256;

export type RunNowRequest =
  | { kind: 'none' }
  | { kind: 'new'; token: string }
  /** Refused; `recordAs` goes into lastRunNowToken so that the refusal is reported once. */
  | { kind: 'invalid'; recordAs: string; message: string };

/** Whether the policy asks for a run that has not been started (or refused) yet. */
export function runNowRequest(policy: RetentionPolicy): RunNowRequest {
  const token = policy.metadata.annotations?.[RUN_NOW_ANNOTATION];
  const last = policy.status?.lastRunNowToken;
  if (token === undefined || token === '' || token === last) return { kind: 'none' };
  if (token.length > RUN_NOW_TOKEN_MAX) {
    const recordAs = `sha256:${shortHash(token, 64)}`;
    if (recordAs === last) return { kind: 'none' };
    return { kind: 'invalid', recordAs, message: `the ${RUN_NOW_ANNOTATION} token is longer than ${RUN_NOW_TOKEN_MAX} characters; use a shorter one (e.g. a timestamp)` };
  }
  return { kind: 'new', token };
}

/**
 * Owned by the policy (not the CronJob, whose controller would report it as an unexpected Job), so
 * deleting the policy deletes it too.
 */
export function desiredManualJob(cronJob: CronJob, policy: RetentionPolicy, token: string): Job {
  const template = cronJob.spec.jobTemplate;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: manualJobName(policy.metadata.name ?? '', token),
      namespace: cronJob.metadata.namespace ?? '',
      labels: { ...(template.metadata?.labels ?? {}) },
      annotations: {
        ...(template.metadata?.annotations ?? {}),
        [RUN_NOW_TOKEN_ANNOTATION]: token,
        'cronjob.kubernetes.io/instantiate': 'manual',
      },
      ownerReferences: [policyOwnerReference(policy)],
    },
    spec: template.spec,
  };
}
