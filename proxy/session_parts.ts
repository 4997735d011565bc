/**
 * What both session kinds share: the idle watch, whole writes, quiet closes, and leaving a
 * pool element exactly once ({@linkcode Session} over DATA ONLY, `ControlSession` over the
 * DATA PLUS CONTROL channel).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { isPeerGone } from "../lib/transport/mod.ts";
import type { PoolMemberAddress, PoolMemberSource } from "./member_source.ts";
import type { Deadline, Deadlines } from "./deadlines.ts";
import type {
  FailoverCause,
  FailoverDetail,
  SessionEndDetail,
  SessionEndReason,
} from "./proxy_events.ts";

/** Idle checks per idle timeout: a session is closed between 1 and 1.25 idle timeouts of silence. */
const IDLE_TICKS = 4;

/**
 * Calls `onIdle` once `activity()` (a byte count that grows while bytes move) has stayed the
 * same for `idleMs`, checking every quarter of it; 0 watches nothing.
 */
export class IdleWatch {
  #deadline: Deadline | undefined;
  #seen: number;
  #quietTicks = 0;

  /** Starts watching, on `deadlines`' timer. */
  constructor(idleMs: number, activity: () => number, onIdle: () => void, deadlines: Deadlines) {
    this.#seen = activity();
    if (idleMs === 0) return;
    const tick = Math.max(1, Math.ceil(idleMs / IDLE_TICKS));
    const check = () => {
      const seen = activity();
      if (seen !== this.#seen) {
        this.#seen = seen;
        this.#quietTicks = 0;
      } else if (++this.#quietTicks >= IDLE_TICKS) {
        this.#deadline = undefined;
        onIdle();
        return;
      }
      this.#deadline = deadlines.after(tick, check);
    };
    this.#deadline = deadlines.after(tick, check);
  }

  /** Stops watching; idempotent. */
  stop(): void {
    this.#deadline?.cancel();
    this.#deadline = undefined;
  }
}

/**
 * True when `member` left its pool (or stopped taking sessions) while a session was connecting
 * to it: the removal event went only to the sessions already on it, so this one must move on.
 */
export function leftWhileConnecting(
  source: PoolMemberSource,
  pool: string,
  member: PoolMemberAddress,
): boolean {
  return source.find !== undefined && source.find(pool, member.peId) === undefined;
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: { write(data: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Closes a connection that may already be closed. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** A connection to a pool element that a session leaves at most once. */
export interface Replaceable<T> {
  /** Set when the session starts leaving it; resolves to the next one, if any. */
  replaced: Promise<T | undefined> | undefined;
}

/**
 * Starts `failover` for `leg` unless it was started already, and returns the promise of the next
 * leg; never rejects (a failure goes to `onError` and yields undefined).
 */
export function replaceOnce<T extends Replaceable<T>>(
  leg: T,
  failover: () => Promise<T | undefined>,
  onError: (error: unknown) => void,
): Promise<T | undefined> {
  if (leg.replaced !== undefined) return leg.replaced;
  // Set before the failover starts: reporting the pool element may remove it at once, and the
  // removal calls `failover()` again from within (re-entrant), which must find it set.
  const { promise, resolve } = Promise.withResolvers<T | undefined>();
  leg.replaced = promise;
  failover().then(resolve, (error: unknown) => {
    onError(error);
    resolve(undefined);
  });
  return promise;
}

/**
 * What a session has done so far, whichever kind runs it: a DATA ONLY session whose first pool
 * element speaks DATA PLUS CONTROL hands its ledger to the control session that continues it.
 */
export class SessionLedger {
  /** `performance.now()` when the client was accepted. */
  readonly startedAt: number = performance.now();
  /** Pool elements connected so far, in order. */
  readonly pes: number[] = [];
  /** Pool elements not to select again: left, failed or tried. */
  readonly exclude: Set<number> = new Set();
  /** Pool element changes so far, connect retries included. */
  failovers = 0;

  /** Opens the ledger of session `id` of `pool`. */
  constructor(readonly id: number, readonly pool: string) {}

  /** Milliseconds since the client was accepted. */
  ageMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** Counts one pool element change; returns the "failover" event's detail. */
  failedOver(fromPeId: number, toPeId: number, cause: FailoverCause): FailoverDetail {
    this.failovers += 1;
    return { sessionId: this.id, pool: this.pool, fromPeId, toPeId, cause };
  }

  /** The "session-end" event's detail, which the access log writes. */
  endDetail(
    client: string,
    bytesIn: number,
    bytesOut: number,
    reason: SessionEndReason,
  ): SessionEndDetail {
    return {
      sessionId: this.id,
      client,
      pool: this.pool,
      pes: this.pes,
      bytesIn,
      bytesOut,
      failovers: this.failovers,
      durationMs: this.ageMs(),
      reason,
    };
  }
}

/** Causes that are failures the proxy saw itself, reported as Endpoint Unreachable. */
const REPORTED_CAUSES: ReadonlySet<FailoverCause> = new Set([
  "connect-refused",
  "connect-failed",
  "reset",
  "dead-fin",
  "protocol-error",
]);

/**
 * The log lines and Endpoint Unreachable reports both session kinds make, each record carrying
 * the client as `peer` and the session's identifier.
 */
export class SessionReporter {
  readonly #logger: Logger;
  readonly #memberSource: PoolMemberSource;
  readonly #pool: string;
  readonly #sessionId: number;
  readonly #clientName: () => string;
  readonly #deadlines: Deadlines;

  /** `clientName` is read at each record: a PROXY header may change it after the start. */
  constructor(
    session: { readonly id: number; readonly pool: string },
    host: {
      readonly logger: Logger;
      readonly memberSource: PoolMemberSource;
      readonly deadlines: Deadlines;
    },
    clientName: () => string,
  ) {
    this.#logger = host.logger;
    this.#memberSource = host.memberSource;
    this.#deadlines = host.deadlines;
    this.#pool = session.pool;
    this.#sessionId = session.id;
    this.#clientName = clientName;
  }

  /** A read or write on a pool element failed; a peer that is simply gone is not news. */
  peFailed(peId: number, error: unknown): void {
    if (isPeerGone(error)) return;
    this.#logger.warn("Pool element {peId} of session {sessionId} failed: {error}", {
      peer: this.#clientName(),
      sessionId: this.#sessionId,
      peId,
      error,
    });
  }

  /** Reports the pool element left for `cause` when that cause is a failure the proxy saw. */
  reportLeft(peId: number, cause: FailoverCause): void {
    if (REPORTED_CAUSES.has(cause)) this.#memberSource.reportUnreachable(this.#pool, peId);
  }

  /** The session goes on without pool element `peId`. */
  lost(peId: number, cause: FailoverCause): void {
    this.#logger.info("Session {sessionId} lost pool element {peId}: {cause}", {
      peer: this.#clientName(),
      sessionId: this.#sessionId,
      peId,
      cause,
    });
  }

  /** Moving the session failed unexpectedly. */
  failoverFailed(error: unknown): void {
    this.#logger.error("Failover of session {sessionId} failed: {error}", {
      peer: this.#clientName(),
      sessionId: this.#sessionId,
      error,
    });
  }

  /** A pool element could not be connected: reported, and logged. */
  connectFailed(member: PoolMemberAddress, error: unknown): void {
    this.#memberSource.reportUnreachable(this.#pool, member.peId);
    this.#logger.info("Cannot connect pool element {peId} at {address}: {error}", {
      peer: this.#clientName(),
      sessionId: this.#sessionId,
      peId: member.peId,
      address: `${member.hostname}:${member.port}`,
      error: error instanceof Error ? error.message : String(error),
    });
  }

  /** The client's connection failed; a client that is simply gone is not news. */
  clientFailed(error: unknown): void {
    if (isPeerGone(error)) return;
    this.#logger.warn("Client of session {sessionId} failed: {error}", {
      peer: this.#clientName(),
      sessionId: this.#sessionId,
      error,
    });
  }

  /** Starts the idle watch, which logs and calls `close` after `idleMs` without a byte. */
  watchIdle(idleMs: number, activity: () => number, close: () => void): IdleWatch {
    return new IdleWatch(idleMs, activity, () => {
      this.#logger.info("Session {sessionId} idle for {idleMs} ms: closing", {
        peer: this.#clientName(),
        sessionId: this.#sessionId,
        idleMs,
      });
      close();
    }, this.#deadlines);
  }
}
