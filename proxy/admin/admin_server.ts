/**
 * The admin API on a socket: {@linkcode createAdminApp} served by `Deno.serve`, with the
 * lifecycle shape of every Poolgate component (STYLE.md §11). Without a token the API would let
 * anyone who reaches the port change pools, so it then binds to loopback only, and refuses any
 * other address with an {@linkcode AdminServerError}.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { formatAddress } from "../../lib/transport/format_address.ts";
import { bindNamed } from "../../lib/transport/listen_error.ts";
import { type AdminAppOptions, createAdminApp } from "./admin_app.ts";

/** The admin API listens on loopback unless told otherwise. */
export const DEFAULT_ADMIN_HOSTNAME = "127.0.0.1";

/** Options of {@linkcode startAdminServer}. */
export interface AdminServerOptions extends AdminAppOptions {
  /**
   * Address to bind; anything but a loopback address needs `token`.
   * @default {DEFAULT_ADMIN_HOSTNAME}
   */
  readonly hostname?: string;
  /** TCP port; 0 picks a free one (see `addr`). */
  readonly port: number;
  /** Aborting it starts `shutdown()`. */
  readonly signal?: AbortSignal;
}

/** Why the admin server would not start: an address other than loopback without a token. */
export type AdminServerProblem = "no-token-off-loopback";

/** The admin server refuses its options; the message says what to change. */
export class AdminServerError extends Error {
  /** What is wrong. */
  readonly problem: AdminServerProblem;

  /** Builds the error. */
  constructor(message: string, problem: AdminServerProblem) {
    super(message);
    this.name = "AdminServerError";
    this.problem = problem;
  }
}

/**
 * True for addresses that only this host can reach: 127.0.0.0/8, ::1 (also IPv4-mapped), and
 * `localhost`.
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  const ipv4 = host.startsWith("::ffff:") ? host.slice("::ffff:".length) : host;
  const octets = ipv4.split(".");
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((octet) => /^(?:0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255);
}

function offLoopbackError(what: string): AdminServerError {
  return new AdminServerError(
    `Cannot start admin API on ${what} without a token: anyone who reaches it could change ` +
      `the pools. Give a token (--admin-token-file, --admin-token or POOLGATE_ADMIN_TOKEN) or ` +
      `bind to a loopback address such as 127.0.0.1`,
    "no-token-off-loopback",
  );
}

/**
 * Starts serving the admin API. Binds synchronously, so `addr.port` is real at once (also with
 * port 0).
 *
 * @throws {AdminServerError} when `hostname` is not loopback and there is no token.
 * @throws {RangeError} when the token or an app option cannot be used.
 * @throws {ListenError} (role "admin API") when the address cannot be bound; `cause` is Deno's
 *   error, such as `Deno.errors.AddrInUse`.
 */
export function startAdminServer(options: AdminServerOptions): AdminServer {
  return new AdminServer(options);
}

/** A running admin API server; see {@linkcode startAdminServer}. */
export class AdminServer implements AsyncDisposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #shutdown: Promise<void> | undefined;

  /** Use {@linkcode startAdminServer}. */
  constructor(options: AdminServerOptions) {
    const hostname = options.hostname ?? DEFAULT_ADMIN_HOSTNAME;
    const secured = options.token !== undefined;
    if (!secured && !isLoopbackHostname(hostname)) throw offLoopbackError(hostname);
    const logger = options.logger ?? getLogger(["poolgate", "admin"]);
    const app = createAdminApp({ ...options, logger });
    this.#server = bindNamed(
      { hostname, port: options.port },
      "admin API",
      (address) =>
        Deno.serve({
          ...address,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          // Without onListen Deno prints its own line to stdout; ours goes to the log.
          onListen: () => {},
        }, app.fetch),
    );
    this.addr = this.#server.addr;
    if (!secured && !isLoopbackHostname(this.addr.hostname)) {
      // `localhost` resolved to something else: stop before anyone is served.
      this.#shutdown = this.#server.shutdown();
      throw offLoopbackError(`${hostname} (${formatAddress(this.addr)})`);
    }
    if (secured) {
      logger.info("Admin API listening on {address} (bearer token required)", {
        address: formatAddress(this.addr),
      });
    } else {
      logger.warn(
        "Admin API listening on {address} without a token: bound to loopback only, open to " +
          "every local user",
        { address: formatAddress(this.addr) },
      );
    }
  }

  /** Resolves once the server has stopped. */
  get finished(): Promise<void> {
    return this.#server.finished;
  }

  /**
   * Stops accepting and waits for the requests in progress; idempotent. Aborting `signal` does
   * the same.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#server.shutdown();
    return this.#shutdown;
  }

  /** Same as `shutdown()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}
