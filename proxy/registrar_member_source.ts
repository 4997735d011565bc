/**
 * The embedded registrar as the session proxy's {@linkcode PoolMemberSource}: selection runs on
 * the registrar's own handlespace (no network round trip), failure reports count as Endpoint
 * Unreachable, and the registrar's "pe-removed" events move sessions without polling. Operators'
 * drain and maintenance marks ({@linkcode SelectionMarks}) keep pool elements out of new
 * selections while they stay registered.
 *
 * @module
 */
import type { PoolElementView } from "../lib/handlespace/mod.ts";
import type { Registrar } from "../lib/registrar/mod.ts";
import type {
  PoolMemberAddress,
  PoolMemberRemovedListener,
  PoolMemberSource,
} from "./member_source.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Pool elements that a selection must skip although they are registered (drained members). */
export type SelectionFilter = (poolHandle: string, peId: number) => boolean;

/** An operator's marks on one pool element; both keep it out of new selections. */
export interface SelectionMark {
  /** No new sessions; the sessions on it stay. */
  readonly drain: boolean;
  /** No new sessions, and its sessions are moved off it (by whoever sets the mark). */
  readonly maintenance: boolean;
  /** Wall-clock milliseconds of the last change of either mark. */
  readonly changedAt: number;
}

function markKey(poolHandle: string, peId: number): string {
  return `${peId}\u0000${poolHandle}`;
}

/**
 * Drain and maintenance marks by pool and PE identifier, local to this Poolgate instance.
 * Selection skips a marked PE ({@linkcode SelectionMarks.skips} is a {@linkcode SelectionFilter});
 * whoever removes a PE for good deletes its mark, so the table holds at most one entry per PE.
 */
export class SelectionMarks {
  readonly #marks = new Map<string, SelectionMark>();

  /** The marks of a PE, or undefined when it has never been marked. */
  get(poolHandle: string, peId: number): SelectionMark | undefined {
    return this.#marks.get(markKey(poolHandle, peId));
  }

  /**
   * Sets the marks given (the others keep their values) at wall-clock time `now`; returns the
   * new marks.
   */
  set(
    poolHandle: string,
    peId: number,
    change: { readonly drain?: boolean; readonly maintenance?: boolean },
    now: number,
  ): SelectionMark {
    const old = this.get(poolHandle, peId);
    const mark: SelectionMark = {
      drain: change.drain ?? old?.drain ?? false,
      maintenance: change.maintenance ?? old?.maintenance ?? false,
      changedAt: now,
    };
    this.#marks.set(markKey(poolHandle, peId), mark);
    return mark;
  }

  /** Forgets the marks of a PE; false when it had none. */
  delete(poolHandle: string, peId: number): boolean {
    return this.#marks.delete(markKey(poolHandle, peId));
  }

  /** True when the PE is drained or in maintenance: selection passes over it. */
  readonly skips: SelectionFilter = (poolHandle, peId) => {
    const mark = this.#marks.get(markKey(poolHandle, peId));
    return mark !== undefined && (mark.drain || mark.maintenance);
  };

  /** PEs with an entry. */
  get size(): number {
    return this.#marks.size;
  }
}

/**
 * How long the proxy, one pool user, stays silent about a PE it has just reported. RFC 5352 §3.5
 * counts Endpoint Unreachable reports towards MAX-BAD-PE-REPORT as evidence from pool users; a
 * thousand sessions failing over at once are one failure seen a thousand times, and reporting each
 * would remove a live PE that was merely slow to accept.
 */
export const DEFAULT_REPORT_HOLD_MS = 1_000;

/** Reports remembered before expired ones are swept, bounding the table. */
const REPORT_SWEEP_SIZE = 1024;

/** Options of {@linkcode RegistrarMemberSource}. */
export interface RegistrarMemberSourceOptions {
  /**
   * A PE reported unreachable is not reported again within this time.
   * @default {DEFAULT_REPORT_HOLD_MS}
   */
  readonly reportHoldMs?: number;
  /** Milliseconds for the report hold. @default {performance.now} */
  readonly now?: () => number;
  /** PEs that take no new sessions (drain, maintenance). @default {none skipped} */
  readonly skip?: SelectionFilter;
  /** Called once per selection the proxy asks for: an in-process handle resolution. */
  readonly onSelect?: (poolHandle: string) => void;
}

/** Adapts a {@linkcode Registrar} to the proxy. */
export class RegistrarMemberSource implements PoolMemberSource {
  readonly #registrar: Registrar;
  readonly #skip: SelectionFilter | undefined;
  readonly #onSelect: ((poolHandle: string) => void) | undefined;
  readonly #reportHoldMs: number;
  readonly #now: () => number;
  /** When each recently reported PE was reported (key: markKey). */
  readonly #reported = new Map<string, number>();

  /** Wraps `registrar`; `options.skip` names PEs that take no new sessions. */
  constructor(registrar: Registrar, options: RegistrarMemberSourceOptions = {}) {
    this.#registrar = registrar;
    this.#skip = options.skip;
    this.#onSelect = options.onSelect;
    this.#reportHoldMs = options.reportHoldMs ?? DEFAULT_REPORT_HOLD_MS;
    this.#now = options.now ?? (() => performance.now());
    if (!Number.isSafeInteger(this.#reportHoldMs) || this.#reportHoldMs < 0) {
      throw new RangeError(
        `Cannot create member source as 'reportHoldMs' must be a non-negative integer: current value is ${this.#reportHoldMs}`,
      );
    }
  }

  /**
   * Picks one PE by the pool's policy, skipping `exclude`, PEs the filter skips and PEs the
   * proxy cannot reach over TCP (no single IP address).
   */
  select(poolHandle: string, exclude: ReadonlySet<number>): PoolMemberAddress | undefined {
    this.#onSelect?.(poolHandle);
    let skipped: Set<number> | undefined;
    // A skipped PE is added to the exclusions and the selection repeated, so that the policy's
    // own state (round-robin head, LUD counters) is what orders the remaining PEs.
    for (;;) {
      const [view] = this.#registrar.select(poolHandle, 1, skipped ?? exclude);
      if (view === undefined) return undefined;
      const address = this.#skip?.(poolHandle, view.identifier) ? undefined : toAddress(view);
      if (address !== undefined) return address;
      skipped ??= new Set(exclude);
      skipped.add(view.identifier);
    }
  }

  /**
   * The PE `peId` of the pool when it is registered, reachable over TCP and not skipped: a
   * Business Card's failover target, looked up without trusting the card's addresses.
   */
  find(poolHandle: string, peId: number): PoolMemberAddress | undefined {
    if (this.#skip?.(poolHandle, peId)) return undefined;
    const view = this.#registrar.handlespace.find(encoder.encode(poolHandle), peId);
    return view === undefined ? undefined : toAddress(view);
  }

  /**
   * Reports a PE the proxy could not use, as an ASAP Endpoint Unreachable, at most once per
   * {@linkcode DEFAULT_REPORT_HOLD_MS | report hold}: the proxy is one pool user however many of
   * its sessions saw the failure.
   */
  reportUnreachable(poolHandle: string, peId: number): void {
    const now = this.#now();
    const key = markKey(poolHandle, peId);
    const last = this.#reported.get(key);
    if (last !== undefined && now - last < this.#reportHoldMs) return;
    if (this.#reported.size >= REPORT_SWEEP_SIZE) {
      for (const [k, at] of this.#reported) {
        if (now - at >= this.#reportHoldMs) this.#reported.delete(k);
      }
    }
    this.#reported.set(key, now);
    this.#registrar.reportUnreachable(poolHandle, peId);
  }

  /** Calls `listener` for every PE that leaves its pool, until the returned function is called. */
  onRemoved(listener: PoolMemberRemovedListener): () => void {
    const handler = (event: CustomEvent<{ handle: Uint8Array; peId: number; reason: string }>) => {
      const { handle, peId, reason } = event.detail;
      listener(decoder.decode(handle), peId, reason);
    };
    this.#registrar.addEventListener("pe-removed", handler);
    return () => this.#registrar.removeEventListener("pe-removed", handler);
  }
}

function toAddress(view: PoolElementView): PoolMemberAddress | undefined {
  const hostname = view.address;
  const port = view.port;
  if (hostname === undefined || port === undefined) return undefined;
  return {
    peId: view.identifier,
    hostname,
    port,
    transportUse: view.transportUse === 1 ? 1 : 0,
  };
}
