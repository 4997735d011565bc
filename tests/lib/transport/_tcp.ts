/**
 * Real TCP connection pairs on loopback for transport tests.
 *
 * @module
 */
import { concat } from "./_messages.ts";

/** Both ends of one loopback TCP connection; disposing closes both. */
export interface TcpPair extends AsyncDisposable {
  /** The connecting side: the test writes raw bytes here. */
  readonly client: Deno.TcpConn;
  /** The accepted side: the code under test wraps this one. */
  readonly server: Deno.TcpConn;
}

/** Opens a connected pair on `hostname` (127.0.0.1 or ::1), port 0. */
export async function tcpPair(hostname = "127.0.0.1"): Promise<TcpPair> {
  using listener = Deno.listen({ hostname, port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname, port: listener.addr.port }),
    listener.accept(),
  ]);
  return {
    client,
    server,
    [Symbol.asyncDispose]() {
      for (const conn of [client, server]) {
        try {
          conn.close();
        } catch {
          // The code under test closed it already.
        }
      }
      return Promise.resolve();
    },
  };
}

/** Reads from `conn` until the peer ends the stream; resolves to everything read. */
export async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  try {
    for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
      parts.push(buffer.slice(0, count));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
  return concat(parts);
}

/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let written = 0; written < data.length;) written += await conn.write(data.subarray(written));
}
