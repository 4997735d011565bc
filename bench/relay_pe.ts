/**
 * A benchmark backend, not product code: a DATA PLUS CONTROL pool element built with the PE
 * library (`lib/asap`, as `lib/asap/examples` are) that relays every proxy session to a plain
 * TCP server. The shared proxy harness (`/work/shared/bench/proxy`) starts its own backends
 * (iperf3, nginx) and only gives the start script their ports; one relay per backend port lets
 * it measure Poolgate's control-channel path (`bench/start-poolgate-control.sh`).
 *
 * ```sh
 * deno run --allow-net bench/relay_pe.ts --pool bench --registrar 127.0.0.1:3863 \
 *   --backend 127.0.0.1:5201 [--cookie-every BYTES] [--port 0] [--log-level info]
 * ```
 *
 * Per session: one TCP connection to the backend, bytes relayed both ways with one reused
 * buffer per direction, each write awaited before the next read (backpressure both ways), the
 * client's end frame passed on as a FIN to the backend and the backend's FIN as an end frame.
 * A state cookie (a 4-byte marker: the relay has no state of its own) goes out every
 * `--cookie-every` client bytes written to the backend, so that the proxy can free its replay
 * buffer (`docs/data_channel.md`, "Replay buffer and backpressure"). A quarter of that buffer
 * by default leaves room for the bytes in flight while a cookie travels back; 1-second iperf3
 * runs moved no more with a cookie after every write or every 16 or 128 KiB.
 *
 * After its end frame the relay can send no cookie (the library refuses one after `end()`,
 * and the proxy reads no frame after an end frame); none is needed, since the proxy keeps no
 * client bytes for replay once the end frame has reached the client (an iperf3 server closes
 * while the client's last bytes are in flight).
 *
 * A session moved here from another relay continues on a new backend connection from its
 * cookie's position: right for a byte-wise echo, garbage for iperf3 or HTTP, and what the old
 * backend had read but not answered is lost. The relay exits when it loses its registrar, so
 * that it lives as long as the proxy whose embedded registrar it joined; SIGINT or SIGTERM
 * deregisters it first.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { parseArgs } from "node:util";
import { type PoolElementRegistration, registerPoolElement } from "../lib/asap/pool_element.ts";
import {
  type PeSession,
  type PeSessionServer,
  type PeSessionServerOptions,
  servePeSessions,
} from "../lib/asap/pe_session.ts";
import { MAX_DATA_PAYLOAD } from "../lib/asap/data_channel.ts";
import { TransportUse } from "../lib/wire/codes.ts";
import { DEFAULT_CONTROL_REPLAY_BUFFER_BYTES } from "../proxy/settings.ts";
import { runUntilSignal, type Stoppable } from "../cli/lifecycle.ts";
import { LOG_LEVELS, setUpLogging } from "../cli/logging.ts";
import { parsePoolHandle, parseServerAddress } from "../cli/pe_command.ts";
import { formatHostPort, type HostPort, integerIn, oneOf } from "../cli/values.ts";

/**
 * Client bytes written to the backend between two cookies: a quarter of the proxy's default
 * replay buffer, so that the buffer never fills while a cookie is on its way back.
 */
export const DEFAULT_RELAY_COOKIE_EVERY_BYTES = DEFAULT_CONTROL_REPLAY_BUFFER_BYTES / 4;
/** The relay's state cookie: "RLY1", a marker only (a relay keeps no state). */
export const RELAY_COOKIE: Uint8Array = Uint8Array.of(0x52, 0x4c, 0x59, 0x31);
/** The LogTape category of the relay's own lines. */
export const RELAY_LOG_CATEGORY: readonly string[] = ["poolgate", "bench", "relay-pe"];

// A read fills at most one data frame, so that each write to the channel is one frame.
const READ_BYTES = MAX_DATA_PAYLOAD;

/** The `restore` and `serve` of a relay to `backend`, for `servePeSessions`. */
export function relayService(
  backend: HostPort,
  cookieEveryBytes: number = DEFAULT_RELAY_COOKIE_EVERY_BYTES,
): Pick<PeSessionServerOptions<void>, "restore" | "serve"> {
  if (!Number.isSafeInteger(cookieEveryBytes) || cookieEveryBytes < 1) {
    throw new RangeError(
      `Cannot create relay as 'cookieEveryBytes' must be a positive integer: current value is ${cookieEveryBytes}`,
    );
  }
  return {
    restore(cookie: Uint8Array | undefined): void {
      // Another service's cookie in the same pool would mean a misconfigured benchmark.
      if (
        cookie !== undefined &&
        (cookie.length !== RELAY_COOKIE.length || cookie.some((b, i) => b !== RELAY_COOKIE[i]))
      ) {
        throw new TypeError(`Cannot restore relay session: the cookie is not a relay's`);
      }
    },
    async serve(session: PeSession): Promise<void> {
      const conn = await Deno.connect({ hostname: backend.hostname, port: backend.port });
      // Request/response latency matters (rr.sh), as on the proxy's own legs.
      conn.setNoDelay(true);
      const relay = new Relay(session, conn, cookieEveryBytes);
      const pumps = [relay.up(), relay.down()];
      try {
        await Promise.all(pumps);
      } catch (error) {
        // One pump lost the channel: unblock the other before the library closes it.
        session.close();
        throw error;
      } finally {
        closeQuietly(conn);
        await Promise.allSettled(pumps);
      }
    },
  };
}

/**
 * The two pumps of one session. A backend error counts as the backend's end of that direction
 * (as a TCP proxy passes a backend's close on); a channel error rejects, and the library then
 * closes the channel without an end frame.
 */
class Relay {
  readonly #session: PeSession;
  readonly #conn: Deno.TcpConn;
  readonly #cookieEvery: number;
  #outputEnded = false;

  constructor(session: PeSession, conn: Deno.TcpConn, cookieEvery: number) {
    this.#session = session;
    this.#conn = conn;
    this.#cookieEvery = cookieEvery;
  }

  /** Client → backend, with a cookie every `cookieEvery` bytes the backend has taken. */
  async up(): Promise<void> {
    const session = this.#session;
    const buffer = new Uint8Array(READ_BYTES);
    let uncovered = 0;
    for (let n = await session.read(buffer); n !== null; n = await session.read(buffer)) {
      if (!(await writeAllQuietly(this.#conn, buffer.subarray(0, n)))) return;
      uncovered += n;
      // The library refuses cookies after the end frame; the proxy reads none after it either.
      if (uncovered >= this.#cookieEvery && !this.#outputEnded) {
        uncovered = 0;
        // Every byte read is now with the backend: the cookie may cover it. Not awaited: it
        // queues behind client-bound data, and waiting for a slow client here would stall the
        // upload for nothing. Queued cookies stay bounded: the proxy sends at most one replay
        // buffer until one arrives. A failed write fails the next read or write anyway.
        session.sendCookie(RELAY_COOKIE).catch(() => {});
      }
    }
    try {
      await this.#conn.closeWrite();
    } catch {
      // The backend is gone: nothing left to pass the half-close to.
    }
  }

  /** Backend → client, then the end frame. */
  async down(): Promise<void> {
    const session = this.#session;
    const buffer = new Uint8Array(READ_BYTES);
    while (true) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch {
        n = null; // Reset or closed: the backend's output has ended either way.
      }
      if (n === null) break;
      // The library frames from `buffer` while this waits, so it is reused only afterwards.
      await session.write(buffer.subarray(0, n));
    }
    this.#outputEnded = true;
    await session.end();
  }
}

/** Options of {@linkcode RelayPe}. */
export interface RelayPeOptions {
  /** Pool to register in. */
  readonly pool: string;
  /** Registrars to hunt among, in order. */
  readonly registrars: readonly HostPort[];
  /** The plain TCP server every session is relayed to. */
  readonly backend: HostPort;
  /** Address of the data channel. */
  readonly hostname: string;
  /** Port of the data channel; 0 picks a free one. */
  readonly port: number;
  /** Client bytes written to the backend between two cookies. */
  readonly cookieEveryBytes: number;
  readonly logger: Logger;
}

/** A running relay: its session server and its DATA PLUS CONTROL registration. */
export class RelayPe implements Stoppable {
  /** Resolves once the session server has stopped. */
  readonly finished: Promise<void>;
  readonly #server: PeSessionServer;
  readonly #registration: PoolElementRegistration;
  #stopping: Promise<void> | undefined;

  /** Starts serving and registering at once. */
  constructor(options: RelayPeOptions) {
    const { logger, pool } = options;
    this.#server = servePeSessions({
      hostname: options.hostname,
      port: options.port,
      ...relayService(options.backend, options.cookieEveryBytes),
      logger: logger.getChild("session"),
    });
    this.finished = this.#server.finished;
    this.#registration = registerPoolElement({
      registrars: options.registrars,
      poolHandle: pool,
      transport: { port: this.#server.addr.port, transportUse: TransportUse.dataPlusControl },
    });
    const peId = `0x${this.#registration.poolElementId.toString(16).padStart(8, "0")}`;
    const relay = `${formatHostPort(this.#server.addr)} to ${formatHostPort(options.backend)}`;
    // One line once registered (start-poolgate-control.sh waits on the registrar instead, the
    // test on this line); a refusal is the only reason a relay would stay out of the pool.
    this.#registration.addEventListener("registered", (event) => {
      logger.info("PE {peId} registered in pool {pool} at {registrar}: relaying {relay}", {
        peId,
        pool,
        registrar: event.detail.registrar,
        relay,
      });
    });
    this.#registration.addEventListener("refused", (event) => {
      logger.error("PE {peId} refused by {registrar}: {error}", {
        peId,
        registrar: event.detail.registrar,
        error: event.detail.error.message,
      });
    });
    // The proxy's embedded registrar went away with the proxy: a benchmark backend has nothing
    // left to do, and start-poolgate-control.sh relies on this to leave no relay behind.
    this.#registration.addEventListener("home-lost", (event) => {
      logger.info("PE {peId} lost its registrar {registrar} ({reason}): exiting", {
        peId,
        registrar: event.detail.registrar,
        reason: event.detail.reason,
      });
      void this.shutdown();
    });
  }

  /** Deregisters, then closes the channels (the proxy moves their sessions). */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // Out of the pool first, so that the proxy picks another relay for the sessions closed next;
    // without a home connection close() sends nothing and only stops the hunt.
    await this.#registration.close();
    await this.#server.shutdown();
  }
}

async function writeAllQuietly(conn: Deno.TcpConn, bytes: Uint8Array): Promise<boolean> {
  try {
    for (let written = 0; written < bytes.length;) {
      written += await conn.write(bytes.subarray(written));
    }
    return true;
  } catch {
    return false; // The backend is gone: the library drops the rest of the client's bytes.
  }
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function usage(message: string): never {
  console.error(`relay_pe.ts: ${message}`);
  console.error(
    "usage: relay_pe.ts --pool HANDLE --registrar HOST:PORT [--registrar ...] --backend HOST:PORT " +
      "[--hostname 127.0.0.1] [--port 0] [--cookie-every BYTES] [--log-level LEVEL] [--log-format text|json]",
  );
  Deno.exit(2);
}

function parsed<T>(flag: string, text: string | undefined, parse: (text: string) => T): T {
  if (text === undefined) usage(`missing --${flag}`);
  try {
    return parse(text);
  } catch (error) {
    usage(`--${flag} ${text}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        pool: { type: "string" },
        registrar: { type: "string", multiple: true, default: [] },
        backend: { type: "string" },
        hostname: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "0" },
        "cookie-every": { type: "string", default: String(DEFAULT_RELAY_COOKIE_EVERY_BYTES) },
        "log-level": { type: "string", default: "info" },
        "log-format": { type: "string" },
      },
    }));
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  if (values.registrar.length === 0) usage("missing --registrar");
  const options = {
    pool: parsed("pool", values.pool, parsePoolHandle),
    registrars: values.registrar.map((text) => parsed("registrar", text, parseServerAddress)),
    backend: parsed("backend", values.backend, parseServerAddress),
    hostname: values.hostname,
    port: parsed("port", values.port, integerIn(0, 65535)),
    cookieEveryBytes: parsed("cookie-every", values["cookie-every"], integerIn(1, 1 << 30)),
  };
  const level = parsed("log-level", values["log-level"], oneOf(LOG_LEVELS));
  const format = values["log-format"] === undefined
    ? undefined
    : parsed("log-format", values["log-format"], oneOf(["text", "json"] as const));
  await setUpLogging({ level, format });
  const logger = getLogger([...RELAY_LOG_CATEGORY]);
  return await runUntilSignal(new RelayPe({ ...options, logger }), { logger });
}

if (import.meta.main) Deno.exit(await main());
