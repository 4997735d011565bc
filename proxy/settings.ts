/**
 * The session proxy's bounds and per-pool behaviour, each with a named default, checked once
 * when the proxy starts.
 *
 * @module
 */

/**
 * What a session does when its pool element fails: `migrate` moves it to another pool element
 * (the client keeps its connection), `sever` closes the client as classic proxies do.
 */
export type FailoverMode = "migrate" | "sever";

/** PROXY protocol header sent to pool elements before the client's bytes. */
export type ProxyProtocolVersion = "off" | "v1" | "v2";

/**
 * When a pool element's FIN is confirmed with a connect probe before it is taken as a close
 * (a crashed server's kernel sends a FIN too; refused or silent means it died):
 * - `unless-done`: unless the client has half-closed and every client byte was answered;
 * - `if-unanswered`: only when client bytes are unanswered (the client wrote after the pool
 *   element's last write). A crash of a pool element whose sessions are idle then reaches
 *   their clients as a close, as with classic proxies; a server that closes after each answer
 *   (HTTP `Connection: close`) costs no probe connection per session;
 * - `off`: a FIN is always a close; only resets, connect failures and removals fail over.
 */
export type FinProbe = "unless-done" | "if-unanswered" | "off";

/**
 * DATA ONLY pools default to `sever`: bytes a dead legacy server had received but not answered
 * cannot be recovered, so moving the session is a choice the operator makes (shared/DESIGN.md).
 */
export const DEFAULT_FAILOVER_MODE: FailoverMode = "sever";
/**
 * Sessions on DATA PLUS CONTROL pool elements move with their last state cookie and lose
 * nothing, so they migrate unless the pool says otherwise (shared/DESIGN.md).
 */
export const DEFAULT_CONTROL_FAILOVER_MODE: FailoverMode = "migrate";
/**
 * How long a control-channel session whose replay buffer is full waits for a cookie to free
 * it (reading nothing more from the client meanwhile) before it is closed.
 */
export const DEFAULT_REPLAY_STALL_TIMEOUT_MS = 10_000;
/** Most pool element changes per session: connect retries and migrations together. */
export const DEFAULT_MAX_FAILOVERS = 3;
/** Most client bytes a session holds that are not yet written to its pool element. */
export const DEFAULT_REPLAY_BUFFER_BYTES = 64 * 1024;
/**
 * Most client bytes a control-channel session holds since the last cookie. Larger than
 * {@linkcode DEFAULT_REPLAY_BUFFER_BYTES} because the client is held back while it is full:
 * with a cookie every 16 KiB, 64 KiB halve a bulk stream's throughput, 256 KiB do not
 * (docs/data_channel.md). Its storage grows by doubling from 1 KiB, so quiet sessions hold little.
 */
export const DEFAULT_CONTROL_REPLAY_BUFFER_BYTES = 256 * 1024;
/**
 * Longest TCP connect to a pool element, and to a FIN-confirming probe. Longer than Linux's 1 s
 * initial SYN retransmission: a busy pool element whose accept queue dropped one SYN still
 * answers the retry, instead of counting as dead (a false `dead-fin` for a probe).
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_500;
/** Longest time a session may go without a byte either way (nginx's `proxy_timeout`). */
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000;
/** Confirm every FIN that could come from a crash (shared/DESIGN.md "Failure detection"). */
export const DEFAULT_FIN_PROBE: FinProbe = "unless-done";
/**
 * How long a FIN probe that connected waits for a reset. A dying process may still complete the
 * probe's handshake when its listening socket closes after the connection that sent the FIN (a
 * lower file descriptor closes first); the queued probe is then reset within a fraction of a
 * millisecond on a LAN. A live pool element's FIN reaches the client this much later.
 */
export const DEFAULT_FIN_PROBE_SETTLE_MS = 5;
/** No PROXY protocol header towards pool elements unless the pool asks for one. */
export const DEFAULT_PROXY_PROTOCOL: ProxyProtocolVersion = "off";

/** How the proxy treats the sessions of one pool. */
export interface PoolSettings {
  /**
   * What a pool element failure does to a session. Unset, sessions on DATA ONLY pool elements
   * use {@linkcode DEFAULT_FAILOVER_MODE} and those on DATA PLUS CONTROL ones
   * {@linkcode DEFAULT_CONTROL_FAILOVER_MODE}. @default {DEFAULT_FAILOVER_MODE}
   */
  readonly failover?: FailoverMode;
  /**
   * Most pool element changes per session, connect retries included; the session is closed
   * when one more would be needed. @default {DEFAULT_MAX_FAILOVERS}
   */
  readonly maxFailovers?: number;
  /**
   * Most client bytes read but not yet written to the pool element: what a `migrate` failover
   * replays to the next one. The proxy reads no more from the client until they are written,
   * so this buffer cannot overflow; it bounds the client→PE read size. On a DATA PLUS CONTROL
   * channel it holds the client bytes since the last cookie instead (docs/data_channel.md):
   * when it is full, the proxy reads nothing more from the client until a cookie frees it;
   * unset, such sessions use {@linkcode DEFAULT_CONTROL_REPLAY_BUFFER_BYTES}.
   * @default {DEFAULT_REPLAY_BUFFER_BYTES}
   */
  readonly replayBufferBytes?: number;
  /**
   * How long a control-channel session with a full replay buffer waits for a cookie before it
   * is closed. @default {DEFAULT_REPLAY_STALL_TIMEOUT_MS}
   */
  readonly replayStallTimeoutMs?: number;
  /** Longest connect to a pool element (and FIN probe). @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  readonly connectTimeoutMs?: number;
  /** Longest silence both ways before the session is closed; 0 for none. @default {DEFAULT_IDLE_TIMEOUT_MS} */
  readonly idleTimeoutMs?: number;
  /** PROXY protocol header towards pool elements. @default {DEFAULT_PROXY_PROTOCOL} */
  readonly proxyProtocol?: ProxyProtocolVersion;
  /** When a pool element's FIN is confirmed by a connect probe. @default {DEFAULT_FIN_PROBE} */
  readonly finProbe?: FinProbe;
  /**
   * How long a FIN probe that connected waits for a reset before the pool element counts as
   * alive. @default {DEFAULT_FIN_PROBE_SETTLE_MS}
   */
  readonly finProbeSettleMs?: number;
}

/**
 * {@linkcode PoolSettings} with every default filled in; `failover` and `replayBufferBytes`
 * are the DATA ONLY values, `controlFailover` and `controlReplayBufferBytes` the DATA PLUS
 * CONTROL ones.
 */
export type ResolvedPoolSettings =
  & {
    readonly [K in keyof PoolSettings]-?: NonNullable<PoolSettings[K]>;
  }
  & { readonly controlFailover: FailoverMode; readonly controlReplayBufferBytes: number };

/**
 * Fills in the defaults of `settings` for `poolHandle` and checks every value.
 *
 * @throws {RangeError} naming the pool and the field when a value is out of range.
 */
export function resolvePoolSettings(
  poolHandle: string,
  settings: PoolSettings = {},
): ResolvedPoolSettings {
  const resolved: ResolvedPoolSettings = {
    failover: settings.failover ?? DEFAULT_FAILOVER_MODE,
    controlFailover: settings.failover ?? DEFAULT_CONTROL_FAILOVER_MODE,
    maxFailovers: settings.maxFailovers ?? DEFAULT_MAX_FAILOVERS,
    replayBufferBytes: settings.replayBufferBytes ?? DEFAULT_REPLAY_BUFFER_BYTES,
    controlReplayBufferBytes: settings.replayBufferBytes ?? DEFAULT_CONTROL_REPLAY_BUFFER_BYTES,
    replayStallTimeoutMs: settings.replayStallTimeoutMs ?? DEFAULT_REPLAY_STALL_TIMEOUT_MS,
    connectTimeoutMs: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: settings.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    proxyProtocol: settings.proxyProtocol ?? DEFAULT_PROXY_PROTOCOL,
    finProbe: settings.finProbe ?? DEFAULT_FIN_PROBE,
    finProbeSettleMs: settings.finProbeSettleMs ?? DEFAULT_FIN_PROBE_SETTLE_MS,
  };
  const what = `pool '${poolHandle}'`;
  checkOneOf(what, "failover", resolved.failover, ["migrate", "sever"]);
  checkOneOf(what, "proxyProtocol", resolved.proxyProtocol, ["off", "v1", "v2"]);
  checkOneOf(what, "finProbe", resolved.finProbe, ["unless-done", "if-unanswered", "off"]);
  checkInteger(what, "maxFailovers", resolved.maxFailovers, 0);
  checkInteger(what, "replayBufferBytes", resolved.replayBufferBytes, 1);
  checkInteger(what, "replayStallTimeoutMs", resolved.replayStallTimeoutMs, 1);
  checkInteger(what, "connectTimeoutMs", resolved.connectTimeoutMs, 1);
  checkInteger(what, "idleTimeoutMs", resolved.idleTimeoutMs, 0);
  checkInteger(what, "finProbeSettleMs", resolved.finProbeSettleMs, 0);
  return resolved;
}

/**
 * Checks that `options[name]` is an integer of at least `min`.
 *
 * @throws {RangeError} in the house message style otherwise.
 */
export function checkInteger(what: string, name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    const kind = min === 0
      ? "a non-negative integer"
      : min === 1
      ? "a positive integer"
      : `an integer of at least ${min}`;
    throw new RangeError(
      `Cannot configure ${what} as '${name}' must be ${kind}: current value is ${value}`,
    );
  }
}

function checkOneOf(what: string, name: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) {
    const choices = allowed.map((choice) => `"${choice}"`).join(", ");
    throw new RangeError(
      `Cannot configure ${what} as '${name}' must be one of ${choices}: current value is ${value}`,
    );
  }
}
