/**
 * The counters behind the admin API's metrics, fed by the session proxy's and the registrar's
 * events: sessions ended, bytes, failovers by cause and by pool element, ASAP registrations,
 * the proxy's handle resolutions, and errors by kind. Gauges (sessions open, pool elements by
 * state) are read from the components when a snapshot is taken, not counted here.
 *
 * @module
 */
import type { PoolElementChangeDetail, Registrar } from "../lib/registrar/mod.ts";
import { DEFAULT_RECENT_FAILOVERS } from "./admin/admin_backend.ts";
import type { FailoverView } from "./admin/admin_schemas.ts";
import type { FailoverDetail, SessionEndDetail } from "./proxy_events.ts";
import type { SessionProxy } from "./proxy.ts";

/** What the counters have counted since the process started. */
export interface CounterTotals {
  /** Sessions that have ended (the open ones are the proxy's to tell). */
  readonly sessionsEnded: number;
  /** Bytes read from clients by ended sessions. */
  readonly bytesIn: number;
  /** Bytes written to clients by ended sessions. */
  readonly bytesOut: number;
  /** Failovers by cause (`reset`, `removed`, `admin`, …). */
  readonly failoversTotal: Readonly<Record<string, number>>;
  /** ASAP registrations and re-registrations the registrar accepted. */
  readonly registrationsTotal: number;
  /** Selections the proxy asked the embedded registrar for. */
  readonly handleResolutionsTotal: number;
  /** Errors by kind. */
  readonly errorsTotal: Readonly<Record<string, number>>;
}

/** Options of {@linkcode MetricsCounters}. */
export interface MetricsCountersOptions {
  /** The registrar whose events count registrations and track pool elements. */
  readonly registrar: Registrar;
  /**
   * PEs whose failover count outlives their removal from the handlespace: static members,
   * which leave while their health check fails and come back. @default {none}
   */
  readonly keepOnRemoval?: (poolHandle: string, peId: number) => boolean;
  /** Failovers {@linkcode MetricsCounters.recentFailovers} keeps. @default {DEFAULT_RECENT_FAILOVERS} */
  readonly maxRecentFailovers?: number;
  /** Wall clock in milliseconds, for the failovers' times. @default {Date.now} */
  readonly now?: () => number;
}

const decoder = new TextDecoder();

function memberKey(poolHandle: string, peId: number): string {
  return `${peId}\u0000${poolHandle}`;
}

function increment(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/**
 * Counters of one Poolgate instance. Per-PE failover counts exist while the PE is in the
 * handlespace (or kept by `keepOnRemoval`), so the table is bounded by the handlespace.
 */
export class MetricsCounters implements Disposable {
  readonly #registrar: Registrar;
  readonly #keepOnRemoval: (poolHandle: string, peId: number) => boolean;
  readonly #maxRecentFailovers: number;
  readonly #now: () => number;
  /** Newest first, at most #maxRecentFailovers. */
  readonly #recentFailovers: FailoverView[] = [];
  readonly #memberFailovers = new Map<string, number>();
  readonly #failovers: Record<string, number> = {};
  readonly #errors: Record<string, number> = {};
  readonly #unsubscribe: (() => void)[] = [];
  #sessionsEnded = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #registrations = 0;
  #resolutions = 0;

  /** Starts counting the registrar's events; {@linkcode observeProxy} adds the proxy's. */
  constructor(options: MetricsCountersOptions) {
    this.#registrar = options.registrar;
    this.#keepOnRemoval = options.keepOnRemoval ?? (() => false);
    this.#maxRecentFailovers = options.maxRecentFailovers ?? DEFAULT_RECENT_FAILOVERS;
    this.#now = options.now ?? Date.now;
    if (!Number.isSafeInteger(this.#maxRecentFailovers) || this.#maxRecentFailovers < 0) {
      throw new RangeError(
        `Cannot count metrics as 'maxRecentFailovers' must be a non-negative integer: current value is ${this.#maxRecentFailovers}`,
      );
    }
    const onChange = (event: CustomEvent<PoolElementChangeDetail>) => this.#onChange(event);
    const onRemoved = (event: CustomEvent<PoolElementChangeDetail>) => this.#onRemoved(event);
    this.#registrar.addEventListener("pe-added", onChange);
    this.#registrar.addEventListener("pe-updated", onChange);
    this.#registrar.addEventListener("pe-removed", onRemoved);
    this.#unsubscribe.push(() => {
      this.#registrar.removeEventListener("pe-added", onChange);
      this.#registrar.removeEventListener("pe-updated", onChange);
      this.#registrar.removeEventListener("pe-removed", onRemoved);
    });
  }

  /** Counts the sessions, bytes, failovers and rejections of `proxy` from now on. */
  observeProxy(proxy: SessionProxy): void {
    const onEnd = (event: CustomEvent<SessionEndDetail>) => this.#onSessionEnd(event.detail);
    const onFailover = (event: CustomEvent<FailoverDetail>) => this.#onFailover(event.detail);
    const onRejected = () => this.countError("max-sessions");
    proxy.addEventListener("session-end", onEnd);
    proxy.addEventListener("failover", onFailover);
    proxy.addEventListener("session-rejected", onRejected);
    this.#unsubscribe.push(() => {
      proxy.removeEventListener("session-end", onEnd);
      proxy.removeEventListener("failover", onFailover);
      proxy.removeEventListener("session-rejected", onRejected);
    });
  }

  /** Counts one selection the proxy asked for (a {@linkcode RegistrarMemberSource} hook). */
  readonly countResolution = (): void => {
    this.#resolutions++;
  };

  /** Counts one error of `kind` (`config-store`, …). */
  countError(kind: string): void {
    increment(this.#errors, kind);
  }

  /** Sessions that failed over away from the PE while it was known. */
  memberFailovers(poolHandle: string, peId: number): number {
    return this.#memberFailovers.get(memberKey(poolHandle, peId)) ?? 0;
  }

  /** Drops the per-PE count of a static member that was deleted. */
  forgetMember(poolHandle: string, peId: number): void {
    this.#memberFailovers.delete(memberKey(poolHandle, peId));
  }

  /** The most recent failovers, newest first (copies). */
  recentFailovers(): FailoverView[] {
    return this.#recentFailovers.map((failover) => ({ ...failover }));
  }

  /** The totals counted so far (copies). */
  totals(): CounterTotals {
    return {
      sessionsEnded: this.#sessionsEnded,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      failoversTotal: { ...this.#failovers },
      registrationsTotal: this.#registrations,
      handleResolutionsTotal: this.#resolutions,
      errorsTotal: { ...this.#errors },
    };
  }

  /** Stops listening to the components; idempotent. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  /** Same as {@linkcode MetricsCounters.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #onChange(event: CustomEvent<PoolElementChangeDetail>): void {
    const { handle, peId, reason } = event.detail;
    if (reason === "registration") this.#registrations++;
    const key = memberKey(decoder.decode(handle), peId);
    if (!this.#memberFailovers.has(key)) this.#memberFailovers.set(key, 0);
  }

  #onRemoved(event: CustomEvent<PoolElementChangeDetail>): void {
    const pool = decoder.decode(event.detail.handle);
    if (!this.#keepOnRemoval(pool, event.detail.peId)) this.forgetMember(pool, event.detail.peId);
  }

  #onSessionEnd(detail: SessionEndDetail): void {
    this.#sessionsEnded++;
    this.#bytesIn += detail.bytesIn;
    this.#bytesOut += detail.bytesOut;
    // Error kinds from events: `session` (a session ended on an unexpected error),
    // `bad-proxy-header`, and `max-sessions` (a client closed at once, see observeProxy).
    if (detail.reason === "error") this.countError("session");
    if (detail.reason === "bad-proxy-header") this.countError("bad-proxy-header");
  }

  #onFailover(detail: FailoverDetail): void {
    increment(this.#failovers, detail.cause);
    this.#recentFailovers.unshift({
      at: new Date(this.#now()).toISOString(),
      sessionId: detail.sessionId,
      pool: detail.pool,
      fromPeId: detail.fromPeId,
      toPeId: detail.toPeId,
      cause: detail.cause,
    });
    if (this.#recentFailovers.length > this.#maxRecentFailovers) {
      this.#recentFailovers.length = this.#maxRecentFailovers;
    }
    const key = memberKey(detail.pool, detail.fromPeId);
    const count = this.#memberFailovers.get(key);
    // A PE already gone (an ASAP PE removed) is not counted again: its entry went with it.
    if (count !== undefined) this.#memberFailovers.set(key, count + 1);
  }
}
