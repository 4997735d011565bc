/**
 * The client side of a message connection: connect with a deadline, then the same
 * {@linkcode MessageConnection} the server hands out.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { ByteStream } from "./byte_stream.ts";
import { MessageConnection, type MessageConnectionOptions } from "./message_connection.ts";
import {
  type MessageLimits,
  requirePositiveInteger,
  resolveMessageLimits,
} from "./message_limits.ts";
import { TransportError } from "./transport_error.ts";

/** Host connected to unless told otherwise, as `Deno.connect`. */
export const DEFAULT_CONNECT_HOSTNAME = "127.0.0.1";
/** Milliseconds a connect attempt (name lookup included) may take. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;

/** Opens the byte stream; must reject once `signal` aborts. */
export type MessageConnector = (
  options: { hostname: string; port: number; signal: AbortSignal },
) => Promise<ByteStream>;

/** Options of {@linkcode connectMessage}; the message bounds apply to the connection. */
export interface ConnectMessageOptions extends MessageLimits {
  /** Host name or address of the server. @default {DEFAULT_CONNECT_HOSTNAME} */
  hostname?: string;
  /** TCP port of the server. */
  port: number;
  /** Milliseconds the connect may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Cancels the connect and, later, closes the connection. */
  signal?: AbortSignal;
  /**
   * Where the connection logs; its records carry `peer`.
   * @default {getLogger(DEFAULT_TRANSPORT_LOG_CATEGORY)}
   */
  logger?: Logger;
  /** Opens the byte stream; defaults to `Deno.connect` with TCP_NODELAY. */
  connect?: MessageConnector;
}

/**
 * Connects to a message server and resolves to the connection.
 *
 * @example
 * ```ts
 * await using conn = await connectMessage({ hostname: "127.0.0.1", port: 3863 });
 * await conn.send(encodedRegistration);
 * const response = await conn.readMessage();
 * ```
 * @throws {TransportError} "connect-timeout" when `timeoutMs` passes first.
 * @throws {RangeError} when a bound is out of range.
 */
export async function connectMessage(options: ConnectMessageOptions): Promise<MessageConnection> {
  const action = "connect message connection";
  const limits = resolveMessageLimits(options, action);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  requirePositiveInteger(action, "timeoutMs", timeoutMs);
  const { signal } = options;
  signal?.throwIfAborted();
  const hostname = options.hostname ?? DEFAULT_CONNECT_HOSTNAME;
  const { port } = options;
  const attempt = new AbortController();
  const timer = setTimeout(() => {
    attempt.abort(
      new TransportError(
        `Cannot connect to ${hostname}:${port} within ${timeoutMs} ms`,
        "connect-timeout",
      ),
    );
  }, timeoutMs);
  const onAbort = () => attempt.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let stream: ByteStream;
  try {
    stream = await (options.connect ?? connectTcp)({ hostname, port, signal: attempt.signal });
  } catch (error) {
    throw attempt.signal.aborted ? attempt.signal.reason : error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  const connectionOptions: MessageConnectionOptions = { ...limits };
  if (signal !== undefined) connectionOptions.signal = signal;
  if (options.logger !== undefined) connectionOptions.logger = options.logger;
  return new MessageConnection(stream, connectionOptions);
}

async function connectTcp(
  options: { hostname: string; port: number; signal: AbortSignal },
): Promise<ByteStream> {
  const conn = await Deno.connect(options);
  conn.setNoDelay(true);
  return conn;
}
