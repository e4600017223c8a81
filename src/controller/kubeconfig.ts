// Where the controller's API credentials come from: --kubeconfig, else the pod's service account
// (in-cluster), else $KUBECONFIG or ~/.kube/config, like kubectl and controller-runtime.

import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { InvalidInputError } from '../errors.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(path: string | undefined, env: NodeJS.ProcessEnv): { kc: KubeConfig; source: string } {
  const kc = new KubeConfig();
  if (path !== undefined) {
    if (!existsSync(path)) throw new InvalidInputError(`--kubeconfig: ${path} does not exist`);
    kc.loadFromFile(path);
    return { kc, source: path };
  }
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
    return { kc, source: 'in-cluster service account' };
  }
  kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new InvalidInputError('no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  return { kc, source: env.KUBECONFIG ? `$KUBECONFIG (${env.KUBECONFIG})` : '~/.kube/config' };
}
