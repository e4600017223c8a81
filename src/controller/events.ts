// Kubernetes Events (events.k8s.io/v1) about policies and backends, with CamelCase reasons a human can
// search for. Recording is best effort: a failed Event never fails a reconcile.

import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.js';
import type { KubeApi } from './kube-api.js';
import { microTime } from './leader-election.js';
import { EVENTS, collectionPath } from './resources.js';
import type { Logger } from '../log.js';

export const RBAC = [{ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] }] as const;

export const REPORTING_CONTROLLER = 'retention.pyworkflow.io/controller';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorder {
  record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void>;
}

export function kubeEventRecorder(api: KubeApi, clock: Clock, instance: string, logger: Logger): EventRecorder {
  return {
    async record(target, type, reason, action, note) {
      const namespace = target.metadata?.namespace ?? 'default';
      const name = target.metadata?.name ?? 'unknown';
      try {
        await api.request({
          method: 'POST',
          path: collectionPath(EVENTS, namespace),
          body: {
            apiVersion: 'events.k8s.io/v1',
            kind: 'Event',
            // Unique per occurrence, like client-go's `<name>.<hex>`.
            metadata: { name: `${name.slice(0, 200)}.${clock.now().toString(16)}${randomBytes(4).toString('hex')}`, namespace },
            eventTime: microTime(clock.now()),
            reportingController: REPORTING_CONTROLLER,
            reportingInstance: instance.slice(0, 128),
            action,
            reason,
            type,
            note: note.length > 1024 ? `${note.slice(0, 1021)}...` : note,
            regarding: {
              apiVersion: target.apiVersion,
              kind: target.kind,
              name,
              namespace,
              uid: target.metadata?.uid,
              resourceVersion: target.metadata?.resourceVersion,
            },
          },
          timeoutMs: 10_000,
        });
      } catch (err) {
        logger.warn('could not record an event', { err, reason, object: `${namespace}/${name}` });
      }
    },
  };
}

/** Remembers events instead of sending them (unit tests). */
export class MemoryEventRecorder implements EventRecorder {
  readonly events: Array<{ object: string; type: string; reason: string; note: string }> = [];
  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, _action: string, note: string): Promise<void> {
    this.events.push({ object: `${target.kind}/${target.metadata?.namespace}/${target.metadata?.name}`, type, reason, note });
  }
}
