// A TCP proxy on 127.0.0.1 in front of a real server that, once told to, cuts the sweep off from the
// server: from the N-th request on, no request reaches the server, every connection is closed as soon
// as the requests the server did receive have been answered, and new connections are refused. The
// sweep sees a real connection failure (closed sockets, refused connects), at a request boundary, so
// every write the server applied was also acknowledged: what the sweep reports can be compared with
// what is gone, exactly. (A write applied but never acknowledged cannot be counted by any client.)
//
// Requests are found by parsing the protocol: HTTP/1.1 (DynamoDB; one request at a time per
// connection) or Cassandra's native protocol v3/v4 (frames of a 9-byte header and a body, multiplexed
// by stream id; the answers are matched to the requests by stream id).

import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyProtocol = 'http' | 'cql';

export interface CuttingProxy {
  readonly port: number;
  /** Requests forwarded to the server so far. */
  readonly forwarded: number;
  /** Requests whose turn came after the cut and were never forwarded, plus connections refused after it. */
  readonly dropped: number;
  /** From now on, forward at most `n` requests in total (counting those already forwarded). */
  cutAfter(n: number): void;
  close(): Promise<void>;
}

interface Parser {
  /** Splits client bytes into whole requests (kept in order); returns the complete ones. */
  requests(chunk: Buffer): Buffer[];
  /** Splits server bytes into whole responses; returns them with the stream they answer (-1: none). */
  responses(chunk: Buffer): { bytes: Buffer; answers: number | null }[];
}

export async function startCuttingProxy(target: { host: string; port: number }, protocol: ProxyProtocol): Promise<CuttingProxy> {
  let forwarded = 0;
  let dropped = 0;
  let limit = Number.POSITIVE_INFINITY;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (forwarded >= limit) {
      dropped += 1;
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    const parser = protocol === 'http' ? httpParser() : cqlParser();
    // Requests forwarded on this connection and not answered yet.
    const outstanding = new Set<number>();
    let httpOutstanding = 0;
    let cut = false;
    const closeWhenAnswered = (): void => {
      if (cut && outstanding.size === 0 && httpOutstanding === 0) {
        client.destroy();
        upstream.destroy();
      }
    };
    client.on('data', (chunk: Buffer) => {
      for (const request of parser.requests(chunk)) {
        if (cut || forwarded >= limit) {
          cut = true;
          dropped += 1;
          continue;
        }
        forwarded += 1;
        if (protocol === 'http') httpOutstanding += 1;
        else outstanding.add(request.readInt16BE(2));
        upstream.write(request);
      }
      closeWhenAnswered();
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const response of parser.responses(chunk)) {
        client.write(response.bytes);
        if (protocol === 'http') httpOutstanding = Math.max(0, httpOutstanding - 1);
        else if (response.answers !== null) outstanding.delete(response.answers);
      }
      closeWhenAnswered();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy did not bind a TCP port');
  return {
    port: address.port,
    get forwarded() {
      return forwarded;
    },
    get dropped() {
      return dropped;
    },
    cutAfter(n) {
      limit = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Cassandra native protocol v3/v4 (and DSE v1/v2) frames: version, flags, stream (int16), opcode, body length (int32), body. */
function cqlParser(): Parser {
  const frames = (): ((chunk: Buffer) => Buffer[]) => {
    let buf = Buffer.alloc(0);
    return (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const out: Buffer[] = [];
      while (buf.length >= 9) {
        // v3, v4 and the DSE versions the driver tries first (0x41, 0x42) share this header; the driver
        // never negotiates v5, whose framing differs.
        const total = 9 + buf.readInt32BE(5);
        if (buf.length < total) break;
        out.push(buf.subarray(0, total));
        buf = buf.subarray(total);
      }
      return out;
    };
  };
  const client = frames();
  const server = frames();
  return {
    requests: client,
    // Stream -1 carries server-pushed events, which answer no request.
    responses: (chunk) => server(chunk).map((bytes) => ({ bytes, answers: bytes.readInt16BE(2) >= 0 ? bytes.readInt16BE(2) : null })),
  };
}

/** HTTP/1.1 messages with Content-Length bodies (what the AWS SDK sends and moto answers). */
function httpParser(): Parser {
  const messages = (): ((chunk: Buffer) => Buffer[]) => {
    let buf = Buffer.alloc(0);
    return (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const out: Buffer[] = [];
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = buf.subarray(0, end).toString('latin1');
        if (/^transfer-encoding:\s*chunked/im.test(head)) throw new Error('cutting proxy: chunked HTTP bodies are not parsed');
        const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? '0');
        const total = end + 4 + length;
        if (buf.length < total) break;
        out.push(buf.subarray(0, total));
        buf = buf.subarray(total);
      }
      return out;
    };
  };
  const client = messages();
  const server = messages();
  return { requests: client, responses: (chunk) => server(chunk).map((bytes) => ({ bytes, answers: null })) };
}

export interface CommitReplyLosingProxy {
  readonly port: number;
  /** COMMITs (PostgreSQL simple-query messages) seen so far, on all connections. */
  readonly commits: number;
  /** Whether the reply of the chosen COMMIT was swallowed. */
  readonly lost: boolean;
  close(): Promise<void>;
}

/** A simple-query message `Q` carrying exactly "COMMIT" (how node-postgres sends client.query('COMMIT')). */
const PG_COMMIT_QUERY = Buffer.concat([Buffer.from([0x51, 0, 0, 0, 11]), Buffer.from('COMMIT\0', 'latin1')]);
/** The server's CommandComplete for it: `C`, length, tag "COMMIT". */
const PG_COMMIT_DONE = Buffer.concat([Buffer.from([0x43, 0, 0, 0, 11]), Buffer.from('COMMIT\0', 'latin1')]);

/**
 * A proxy in front of PostgreSQL that lets the `nth` COMMIT (1-based, counted over all connections)
 * reach the server, waits until the server has answered it (so it did commit), then closes that
 * connection without passing the answer on: the client's COMMIT fails with a lost connection although
 * the transaction is committed. Other connections, also new ones, pass untouched.
 */
export async function startCommitReplyLosingProxy(target: { host: string; port: number }, nth: number): Promise<CommitReplyLosingProxy> {
  let commits = 0;
  let lost = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    let clientTail = Buffer.alloc(0);
    let serverSeen = Buffer.alloc(0);
    let swallowing = false;
    client.on('data', (chunk: Buffer) => {
      if (swallowing) return; // nothing after the chosen COMMIT reaches the server
      const seen = Buffer.concat([clientTail, chunk]);
      let at = -1;
      for (let from = 0; ; ) {
        const i = seen.indexOf(PG_COMMIT_QUERY, from);
        if (i < 0) break;
        // Occurrences already counted lie wholly in the tail kept from the last chunk.
        if (i + PG_COMMIT_QUERY.length > clientTail.length && ++commits === nth) {
          at = i;
          break;
        }
        from = i + 1;
      }
      if (at < 0) {
        upstream.write(chunk);
        clientTail = seen.subarray(Math.max(0, seen.length - PG_COMMIT_QUERY.length + 1));
        return;
      }
      // Forward up to and including the chosen COMMIT, then nothing more.
      const end = at + PG_COMMIT_QUERY.length - clientTail.length;
      upstream.write(chunk.subarray(0, end));
      swallowing = true;
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!swallowing) {
        client.write(chunk);
        return;
      }
      serverSeen = Buffer.concat([serverSeen, chunk]);
      // The answers to what was sent before the COMMIT may come first; the COMMIT's own is the sign.
      if (serverSeen.includes(PG_COMMIT_DONE)) {
        lost = true;
        client.destroy();
        upstream.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy did not bind a TCP port');
  return {
    port: address.port,
    get commits() {
      return commits;
    },
    get lost() {
      return lost;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
