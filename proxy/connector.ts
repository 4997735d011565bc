/**
 * How the session proxy opens connections to pool elements: `Deno.connect`'s shape, injectable
 * so that tests can stand in for the network, wrapped with a connect timeout.
 *
 * @module
 */
import type { ByteStream } from "../lib/transport/byte_stream.ts";
import type { Deadlines } from "./deadlines.ts";

/** A TCP connection of the proxy, to a client or a pool element: `Deno.TcpConn`'s shape. */
export interface PeConnection extends ByteStream {
  /** Sets TCP_NODELAY. */
  setNoDelay(noDelay?: boolean): void;
}

/** Opens a TCP connection; rejects with `signal.reason` once `signal` aborts. */
export type Connector = (
  options: { hostname: string; port: number; signal: AbortSignal },
) => Promise<PeConnection>;

/** A connect attempt that did not complete within its timeout. */
export class ConnectTimeoutError extends Error {
  /** Creates the error for `hostname:port` after `timeoutMs`. */
  constructor(hostname: string, port: number, timeoutMs: number) {
    super(`Cannot connect to ${hostname}:${port}: no answer within ${timeoutMs} ms`);
    this.name = "ConnectTimeoutError";
  }
}

/** `Deno.connect` over TCP, the production {@linkcode Connector}. */
export function tcpConnector(
  options: { hostname: string; port: number; signal: AbortSignal },
): Promise<PeConnection> {
  return Deno.connect({ transport: "tcp", ...options });
}

/**
 * Connects with `connector`, giving up after `timeoutMs` (on `deadlines`' timer).
 *
 * @throws {ConnectTimeoutError} when the time is up; otherwise what the connector throws.
 */
export async function connectWithin(
  connector: Connector,
  hostname: string,
  port: number,
  timeoutMs: number,
  deadlines: Deadlines,
): Promise<PeConnection> {
  const controller = new AbortController();
  const deadline = deadlines.after(
    timeoutMs,
    () => controller.abort(new ConnectTimeoutError(hostname, port, timeoutMs)),
  );
  try {
    return await connector({ hostname, port, signal: controller.signal });
  } finally {
    deadline.cancel();
  }
}
