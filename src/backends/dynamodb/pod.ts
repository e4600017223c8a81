// A dynamodb StorageBackend block -> the run pod's storage config and, for static credentials, the AWS
// SDK's standard env vars from the Secret (without them the SDK uses the pod's cloud identity).

import type { DynamodbSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';

export function dynamodbRunPodStorage(spec: DynamodbSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  const config: Record<string, unknown> = { type: 'dynamodb', table_name: spec.tableName, region: spec.region };
  if (spec.endpoint !== undefined) config.endpoint_url = spec.endpoint;
  const creds = spec.credentialsSecretRef;
  if (creds) {
    pod.secretEnv('AWS_ACCESS_KEY_ID', { name: creds.name, key: creds.accessKeyIdKey });
    pod.secretEnv('AWS_SECRET_ACCESS_KEY', { name: creds.name, key: creds.secretAccessKeyKey });
    if (creds.sessionTokenKey !== undefined) pod.secretEnv('AWS_SESSION_TOKEN', { name: creds.name, key: creds.sessionTokenKey });
  }
  return pod.build(config);
}
