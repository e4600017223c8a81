// When the API server refuses the CronJob the operator wants (422 Invalid from CronJob validation, 400,
// or a denial by an admission webhook or ValidatingAdmissionPolicy), the cause belongs in the policy's
// status, not in a reconcile error retried with backoff: retrying cannot help until the spec (or the
// admission policy) changes, and an error never reaches `kubectl get rp`.

import { ApiError } from '../controller/kube-api.js';
import type { ConditionInput } from './conditions.js';

/** Condition messages quote the API server; its message is bounded so one refusal cannot fill the status. */
export const REFUSAL_MESSAGE_MAX = 2048;

/**
 * Ready=False for a refusal, or undefined when `err` is not one (transport errors, 404, 409 Conflict,
 * 429 and 5xx are worth a retry and stay errors). A refusal that names the spec is `CronJobInvalid`, a
 * denial of the request itself (403: admission policy or RBAC) is `CronJobForbidden`.
 */
export function cronJobRefusal(err: unknown, cronJobName: string, verb: 'create' | 'update'): Omit<ConditionInput, 'type' | 'observedGeneration'> | undefined {
  if (!(err instanceof ApiError)) return undefined;
  if (err.code !== 400 && err.code !== 403 && err.code !== 422) return undefined;
  const said = err.message.length > REFUSAL_MESSAGE_MAX ? `${err.message.slice(0, REFUSAL_MESSAGE_MAX)}…` : err.message;
  // The CronJob carries Secret names, never Secret values (desired-cronjob.ts), so its refusal quotes no secret.
  if (err.code === 403) {
    return {
      status: 'False',
      reason: 'CronJobForbidden',
      message: `The API server refused to ${verb} CronJob ${cronJobName} (${err.reason}): ${said}. Fix the admission policy or permission that denies it; the operator retries on the next change or resync.`,
    };
  }
  return {
    status: 'False',
    reason: 'CronJobInvalid',
    message: `The API server refused to ${verb} CronJob ${cronJobName} (${err.reason}): ${said}. Correct the policy's spec (or the admission policy that refuses it); no scheduled run starts until then.`,
  };
}
