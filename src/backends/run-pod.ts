// How a run pod reaches a store: the pyworkflow storage config given to `sweep --storage` (secrets only
// as "${PYWR_...}" placeholders), the env vars that fill them from Secrets by reference, and the volumes
// the store needs. Each backend's pod.ts builds one of these; nothing here reads a Secret.

import { posix } from 'node:path';
import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { SecretKeySelector } from '../api/generated/types.js';

export interface RunPodStorage {
  /** pyworkflow's storage config (its own keys), JSON-encoded into the run's --storage flag. */
  config: Record<string, unknown>;
  env: V1EnvVar[];
  volumes: V1Volume[];
  volumeMounts: V1VolumeMount[];
}

/** Where a store's PersistentVolumeClaim is mounted in the run pod. */
export const DATA_MOUNT = '/data';
/** Under this, each secret file gets its own read-only directory. */
export const SECRET_FILES_MOUNT = '/etc/pyworkflow-retention/secrets';

/** The placeholder the sweep command replaces with the value of env var `name`. */
export function placeholder(name: string): string {
  return '${' + name + '}';
}

/** An env var filled by the kubelet from one Secret key. */
export function secretEnv(name: string, ref: SecretKeySelector): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } };
}

/** A Secret key as a file: the volume, its mount, and the file's path in the container. */
export function secretFile(volumeName: string, ref: SecretKeySelector, fileName: string): { volume: V1Volume; mount: V1VolumeMount; path: string } {
  const dir = `${SECRET_FILES_MOUNT}/${volumeName}`;
  return {
    volume: { name: volumeName, secret: { secretName: ref.name, items: [{ key: ref.key, path: fileName }] } },
    mount: { name: volumeName, mountPath: dir, readOnly: true },
    path: `${dir}/${fileName}`,
  };
}

/** The store's PersistentVolumeClaim, mounted read-write at DATA_MOUNT. */
export function dataVolume(claimName: string): { volume: V1Volume; mount: V1VolumeMount } {
  return {
    volume: { name: 'data', persistentVolumeClaim: { claimName } },
    mount: { name: 'data', mountPath: DATA_MOUNT },
  };
}

/** A path inside the data volume; the API schema already refuses absolute paths and "..". */
export function pathInDataVolume(relative: string): string {
  const joined = posix.normalize(posix.join(DATA_MOUNT, relative === '' ? '.' : relative));
  // Defence in depth: a path that still escapes the mount is a bug upstream, never a path to use.
  if (joined !== DATA_MOUNT && !joined.startsWith(`${DATA_MOUNT}/`)) throw new Error(`path "${relative}" leaves the data volume`);
  return joined.replace(/\/$/, '');
}

/** Collects env, volumes and mounts while a backend's config is built. */
export class RunPodStorageBuilder {
  private readonly env: V1EnvVar[] = [];
  private readonly volumes: V1Volume[] = [];
  private readonly mounts: V1VolumeMount[] = [];

  /** Config value for a Secret key passed through env var `envName`. */
  secret(envName: string, ref: SecretKeySelector): string {
    this.env.push(secretEnv(envName, ref));
    return placeholder(envName);
  }

  /** Config value for a Secret key mounted as a file. */
  file(volumeName: string, ref: SecretKeySelector, fileName: string): string {
    const f = secretFile(volumeName, ref, fileName);
    this.volumes.push(f.volume);
    this.mounts.push(f.mount);
    return f.path;
  }

  /** Mounts the claim and returns the in-container path of `relative` inside it. */
  data(claimName: string, relative: string): string {
    const d = dataVolume(claimName);
    this.volumes.push(d.volume);
    this.mounts.push(d.mount);
    return pathInDataVolume(relative);
  }

  plainEnv(name: string, value: string): void {
    this.env.push({ name, value });
  }

  secretEnv(name: string, ref: SecretKeySelector): void {
    this.env.push(secretEnv(name, ref));
  }

  build(config: Record<string, unknown>): RunPodStorage {
    return { config, env: this.env, volumes: this.volumes, volumeMounts: this.mounts };
  }
}
