// A thin JSON client for the Kubernetes API (requests and watch streams) over node:https, with the
// credentials of kubeconfig.ts. Objects stay plain JSON: timestamps are the API's strings, and nothing
// is re-serialised, so what we compare is exactly what the server sent.

import http from 'node:http';
import https from 'node:https';
import type { ClusterAccess } from './kubeconfig.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeRequest {
  method: HttpMethod;
  path: string;
  query?: Query;
  body?: unknown;
  /** Default application/json; PATCH defaults to a JSON merge patch. */
  contentType?: string;
  signal?: AbortSignal;
  /** Whole-request timeout (default 30 s): a hung API server must not hang a reconcile. */
  timeoutMs?: number;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: unknown;
}

export interface WatchOptions {
  signal: AbortSignal;
  /** Called when the response headers arrived (the watch is established). */
  onOpen?: () => void;
}

export interface KubeApi {
  request<T>(req: KubeRequest): Promise<T>;
  /** Streams watch events until the server ends the stream (resolves) or it breaks (rejects). Resolves on abort. */
  watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, options: WatchOptions): Promise<void>;
}

/** The API server answered with an error status (its Status object's reason and message are kept). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
  }
}

/** No answer: connection refused/reset, timeout, TLS failure. Always worth a retry later. */
export class TransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof ApiError && err.code === 404;
export const isConflict = (err: unknown): boolean => err instanceof ApiError && err.code === 409 && err.reason !== 'AlreadyExists';
export const isAlreadyExists = (err: unknown): boolean => err instanceof ApiError && err.code === 409 && err.reason === 'AlreadyExists';
export const isGone = (err: unknown): boolean => err instanceof ApiError && err.code === 410;

interface StatusBody {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
}

export function apiErrorFromStatus(code: number, body: string): ApiError {
  let status: StatusBody = {};
  try {
    status = JSON.parse(body) as StatusBody;
  } catch {
    /* not a Status object (proxy error page, empty body) */
  }
  const reason = status.reason ?? (http.STATUS_CODES[code] ?? 'Unknown').replace(/\s+/g, '');
  return new ApiError(code, reason, status.message ?? `HTTP ${code}: ${body.slice(0, 200)}`);
}

export function buildUrl(server: string, path: string, query: Query = {}): URL {
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/** A KubeApi that owns connections: close() drops the kept-alive ones so the process can exit. */
export interface KubeClient extends KubeApi {
  close(): void;
}

export function createKubeApi(access: ClusterAccess, userAgent: string): KubeClient {
  const server = access.server;
  const secure = server.startsWith('https:');
  // One keep-alive agent for every request: TLS handshakes once per connection, not per call.
  const agentOptions = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 32 };
  const agent = secure ? new https.Agent({ ...agentOptions, ...access.tls }) : new http.Agent(agentOptions);

  async function open(method: HttpMethod, url: URL, headers: Record<string, string>): Promise<http.ClientRequest> {
    // Asked per request: bearer tokens from files and exec plugins rotate.
    const auth = await access.headers();
    const opts: https.RequestOptions = { method, headers: { ...headers, ...auth, 'User-Agent': userAgent }, agent };
    return (secure ? https : http).request(url, opts);
  }

  return {
    close: () => agent.destroy(),

    async request<T>(req: KubeRequest): Promise<T> {
      const url = buildUrl(server, req.path, req.query);
      const body = req.body === undefined ? undefined : JSON.stringify(req.body);
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (body !== undefined) {
        headers['Content-Type'] = req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
        headers['Content-Length'] = String(Buffer.byteLength(body));
      }
      const clientReq = await open(req.method, url, headers);
      return new Promise<T>((resolve, reject) => {
        const timeoutMs = req.timeoutMs ?? 30_000;
        const timer = setTimeout(() => clientReq.destroy(new TransportError(`${req.method} ${req.path}: no answer within ${timeoutMs} ms`)), timeoutMs);
        const onAbort = (): void => {
          clientReq.destroy(new TransportError(`${req.method} ${req.path}: aborted`));
        };
        req.signal?.addEventListener('abort', onAbort, { once: true });
        const finish = (): void => {
          clearTimeout(timer);
          req.signal?.removeEventListener('abort', onAbort);
        };
        clientReq.on('error', (err) => {
          finish();
          reject(err instanceof TransportError ? err : new TransportError(`${req.method} ${req.path}: ${err.message}`, { cause: err }));
        });
        clientReq.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => {
            finish();
            reject(new TransportError(`${req.method} ${req.path}: ${err.message}`, { cause: err }));
          });
          res.on('end', () => {
            finish();
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code < 200 || code >= 300) return reject(apiErrorFromStatus(code, text));
            try {
              resolve((text === '' ? {} : JSON.parse(text)) as T);
            } catch (err) {
              reject(new TransportError(`${req.method} ${req.path}: invalid JSON in the answer`, { cause: err }));
            }
          });
        });
        if (req.signal?.aborted) onAbort();
        clientReq.end(body);
      });
    },

    async watch(path, query, onEvent, options): Promise<void> {
      const url = buildUrl(server, path, { ...query, watch: 'true' });
      const clientReq = await open('GET', url, { Accept: 'application/json' });
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const settle = (err?: Error): void => {
          if (settled) return;
          settled = true;
          options.signal.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve();
        };
        const onAbort = (): void => {
          settle();
          clientReq.destroy();
        };
        options.signal.addEventListener('abort', onAbort, { once: true });
        clientReq.on('error', (err) => settle(new TransportError(`watch ${path}: ${err.message}`, { cause: err })));
        clientReq.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
        clientReq.on('response', (res) => {
          const code = res.statusCode ?? 0;
          if (code !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => settle(apiErrorFromStatus(code, Buffer.concat(chunks).toString('utf8'))));
            res.on('error', (err) => settle(new TransportError(`watch ${path}: ${err.message}`, { cause: err })));
            return;
          }
          options.onOpen?.();
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (line === '' || settled) continue;
              let event: WatchEvent;
              try {
                event = JSON.parse(line) as WatchEvent;
              } catch {
                settle(new TransportError(`watch ${path}: undecodable event line`));
                clientReq.destroy();
                return;
              }
              onEvent(event);
            }
          });
          res.on('end', () => settle());
          res.on('aborted', () => settle(new TransportError(`watch ${path}: connection lost`)));
          res.on('error', (err) => settle(new TransportError(`watch ${path}: ${err.message}`, { cause: err })));
        });
        if (options.signal.aborted) onAbort();
        clientReq.end();
      });
    },
  };
}
