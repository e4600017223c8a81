// The Kubernetes object shapes the runtime handles generically (metadata only), and URL paths of the
// resource types it lists, watches and writes.

import { API_GROUP, API_VERSION } from '../api/common.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/**
 * What the runtime needs of any object it caches: the API types generated in src/api use client-node's
 * V1ObjectMeta, the batch/core shapes here use ObjectMeta; both fit this.
 */
export interface Identified {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ResourceType {
  /** "" for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const RETENTION_POLICIES: ResourceType = { group: API_GROUP, version: API_VERSION, plural: 'retentionpolicies', kind: 'RetentionPolicy' };
export const STORAGE_BACKENDS: ResourceType = { group: API_GROUP, version: API_VERSION, plural: 'storagebackends', kind: 'StorageBackend' };
export const CRONJOBS: ResourceType = { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob' };
export const JOBS: ResourceType = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };
export const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' };
export const EVENTS: ResourceType = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event' };

export function apiVersionOf(rt: ResourceType): string {
  return rt.group === '' ? rt.version : `${rt.group}/${rt.version}`;
}

/** The collection URL, namespaced or (namespace undefined) across all namespaces. */
export function collectionPath(rt: ResourceType, namespace?: string): string {
  const root = rt.group === '' ? `/api/${rt.version}` : `/apis/${rt.group}/${rt.version}`;
  return namespace === undefined ? `${root}/${rt.plural}` : `${root}/namespaces/${encodeURIComponent(namespace)}/${rt.plural}`;
}

export function objectPath(rt: ResourceType, namespace: string, name: string, subresource?: string): string {
  return `${collectionPath(rt, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

/** The work-queue key of an object: "namespace/name". */
export function keyOf(obj: Identified): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
