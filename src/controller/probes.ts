// The controller's HTTP endpoints: /metrics (Prometheus) on the metrics address, /healthz and /readyz
// on the health-probe address. Ready means the caches are synced, on the leader and on standbys alike,
// so a rolling update never waits for a standby to become leader. Healthy means every watch loop is
// alive (Manager.healthProblems): a frozen cache would silently stop the operator, and only a restart heals it.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** ":8080", "127.0.0.1:8080", "[::1]:8080", "8080"; "0" disables the endpoint. */
export function parseBindAddress(value: string): { host: string | undefined; port: number } | undefined {
  if (value === '0') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`invalid bind address "${value}": expected [host]:port`);
  const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid bind address "${value}": port out of range`);
  return { host, port };
}

export interface ProbeHandlers {
  registry?: Registry;
  /** Problems that make /healthz fail (liveness); empty = healthy. */
  healthProblems?: () => readonly string[];
  ready?: () => boolean;
}

export interface Endpoint {
  /** "host:port" actually bound (useful with port 0). */
  address: string;
  close(): Promise<void>;
}

export async function serve(bind: { host: string | undefined; port: number }, handlers: ProbeHandlers): Promise<Endpoint> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if (path === '/metrics' && handlers.registry) {
      const registry = handlers.registry;
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        (err: unknown) => reply(500, `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    if (path === '/healthz' && handlers.healthProblems) {
      const problems = handlers.healthProblems();
      return problems.length === 0 ? reply(200, 'ok\n') : reply(503, `unhealthy:\n${problems.map((p) => `- ${p}\n`).join('')}`);
    }
    if (path === '/readyz' && handlers.ready) return handlers.ready() ? reply(200, 'ok\n') : reply(503, 'caches not synced\n');
    reply(404, 'not found\n');
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
