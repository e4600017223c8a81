// The controller's flags: defaults, controller-runtime spellings, and errors that name the flag.
import { describe, expect, it } from 'vitest';
import { parseControllerArgs, parseDuration } from '../../../src/controller/flags.js';
import { parseBindAddress } from '../../../src/controller/probes.js';

describe('controller flags', () => {
  it('defaults', () => {
    const c = parseControllerArgs(['--run-image', 'img:1'], { POD_NAMESPACE: 'ops' });
    expect(c).toEqual({
      kubeconfig: undefined,
      metricsBind: { host: undefined, port: 8080 },
      healthBind: { host: undefined, port: 8081 },
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      leaderElectionId: 'pyworkflow-retention-operator',
      runImage: 'img:1',
      namespaces: [],
      resyncMs: 300_000,
      logLevel: 'info',
      logFormat: 'json',
    });
    expect(parseControllerArgs([], { PYWR_RUN_IMAGE: 'env:img' }).leaderElectionNamespace).toBe('default');
  });

  it('every flag', () => {
    const c = parseControllerArgs(
      ['--kubeconfig', '/k', '--metrics-bind-address', '0', '--health-probe-bind-address=127.0.0.1:9440', '--leader-elect=false', '--leader-election-namespace', 'x',
        '--leader-election-id', 'id', '--run-image', 'r', '--namespace', 'a', '--namespace', 'b,c', '--namespace=a', '--resync-period', '90s', '--log-level', 'debug', '--log-format', 'text'],
      {},
    );
    expect(c).toMatchObject({ kubeconfig: '/k', metricsBind: undefined, healthBind: { host: '127.0.0.1', port: 9440 }, leaderElect: false, namespaces: ['a', 'b', 'c'], resyncMs: 90_000, logLevel: 'debug', logFormat: 'text' });
    expect(parseControllerArgs(['--leader-elect', '--run-image', 'r'], {}).leaderElect).toBe(true);
  });

  it('errors name the flag', () => {
    expect(() => parseControllerArgs([], {})).toThrow(/--run-image is required/);
    expect(() => parseControllerArgs(['--run-image', 'r', '--leader-elect=maybe'], {})).toThrow(/--leader-elect/);
    expect(() => parseControllerArgs(['--run-image', 'r', '--resync-period', 'often'], {})).toThrow(/--resync-period/);
    expect(() => parseControllerArgs(['--run-image', 'r', '--resync-period', '1s'], {})).toThrow(/at least 10s/);
    expect(() => parseControllerArgs(['--run-image', 'r', '--metrics-bind-address', 'x:y'], {})).toThrow(/--metrics-bind-address/);
    expect(() => parseControllerArgs(['--run-image', 'r', '--log-level', 'loud'], {})).toThrow(/--log-level/);
    expect(() => parseControllerArgs(['--run-image', 'r', '--bogus'], {})).toThrow(/bogus/);
  });

  it('durations and bind addresses', () => {
    expect(parseDuration('300', 'f')).toBe(300_000);
    expect(parseDuration('1m30s', 'f')).toBe(90_000);
    expect(parseDuration('1h', 'f')).toBe(3_600_000);
    expect(parseDuration('250ms', 'f')).toBe(250);
    expect(() => parseDuration('5 minutes', 'f')).toThrow();
    expect(parseBindAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseBindAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseBindAddress('0')).toBeUndefined();
  });
});
