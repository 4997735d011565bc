/**
 * The ENRP server hunt of RFC 5352 §3.6 over TCP: connect to at most three registrars of a list at
 * once, take the first connection that is established as the home registrar, and back off with
 * the T5-Serverhunt timer, doubled after each round up to RETRAN-MAX.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  connectMessage,
  type ConnectMessageOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  type MessageConnector,
} from "../transport/connect_message.ts";
import { delay } from "../transport/delay.ts";
import type { MessageConnection } from "../transport/message_connection.ts";
import {
  type MessageLimits,
  requirePositiveInteger,
  type ResolvedMessageLimits,
  resolveMessageLimits,
} from "../transport/message_limits.ts";

/** T5-Serverhunt (RFC 5352 §7.1): milliseconds a hunt round may take before the next one. */
export const DEFAULT_SERVER_HUNT_MS = 10_000;
/** RETRAN-MAX (RFC 5352 §7.3): the ceiling the doubling T5 timer backs off to, in milliseconds. */
export const DEFAULT_RETRAN_MAX_MS = 60_000;
/** Connection attempts one hunt runs at once: RFC 5352 §3.6 SH1 allows no more than three. */
export const MAX_PARALLEL_HUNT = 3;
/** The LogTape category ASAP endpoints log to unless a logger is given. */
export const DEFAULT_ASAP_LOG_CATEGORY: readonly string[] = ["poolgate", "asap"];

/** Where a registrar's ASAP endpoint listens (TCP). */
export interface RegistrarAddress {
  /** Host name or IP address. */
  readonly hostname: string;
  /** TCP port (IANA's ASAP port is 3863). */
  readonly port: number;
}

/** Options of {@linkcode huntRegistrar}; the message bounds apply to the connection it returns. */
export interface ServerHuntOptions extends MessageLimits {
  /**
   * T5-Serverhunt: milliseconds one round of connection attempts may take; a round that finds
   * no registrar is followed, once this time has passed, by another with the timer doubled.
   * @default {DEFAULT_SERVER_HUNT_MS}
   */
  serverHuntMs?: number;
  /** RETRAN-MAX: the most the doubled T5 timer grows to. @default {DEFAULT_RETRAN_MAX_MS} */
  retranMaxMs?: number;
  /**
   * Connection attempts run at once, from 1 to {@linkcode MAX_PARALLEL_HUNT}.
   * @default {MAX_PARALLEL_HUNT}
   */
  maxParallelHunt?: number;
  /**
   * Milliseconds one connection attempt may take (also bounded by the round).
   * @default {DEFAULT_CONNECT_TIMEOUT_MS}
   */
  connectTimeoutMs?: number;
  /** Opens the byte stream; defaults to `Deno.connect` with TCP_NODELAY. */
  connect?: MessageConnector;
  /**
   * Where the hunt and the connection log.
   * @default {getLogger(DEFAULT_ASAP_LOG_CATEGORY)}
   */
  logger?: Logger;
}

/** The registrar a hunt found, with the established connection. */
export interface HuntedRegistrar {
  /** The connection, owned by the caller from now on. */
  readonly connection: MessageConnection;
  /** The registrar's address as given. */
  readonly registrar: RegistrarAddress;
  /** Its position in the list given to {@linkcode huntRegistrar}. */
  readonly index: number;
}

/** {@linkcode ServerHuntOptions} with every default filled in and checked. */
export interface ServerHuntSettings {
  readonly serverHuntMs: number;
  readonly retranMaxMs: number;
  readonly maxParallelHunt: number;
  readonly connectTimeoutMs: number;
  readonly connect: MessageConnector | undefined;
  readonly logger: Logger;
  readonly limits: ResolvedMessageLimits;
}

/**
 * Fills in and checks the hunt options and the registrar list; `action` names what is being
 * started, for the message ("register pool element").
 *
 * @throws {RangeError} when a bound is out of range or the list is empty.
 * @throws {TypeError} when a registrar address is malformed.
 */
export function resolveServerHuntSettings(
  registrars: readonly RegistrarAddress[],
  options: ServerHuntOptions,
  action: string,
): ServerHuntSettings {
  if (registrars.length === 0) {
    throw new RangeError(`Cannot ${action} as 'registrars' is empty: give at least one`);
  }
  for (const [i, registrar] of registrars.entries()) {
    if (typeof registrar.hostname !== "string" || registrar.hostname === "") {
      throw new TypeError(`Cannot ${action} as 'registrars[${i}].hostname' is empty`);
    }
    if (!Number.isInteger(registrar.port) || registrar.port < 1 || registrar.port > 0xffff) {
      throw new RangeError(
        `Cannot ${action} as 'registrars[${i}].port' must be an integer from 1 to 65535: current value is ${registrar.port}`,
      );
    }
  }
  const settings: ServerHuntSettings = {
    serverHuntMs: options.serverHuntMs ?? DEFAULT_SERVER_HUNT_MS,
    retranMaxMs: options.retranMaxMs ?? DEFAULT_RETRAN_MAX_MS,
    maxParallelHunt: options.maxParallelHunt ?? MAX_PARALLEL_HUNT,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    connect: options.connect,
    logger: options.logger ?? getLogger(DEFAULT_ASAP_LOG_CATEGORY),
    limits: resolveMessageLimits(options, action),
  };
  for (const name of ["serverHuntMs", "retranMaxMs", "connectTimeoutMs"] as const) {
    requirePositiveInteger(action, name, settings[name]);
  }
  const { maxParallelHunt, serverHuntMs, retranMaxMs } = settings;
  if (!Number.isInteger(maxParallelHunt) || maxParallelHunt < 1 || maxParallelHunt > 3) {
    throw new RangeError(
      `Cannot ${action} as 'maxParallelHunt' must be an integer from 1 to ${MAX_PARALLEL_HUNT}: current value is ${maxParallelHunt}`,
    );
  }
  if (retranMaxMs < serverHuntMs) {
    throw new RangeError(
      `Cannot ${action} as 'retranMaxMs' must not be below 'serverHuntMs': ${retranMaxMs} < ${serverHuntMs}`,
    );
  }
  return settings;
}

/** Formats a registrar address for logs: "HOST:PORT", IPv6 hosts in brackets. */
export function formatRegistrar(registrar: RegistrarAddress): string {
  return registrar.hostname.includes(":")
    ? `[${registrar.hostname}]:${registrar.port}`
    : `${registrar.hostname}:${registrar.port}`;
}

/**
 * Hunts for a home registrar (RFC 5352 §3.6) and resolves with the first registrar whose TCP
 * connection is established. Each round starts T5 and connects to up to `maxParallelHunt`
 * registrars at once, in list order (or `order`, a permutation of the list's indexes, for
 * callers that put a failed registrar last); an attempt that fails makes room for the next
 * address (SH4). When T5 expires, or every address has failed, the round's attempts stop, the
 * hunt waits for the rest of T5, doubles it up to `retranMaxMs` (SH5.1) and starts the next round
 * where the last one stopped (SH5.2). It keeps going until a registrar answers or `signal`
 * aborts.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const { connection, registrar } = await huntRegistrar(
 *   [{ hostname: "10.0.0.1", port: 3863 }, { hostname: "10.0.0.2", port: 3863 }],
 *   { serverHuntMs: 1000, signal: controller.signal },
 * );
 * ```
 * @throws the abort reason of `signal`.
 * @throws {RangeError} when a bound is out of range or the list is empty.
 */
export async function huntRegistrar(
  registrars: readonly RegistrarAddress[],
  options: ServerHuntOptions & { signal?: AbortSignal; order?: readonly number[] } = {},
): Promise<HuntedRegistrar> {
  const settings = resolveServerHuntSettings(registrars, options, "hunt for a registrar");
  const { signal } = options;
  signal?.throwIfAborted();
  const order = options.order ?? registrars.map((_, index) => index);
  let timerMs = settings.serverHuntMs;
  let position = 0;
  for (;;) {
    const startedAt = performance.now();
    const round = await huntRound(registrars, order, position, timerMs, settings, signal);
    if ("connection" in round) return round;
    signal?.throwIfAborted();
    position = round.position;
    settings.logger.debug(
      "No registrar answered this hunt round; the next starts in {waitMs} ms",
      { waitMs: Math.max(0, Math.round(startedAt + timerMs - performance.now())) },
    );
    await delay(startedAt + timerMs - performance.now(), signal ?? NEVER_ABORTED);
    signal?.throwIfAborted();
    timerMs = Math.min(2 * timerMs, settings.retranMaxMs);
  }
}

const NEVER_ABORTED = new AbortController().signal;

/** One round of SH1–SH5: the registrar found, or where the next round starts. */
function huntRound(
  registrars: readonly RegistrarAddress[],
  order: readonly number[],
  start: number,
  timerMs: number,
  settings: ServerHuntSettings,
  signal: AbortSignal | undefined,
): Promise<HuntedRegistrar | { position: number }> {
  const { promise, resolve } = Promise.withResolvers<HuntedRegistrar | { position: number }>();
  const attempts = new Set<AbortController>();
  let position = start;
  let tried = 0;
  let found = false;
  let expired = false;
  const stopAll = (reason: unknown) => {
    for (const attempt of attempts) attempt.abort(reason);
  };
  const timer = setTimeout(() => {
    expired = true;
    stopAll(new Error("T5-Serverhunt expired"));
  }, timerMs);
  const onAbort = () => {
    expired = true;
    stopAll(signal?.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const finish = (result: HuntedRegistrar | { position: number }) => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    resolve(result);
  };
  const launch = () => {
    while (
      !found && !expired && attempts.size < settings.maxParallelHunt && tried < order.length
    ) {
      const index = order[position % order.length]!;
      position += 1;
      tried += 1;
      const registrar = registrars[index]!;
      const attempt = new AbortController();
      attempts.add(attempt);
      settings.logger.debug("Hunting for a registrar: connecting to {registrar}", {
        registrar: formatRegistrar(registrar),
      });
      const connectOptions: ConnectMessageOptions = {
        ...settings.limits,
        hostname: registrar.hostname,
        port: registrar.port,
        timeoutMs: settings.connectTimeoutMs,
        signal: attempt.signal,
        logger: settings.logger,
      };
      if (settings.connect !== undefined) connectOptions.connect = settings.connect;
      connectMessage(connectOptions).then(
        (connection) => {
          if (found || expired) {
            connection.close();
            return;
          }
          found = true;
          attempts.delete(attempt);
          stopAll(new Error("Another registrar answered first"));
          finish({ connection, registrar, index });
        },
        (error: unknown) => {
          settings.logger.debug("Cannot connect to registrar {registrar}: {error}", {
            registrar: formatRegistrar(registrar),
            error,
          });
        },
      ).finally(() => {
        attempts.delete(attempt);
        if (found) return;
        launch();
        if (attempts.size === 0) finish({ position: position % order.length });
      });
    }
  };
  launch();
  return promise;
}
