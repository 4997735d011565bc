/**
 * Health checks for legacy servers (the `pe` sidecar and the proxy's static members): a TCP
 * connect check, or a send/expect check that also catches a hung process. A SIGSTOPped server
 * keeps completing TCP handshakes until its listen backlog fills, so only a check that needs an
 * answer from the process itself notices that it hangs.
 *
 * @module
 */
import type { ByteStream } from "../transport/byte_stream.ts";
import { delay } from "../transport/delay.ts";

/** Milliseconds from the start of one check to the start of the next. */
export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 100;
/** Milliseconds one check (connect, send, and reply) may take before it counts as failed. */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 200;
/** Consecutive failed checks that mark a server down. */
export const DEFAULT_HEALTH_CHECK_FALL = 2;
/** Consecutive passed checks that mark a server up. */
export const DEFAULT_HEALTH_CHECK_RISE = 1;
/** Reply bytes a send/expect check reads at most while it looks for the expected bytes. */
export const DEFAULT_HEALTH_CHECK_MAX_REPLY_BYTES = 4096;

/** What a health check needs of a connection. */
export type HealthCheckConn = Pick<ByteStream, "read" | "write" | "close">;

/** Opens a connection for one check; must reject once `signal` aborts. */
export type HealthCheckConnect = (
  options: { hostname: string; port: number; signal: AbortSignal },
) => Promise<HealthCheckConn>;

/** Options of {@linkcode startHealthCheck}. */
export interface HealthCheckOptions {
  /** Host name or address of the checked server. */
  hostname: string;
  /** TCP port of the checked server. */
  port: number;
  /** Bytes written after connecting; without `send` and `expect` the check only connects. */
  send?: Uint8Array;
  /** Bytes that must appear in the reply within the timeout. */
  expect?: Uint8Array;
  /**
   * Milliseconds from the start of one check to the start of the next; checks never overlap, so
   * a check that takes longer delays the next one.
   * @default {DEFAULT_HEALTH_CHECK_INTERVAL_MS}
   */
  intervalMs?: number;
  /** Milliseconds the whole check may take. @default {DEFAULT_HEALTH_CHECK_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Consecutive failures that mark the server down. @default {DEFAULT_HEALTH_CHECK_FALL} */
  fall?: number;
  /** Consecutive successes that mark the server up. @default {DEFAULT_HEALTH_CHECK_RISE} */
  rise?: number;
  /**
   * Reply bytes read at most while looking for `expect`.
   * @default {DEFAULT_HEALTH_CHECK_MAX_REPLY_BYTES}
   */
  maxReplyBytes?: number;
  /** Stops the checks, as {@linkcode HealthCheck.close} does. */
  signal?: AbortSignal;
  /** Opens the connection; defaults to `Deno.connect`. */
  connect?: HealthCheckConnect;
}

/** The state of a checked server: unknown until `rise` passes or `fall` failures in a row. */
export type HealthState = "unknown" | "up" | "down";

/** Sent when the checked server goes up or down; `reason` says why in words. */
export class HealthChangeEvent extends Event {
  /** Why the state changed, e.g. "timed out after 200 ms while waiting for the reply". */
  readonly reason: string;

  /** Builds the event for the `"up"` or `"down"` transition. */
  constructor(type: "up" | "down", reason: string) {
    super(type);
    this.reason = reason;
  }
}

/** The events a {@linkcode HealthCheck} sends. */
export interface HealthCheckEventMap {
  /** The server passed `rise` checks in a row after being down or unknown. */
  up: HealthChangeEvent;
  /** The server failed `fall` checks in a row after being up or unknown. */
  down: HealthChangeEvent;
}

type HealthListener<K extends keyof HealthCheckEventMap> =
  | ((event: HealthCheckEventMap[K]) => void)
  | { handleEvent(event: HealthCheckEventMap[K]): void };

/** A running health check of one server; see {@linkcode startHealthCheck}. */
export class HealthCheck extends EventTarget implements AsyncDisposable {
  readonly #settings: Settings;
  #state: HealthState = "unknown";
  #passes = 0;
  #failures = 0;
  readonly #stop = new AbortController();
  readonly #finished: Promise<void>;

  /** Starts the checks; use {@linkcode startHealthCheck}. */
  constructor(options: HealthCheckOptions) {
    super();
    const settings = validate(options);
    options.signal?.throwIfAborted();
    this.#settings = settings;
    const onAbort = () => void this.close();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.#finished = this.#run(settings).finally(() => {
      options.signal?.removeEventListener("abort", onAbort);
    });
  }

  /** True while the server is up. */
  get healthy(): boolean {
    return this.#state === "up";
  }

  /** "unknown" before the first verdict, then "up" or "down". */
  get state(): HealthState {
    return this.#state;
  }

  /** Resolves once the checks have stopped and their connections are closed. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Stops checking; idempotent; resolves when no check is left running. */
  close(): Promise<void> {
    this.#stop.abort();
    return this.#finished;
  }

  /** Same as {@linkcode HealthCheck.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Listens for `"up"` or `"down"`. */
  override addEventListener<K extends keyof HealthCheckEventMap>(
    type: K,
    listener: HealthListener<K> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Listens for any event type. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
  }

  /** Stops listening for `"up"` or `"down"`. */
  override removeEventListener<K extends keyof HealthCheckEventMap>(
    type: K,
    listener: HealthListener<K> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Stops listening for any event type. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }

  async #run(settings: Settings): Promise<void> {
    const stop = this.#stop.signal;
    const reply = new Uint8Array(settings.maxReplyBytes);
    while (!stop.aborted) {
      const startedAt = performance.now();
      const failure = await checkOnce(settings, reply, stop);
      if (stop.aborted) return;
      this.#record(failure);
      await delay(startedAt + settings.intervalMs - performance.now(), stop);
    }
  }

  #record(failure: string | undefined): void {
    if (failure === undefined) {
      this.#failures = 0;
      this.#passes += 1;
      if (this.#state !== "up" && this.#passes >= this.#settings.rise) {
        this.#state = "up";
        this.dispatchEvent(new HealthChangeEvent("up", `passed ${this.#passes} check(s) in a row`));
      }
    } else {
      this.#passes = 0;
      this.#failures += 1;
      if (this.#state !== "down" && this.#failures >= this.#settings.fall) {
        this.#state = "down";
        this.dispatchEvent(new HealthChangeEvent("down", failure));
      }
    }
  }
}

/**
 * Starts checking `hostname:port` at once and then every `intervalMs`; the result reports
 * `"up"`/`"down"` events. A hung server is marked down within about
 * `intervalMs + fall × max(intervalMs, timeoutMs)` (500 ms with the defaults), a refusing or
 * dead one within about `fall × intervalMs`.
 *
 * @example
 * ```ts
 * await using check = startHealthCheck({
 *   hostname: "127.0.0.1",
 *   port: 7,
 *   send: parseCEscapes("ping\\n"),
 *   expect: parseCEscapes("ping\\n"),
 * });
 * check.addEventListener("down", (event) => console.log(event.reason));
 * ```
 * @throws {RangeError} when an option is out of range.
 */
export function startHealthCheck(options: HealthCheckOptions): HealthCheck {
  return new HealthCheck(options);
}

interface Settings {
  readonly hostname: string;
  readonly port: number;
  readonly send: Uint8Array | undefined;
  readonly expect: Uint8Array | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly maxReplyBytes: number;
  readonly connect: HealthCheckConnect;
}

function validate(options: HealthCheckOptions): Settings {
  const settings: Settings = {
    hostname: options.hostname,
    port: options.port,
    send: options.send,
    expect: options.expect,
    intervalMs: options.intervalMs ?? DEFAULT_HEALTH_CHECK_INTERVAL_MS,
    timeoutMs: options.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
    fall: options.fall ?? DEFAULT_HEALTH_CHECK_FALL,
    rise: options.rise ?? DEFAULT_HEALTH_CHECK_RISE,
    maxReplyBytes: options.maxReplyBytes ?? DEFAULT_HEALTH_CHECK_MAX_REPLY_BYTES,
    connect: options.connect ?? Deno.connect,
  };
  for (const name of ["intervalMs", "timeoutMs", "fall", "rise", "maxReplyBytes"] as const) {
    requirePositiveInteger(name, settings[name]);
  }
  if (!Number.isInteger(settings.port) || settings.port < 1 || settings.port > 0xffff) {
    throw new RangeError(
      `Cannot start health check as 'port' must be an integer from 1 to 65535: current value is ${settings.port}`,
    );
  }
  const expectLength = settings.expect?.length ?? 0;
  if (settings.expect !== undefined && expectLength === 0) {
    throw new RangeError("Cannot start health check as 'expect' is empty: leave it out instead");
  }
  if (expectLength > settings.maxReplyBytes) {
    throw new RangeError(
      `Cannot start health check as 'expect' is longer than 'maxReplyBytes': ${expectLength} > ${settings.maxReplyBytes}`,
    );
  }
  return settings;
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot start health check as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
}

/**
 * Runs one check; resolves to undefined when it passes, or to the reason it failed. Every
 * connection it opens is closed before it resolves.
 */
async function checkOnce(
  settings: Settings,
  reply: Uint8Array,
  stop: AbortSignal,
): Promise<string | undefined> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), settings.timeoutMs);
  const onStop = () => deadline.abort();
  stop.addEventListener("abort", onStop, { once: true });
  let conn: HealthCheckConn | undefined;
  let closed = false;
  // Closing the connection is what makes a pending read or write give up at the deadline.
  const closeConn = () => {
    if (conn === undefined || closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Already closed by the peer's failure; nothing left to release.
    }
  };
  deadline.signal.addEventListener("abort", closeConn, { once: true });
  let phase = "connecting";
  try {
    conn = await settings.connect({
      hostname: settings.hostname,
      port: settings.port,
      signal: deadline.signal,
    });
    if (deadline.signal.aborted) throw deadline.signal.reason;
    if (settings.send !== undefined) {
      phase = "sending";
      await writeAll(conn, settings.send);
    }
    if (settings.expect === undefined) return undefined;
    phase = "waiting for the reply";
    return await readExpected(conn, reply, settings.expect);
  } catch (error) {
    if (deadline.signal.aborted) return `timed out after ${settings.timeoutMs} ms while ${phase}`;
    return `failed while ${phase}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop);
    deadline.signal.removeEventListener("abort", closeConn);
    closeConn();
  }
}

async function writeAll(conn: HealthCheckConn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

/** Reads until `expect` appears in the reply; resolves to the failure reason, if any. */
async function readExpected(
  conn: HealthCheckConn,
  reply: Uint8Array,
  expect: Uint8Array,
): Promise<string | undefined> {
  let length = 0;
  while (length < reply.length) {
    const count = await conn.read(reply.subarray(length));
    if (count === null) {
      return `connection closed after ${length} reply byte(s) without the expected bytes`;
    }
    const searchFrom = Math.max(0, length - expect.length + 1);
    length += count;
    if (includesBytes(reply.subarray(searchFrom, length), expect)) return undefined;
  }
  return `the expected bytes are not in the first ${length} reply bytes`;
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  search: for (let start = 0; start <= haystack.length - needle.length; start += 1) {
    for (let offset = 0; offset < needle.length; offset += 1) {
      if (haystack[start + offset] !== needle[offset]) continue search;
    }
    return true;
  }
  return false;
}
