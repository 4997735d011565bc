/**
 * A TCP server for ASAP/ENRP message connections with a connection limit, in the `Deno.serve`
 * lifecycle shape: it binds synchronously, and `shutdown()` closes the listener and every
 * connection.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { delay } from "./delay.ts";
import { formatAddress } from "./format_address.ts";
import { bindNamed } from "./listen_error.ts";
import { DEFAULT_TRANSPORT_LOG_CATEGORY, MessageConnection } from "./message_connection.ts";
import {
  type MessageLimits,
  requirePositiveInteger,
  type ResolvedMessageLimits,
  resolveMessageLimits,
} from "./message_limits.ts";

/** Address the server listens on unless told otherwise: every IPv4 interface, as `Deno.listen`. */
export const DEFAULT_MESSAGE_SERVER_HOSTNAME = "0.0.0.0";
/** What a message server is for unless its options say (the registrar says "ASAP" or "ENRP"). */
export const DEFAULT_MESSAGE_SERVER_ROLE = "message server";
/** Connections served at once; stays below the common soft limit of 1024 open files. */
export const DEFAULT_MAX_CONNECTIONS = 1000;
/** Longest pause between accept attempts after accept() fails (for example out of files). */
const MAX_ACCEPT_BACKOFF_MS = 1000;
const MIN_ACCEPT_BACKOFF_MS = 5;

/** Options of {@linkcode startMessageServer}; the message bounds apply to each connection. */
export interface MessageServerOptions extends MessageLimits {
  /** Address to listen on. @default {DEFAULT_MESSAGE_SERVER_HOSTNAME} */
  hostname?: string;
  /** Port to listen on; 0 picks a free one, readable at once from `addr.port`. */
  port: number;
  /**
   * What the server is for, named by the `ListenError` when it cannot bind.
   * @default {DEFAULT_MESSAGE_SERVER_ROLE}
   */
  role?: string;
  /**
   * Connections served at once; one beyond is accepted, closed at once and logged.
   * @default {DEFAULT_MAX_CONNECTIONS}
   */
  maxConnections?: number;
  /**
   * Serves one connection. The connection is closed when the returned promise settles; a
   * rejection is logged with the peer unless it is the connection's own close reason, which the
   * connection has logged already.
   */
  onConnection: (connection: MessageConnection) => Promise<void>;
  /** Shuts the server down when it aborts. */
  signal?: AbortSignal;
  /**
   * Where the server and its connections log; connection records carry `peer`.
   * @default {getLogger(DEFAULT_TRANSPORT_LOG_CATEGORY)}
   */
  logger?: Logger;
}

/** A running message server; see {@linkcode startMessageServer}. */
export class MessageServer implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #limits: ResolvedMessageLimits;
  readonly #maxConnections: number;
  readonly #onConnection: (connection: MessageConnection) => Promise<void>;
  readonly #logger: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.shutdown();
  /** Each open connection with the task that serves it. */
  readonly #connections = new Map<MessageConnection, Promise<void>>();
  readonly #stopping = new AbortController();
  readonly #acceptDone: Promise<void>;
  readonly #finished = Promise.withResolvers<void>();
  #shutdown: Promise<void> | undefined;

  /** Binds and starts accepting; use {@linkcode startMessageServer}. */
  constructor(options: MessageServerOptions) {
    const action = "start message server";
    this.#limits = resolveMessageLimits(options, action);
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    requirePositiveInteger(action, "maxConnections", this.#maxConnections);
    options.signal?.throwIfAborted();
    this.#onConnection = options.onConnection;
    this.#logger = options.logger ?? getLogger(DEFAULT_TRANSPORT_LOG_CATEGORY);
    this.#listener = bindNamed(
      { hostname: options.hostname ?? DEFAULT_MESSAGE_SERVER_HOSTNAME, port: options.port },
      options.role ?? DEFAULT_MESSAGE_SERVER_ROLE,
      (address) => Deno.listen(address),
    );
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.#logger.debug("Listening for messages on {address}", {
      address: formatAddress(this.#listener.addr),
    });
    this.#acceptDone = this.#acceptLoop();
    // A listener that fails for good stops the server as shutdown() would.
    void this.#acceptDone.then(() => this.shutdown());
  }

  /** The address the server listens on; the port is real at once, also with port 0. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Resolves once the server has stopped and every connection is closed. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Stops accepting, closes every connection and waits for their `onConnection` promises;
   * idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  /** Same as {@linkcode MessageServer.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #stop(): Promise<void> {
    this.#stopping.abort();
    this.#signal?.removeEventListener("abort", this.#onAbort);
    try {
      this.#listener.close();
    } catch {
      // Closed already because the listener failed.
    }
    await this.#acceptDone;
    for (const connection of this.#connections.keys()) connection.close();
    await Promise.all(this.#connections.values());
    this.#logger.debug("Stopped listening on {address}", { address: formatAddress(this.addr) });
    this.#finished.resolve();
  }

  async #acceptLoop(): Promise<void> {
    let backoffMs = 0;
    while (!this.#stopping.signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (
          this.#stopping.signal.aborted || error instanceof Deno.errors.BadResource ||
          error instanceof Deno.errors.Interrupted
        ) {
          return;
        }
        // Out of files or a connection aborted while queued: pause, as Go's net/http does.
        backoffMs = Math.min(MAX_ACCEPT_BACKOFF_MS, Math.max(MIN_ACCEPT_BACKOFF_MS, 2 * backoffMs));
        this.#logger.error("Cannot accept a connection: {error}; retrying in {backoffMs} ms", {
          error,
          backoffMs,
        });
        await delay(backoffMs, this.#stopping.signal);
        continue;
      }
      this.#admit(conn);
    }
  }

  #admit(conn: Deno.TcpConn): void {
    if (this.#connections.size >= this.#maxConnections) {
      this.#logger.warn(
        "Refusing connection from {peer}: {maxConnections} connections are open, the maximum",
        { peer: formatAddress(conn.remoteAddr), maxConnections: this.#maxConnections },
      );
      conn.close();
      return;
    }
    conn.setNoDelay(true);
    const connection = new MessageConnection(conn, { ...this.#limits, logger: this.#logger });
    this.#logger.debug("Accepted connection from {peer}", { peer: connection.peer });
    const task = this.#serve(connection).finally(() => this.#connections.delete(connection));
    this.#connections.set(connection, task);
  }

  async #serve(connection: MessageConnection): Promise<void> {
    try {
      await this.#onConnection(connection);
    } catch (error) {
      if (error !== connection.closeReason) {
        this.#logger.error("Connection handler for {peer} failed: {error}", {
          peer: connection.peer,
          error,
        });
      }
    } finally {
      connection.close();
      await connection.finished;
    }
  }
}

/**
 * Listens on `hostname:port` and serves each accepted connection, up to `maxConnections` at
 * once, as a {@linkcode MessageConnection} handed to `onConnection`. Binds before returning, so
 * `addr.port` is real at once.
 *
 * @example
 * ```ts
 * await using server = startMessageServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   onConnection: async (conn) => {
 *     for await (const message of conn) await conn.send(message);
 *   },
 * });
 * ```
 * @throws {RangeError} when a bound is out of range.
 * @throws {ListenError} when the address cannot be bound (`cause` is Deno's error, such as
 *   `Deno.errors.AddrInUse`).
 */
export function startMessageServer(options: MessageServerOptions): MessageServer {
  return new MessageServer(options);
}
