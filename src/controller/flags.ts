// Flags of `pyworkflow-retention controller`, in the spelling controller-runtime operators use, parsed
// and validated into the controller's configuration. Errors name the flag.

import { parseArgs } from 'node:util';
import { InvalidInputError } from '../errors.js';
import type { LogLevel } from '../log.js';
import { parseBindAddress } from './probes.js';

export const CONTROLLER_USAGE = `Usage: pyworkflow-retention controller [options]

Runs the operator: reconciles RetentionPolicies and StorageBackends into CronJobs and reports run results.

  --kubeconfig PATH                     kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)
  --metrics-bind-address ADDR           serve /metrics here (default :8080; 0 disables)
  --health-probe-bind-address ADDR      serve /healthz and /readyz here (default :8081; 0 disables)
  --leader-elect[=true|false]           elect a leader over a Lease so that only one replica acts (default true)
  --leader-election-namespace NS        namespace of the Lease (default $POD_NAMESPACE, else default)
  --leader-election-id NAME             name of the Lease (default pyworkflow-retention-operator)
  --run-image IMAGE                     image of run pods (default $PYWR_RUN_IMAGE)
  --namespace NS                        watch only this namespace; repeatable (default: all namespaces)
  --resync-period DURATION              re-check every object this often, e.g. 300s, 5m (default 5m)
  --log-level debug|info|warn|error     (default info)
  --log-format json|text                (default json)
`;

export interface ControllerConfig {
  kubeconfig: string | undefined;
  metricsBind: { host: string | undefined; port: number } | undefined;
  healthBind: { host: string | undefined; port: number } | undefined;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  runImage: string;
  namespaces: string[];
  resyncMs: number;
  logLevel: LogLevel;
  logFormat: 'json' | 'text';
}

/** "300", "300s", "5m", "1h", "1m30s" -> milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index !== consumed) break;
    consumed += m[0].length;
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  if (consumed !== text.length || text === '') throw new InvalidInputError(`${flag}: "${value}" is not a duration (e.g. 300s, 5m, 1h)`);
  return Math.round(total);
}

export function parseControllerArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ControllerConfig {
  // node:util parseArgs has no --flag=false for booleans (Node 20): take --leader-elect apart first.
  let leaderElect = true;
  const rest: string[] = [];
  for (const arg of argv) {
    const m = /^--leader-elect(?:=(.*))?$/.exec(arg);
    if (!m) {
      rest.push(arg);
      continue;
    }
    if (m[1] === undefined || m[1] === 'true') leaderElect = true;
    else if (m[1] === 'false') leaderElect = false;
    else throw new InvalidInputError(`--leader-elect: expected true or false, got "${m[1]}"`);
  }
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        'metrics-bind-address': { type: 'string' },
        'health-probe-bind-address': { type: 'string' },
        'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string' },
        'run-image': { type: 'string' },
        namespace: { type: 'string', multiple: true },
        'resync-period': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new InvalidInputError(`${(err as Error).message}\n\n${CONTROLLER_USAGE}`);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const bind = (flag: string, fallback: string): { host: string | undefined; port: number } | undefined => {
    try {
      return parseBindAddress(str(flag) ?? fallback);
    } catch (err) {
      throw new InvalidInputError(`--${flag}: ${(err as Error).message}`);
    }
  };
  const runImage = str('run-image') ?? env.PYWR_RUN_IMAGE ?? '';
  if (runImage === '') throw new InvalidInputError('--run-image is required (or set PYWR_RUN_IMAGE): the image run pods use');
  const logLevel = str('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new InvalidInputError(`--log-level must be debug, info, warn or error, got "${logLevel}"`);
  const logFormat = str('log-format') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') throw new InvalidInputError(`--log-format must be json or text, got "${logFormat}"`);
  const namespaces = ((values.namespace as string[] | undefined) ?? []).flatMap((n) => n.split(',')).map((n) => n.trim()).filter((n) => n !== '');
  const resyncMs = parseDuration(str('resync-period') ?? '5m', '--resync-period');
  if (resyncMs < 10_000) throw new InvalidInputError('--resync-period must be at least 10s');
  return {
    kubeconfig: str('kubeconfig'),
    metricsBind: bind('metrics-bind-address', ':8080'),
    healthBind: bind('health-probe-bind-address', ':8081'),
    leaderElect,
    leaderElectionNamespace: str('leader-election-namespace') ?? (env.POD_NAMESPACE || 'default'),
    leaderElectionId: str('leader-election-id') ?? 'pyworkflow-retention-operator',
    runImage,
    namespaces: [...new Set(namespaces)],
    resyncMs,
    logLevel: logLevel as LogLevel,
    logFormat,
  };
}
