/**
 * The events a running session proxy dispatches, as a typed `EventTarget`, so that tests and
 * the admin API can wait on them instead of polling.
 *
 * @module
 */
import { type TypedEventListener, TypedEventTarget } from "../lib/typed_event_target.ts";

/** Why a session ended, as logged in the access log's `reason`. */
export type SessionEndReason =
  /** Both directions ended with a FIN, passed on each way. */
  | "completed"
  /** The client reset the connection or a read/write on it failed. */
  | "client-gone"
  /** A pool element failed and the pool's failover mode is `sever`. */
  | "pe-failed"
  /** The pool element closed its side, then failed before the client had finished. */
  | "pe-closed"
  /** No pool element of the pool was left to connect (all excluded, removed or unreachable). */
  | "no-pe"
  /** One more pool element change would have gone over the pool's `maxFailovers`. */
  | "max-failovers"
  /** No byte either way for the pool's `idleTimeoutMs`. */
  | "idle-timeout"
  /**
   * A control-channel session's replay buffer stayed full (no cookie freed it) for the pool's
   * `replayStallTimeoutMs`: closed rather than continued with a gap.
   */
  | "replay-overflow"
  /** The incoming PROXY protocol header was malformed, too long or too slow. */
  | "bad-proxy-header"
  /** Closed through `close(sessionId)`. */
  | "closed"
  /** Closed by `shutdown()` once the drain time was over. */
  | "shutdown"
  /** An unexpected error; logged with its stack. */
  | "error";

/** Why a session left a pool element. */
export type FailoverCause =
  /** The pool element refused the connection. */
  | "connect-refused"
  /** The connect did not complete within `connectTimeoutMs`, or failed otherwise. */
  | "connect-failed"
  /** The connection was reset or broken while in use. */
  | "reset"
  /** The pool element sent a FIN and a probe found its port closed or silent: it died. */
  | "dead-fin"
  /** The member source reported the pool element removed from the pool. */
  | "removed"
  /**
   * A DATA PLUS CONTROL pool element sent a malformed or forged frame, or refused the Cookie
   * Echo with an ASAP Error. (Its channel ending without an end frame counts as `dead-fin`:
   * no probe is needed to know that is a failure.)
   */
  | "protocol-error"
  /** A `failover(sessionId)` call. */
  | "admin";

/** Detail of a "session-start" event: the session has its first pool element. */
export interface SessionStartDetail {
  /** The session's identifier. */
  readonly sessionId: number;
  /** The client as `host:port` (from the PROXY protocol header when the listener accepts one). */
  readonly client: string;
  /** The pool handle. */
  readonly pool: string;
  /** The pool element the session starts on. */
  readonly peId: number;
}

/** Detail of a "session-end" event, also the access log line's properties. */
export interface SessionEndDetail {
  /** The session's identifier. */
  readonly sessionId: number;
  /** The client as `host:port`. */
  readonly client: string;
  /** The pool handle. */
  readonly pool: string;
  /** Every pool element the session was connected to, in order. */
  readonly pes: readonly number[];
  /** Bytes read from the client. */
  readonly bytesIn: number;
  /** Bytes written to the client. */
  readonly bytesOut: number;
  /** Pool element changes: connect retries and migrations. */
  readonly failovers: number;
  /** From accept to the end, in milliseconds. */
  readonly durationMs: number;
  /** Why the session ended. */
  readonly reason: SessionEndReason;
}

/** Detail of a "failover" event: the session leaves `fromPeId` for `toPeId`. */
export interface FailoverDetail {
  /** The session's identifier. */
  readonly sessionId: number;
  /** The pool handle. */
  readonly pool: string;
  /** The pool element the session leaves. */
  readonly fromPeId: number;
  /** The pool element selected next; it may still fail to connect (another event follows). */
  readonly toPeId: number;
  /** Why it leaves `fromPeId`. */
  readonly cause: FailoverCause;
}

/** Detail of a "session-rejected" event: a client closed at once, before any session. */
export interface SessionRejectedDetail {
  /** The client as `host:port`. */
  readonly client: string;
  /** `maxSessions` reached, or the proxy is shutting down. */
  readonly reason: "max-sessions" | "shutting-down";
}

/** Event type → its detail. */
export interface ProxyEventDetails {
  /** A session has connected its first pool element. */
  "session-start": SessionStartDetail;
  /** A session has ended (every accepted client gets one, also without a pool element). */
  "session-end": SessionEndDetail;
  /** A session leaves a pool element for another. */
  "failover": FailoverDetail;
  /** A client was closed at once, without a session. */
  "session-rejected": SessionRejectedDetail;
}

/** A listener of one event type. */
export type ProxyEventListener<K extends keyof ProxyEventDetails> = TypedEventListener<
  ProxyEventDetails,
  K
>;

/** An `EventTarget` whose listeners are typed by {@linkcode ProxyEventDetails}. */
export class ProxyEventTarget extends TypedEventTarget<ProxyEventDetails> {}
