// `pyworkflow-retention controller`: the operator process. Loads credentials, starts the controller
// runtime (src/controller) with the reconcilers set up on it (src/reconcilers/setup.ts) and the
// /metrics, /healthz and /readyz endpoints, and on SIGTERM stops acting, releases the lease and exits.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CONTROLLER_USAGE, parseControllerArgs } from '../controller/flags.js';
import { createKubeApi } from '../controller/kube-api.js';
import { loadClusterAccess } from '../controller/kubeconfig.js';
import { Manager } from '../controller/manager.js';
import { ControllerMetrics } from '../controller/metrics.js';
import { serve, type Endpoint } from '../controller/probes.js';
import { createLogger } from '../log.js';
import { setupReconcilers } from '../reconcilers/setup.js';
import type { CommandIO } from './sweep-command.js';

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'dev';
  }
}

export async function runController(argv: readonly string[], io: CommandIO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(CONTROLLER_USAGE);
    return 0;
  }
  const config = parseControllerArgs(argv, io.env);
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, write: (line) => io.stderr.write(`${line}\n`), now: io.now });
  const access = await loadClusterAccess(config.kubeconfig, io.env);
  // Unique per process: a restarted pod must not be mistaken for the leader it replaces.
  const identity = `${io.env.POD_NAME || hostname()}_${randomUUID().slice(0, 8)}`;
  // The identity in the user agent attributes every write in the API server's audit log to a replica.
  const api = createKubeApi(access, `pyworkflow-retention-operator/${version()} (${identity})`);
  const metrics = new ControllerMetrics();
  const manager = new Manager({
    api,
    logger,
    metrics,
    identity,
    namespaces: config.namespaces,
    resyncMs: config.resyncMs,
    ...(config.leaderElect ? { leaderElection: { namespace: config.leaderElectionNamespace, name: config.leaderElectionId } } : {}),
  });

  setupReconcilers(manager, { runImage: config.runImage });

  const endpoints: Endpoint[] = [];
  if (config.metricsBind) endpoints.push(await serve(config.metricsBind, { registry: metrics.registry }));
  if (config.healthBind) endpoints.push(await serve(config.healthBind, { healthProblems: () => manager.healthProblems(), ready: () => manager.ready() }));
  logger.info('controller starting', {
    version: version(),
    identity,
    kubeconfig: access.source,
    server: access.server,
    namespaces: config.namespaces.length > 0 ? config.namespaces : 'all',
    leaderElection: config.leaderElect ? `${config.leaderElectionNamespace}/${config.leaderElectionId}` : 'off',
    metricsAddress: config.metricsBind ? endpoints[0]?.address : 'off',
    healthAddress: config.healthBind ? endpoints[endpoints.length - 1]?.address : 'off',
    runImage: config.runImage,
  });

  await manager.run(io.signal);
  await Promise.all(endpoints.map((e) => e.close()));
  api.close();
  // Anything still holding the event loop open after a clean shutdown must not keep the pod Terminating.
  setTimeout(() => process.exit(process.exitCode ?? 0), 10_000).unref();
  return 0;
}
