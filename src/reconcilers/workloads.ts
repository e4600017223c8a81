// The batch/v1 and core/v1 objects the reconcilers create and read (CronJob, Job, Pod), as the plain
// JSON the API server sends, and small readers of their state.

import type { V1CronJobSpec, V1JobSpec } from '@kubernetes/client-node';
import type { KubeObject } from '../controller/resources.js';

export interface CronJob extends KubeObject {
  spec: V1CronJobSpec;
  status?: { active?: Array<{ name?: string; uid?: string }>; lastScheduleTime?: string; lastSuccessfulTime?: string };
}

export interface JobCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface Job extends KubeObject {
  spec?: V1JobSpec;
  status?: {
    conditions?: JobCondition[];
    startTime?: string;
    completionTime?: string;
    active?: number;
    succeeded?: number;
    failed?: number;
  };
}

export interface ContainerStateTerminated {
  exitCode: number;
  reason?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface ContainerStatus {
  name: string;
  state?: { terminated?: ContainerStateTerminated; waiting?: { reason?: string; message?: string }; running?: { startedAt?: string } };
  lastState?: { terminated?: ContainerStateTerminated };
}

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface Pod extends KubeObject {
  spec?: { nodeName?: string; containers?: Array<{ name: string; args?: string[] }> };
  status?: { phase?: string; reason?: string; message?: string; startTime?: string; conditions?: PodCondition[]; containerStatuses?: ContainerStatus[] };
}

export type JobEnd = { kind: 'Complete'; at?: string } | { kind: 'Failed'; at?: string; reason: string; message: string };

/** How the Job ended, or undefined while it runs (Complete and Failed are its only terminal conditions). */
export function jobEnd(job: Job): JobEnd | undefined {
  for (const c of job.status?.conditions ?? []) {
    if (c.status !== 'True') continue;
    if (c.type === 'Complete') return { kind: 'Complete', at: job.status?.completionTime ?? c.lastTransitionTime };
    if (c.type === 'Failed') return { kind: 'Failed', at: c.lastTransitionTime, reason: c.reason ?? 'Failed', message: c.message ?? '' };
  }
  return undefined;
}

/** The pods a Job created (its controller owner reference). */
export function podsOfJob(job: Job, pods: readonly Pod[]): Pod[] {
  const uid = job.metadata.uid;
  return pods.filter((p) => p.metadata.ownerReferences?.some((o) => o.controller === true && o.uid === uid));
}

export function isControlledBy(obj: KubeObject, ownerUid: string | undefined): boolean {
  return ownerUid !== undefined && (obj.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === ownerUid);
}
