/**
 * An in-process {@linkcode PoolMemberSource}: round robin over a mutable list of pool elements
 * per pool. It serves tests and `--member` until the embedded registrar's handlespace is plugged
 * in; it has no health checks of its own, only a short quarantine of reported pool elements.
 *
 * @module
 */
import type {
  PoolMemberAddress,
  PoolMemberRemovedListener,
  PoolMemberSource,
} from "./member_source.ts";
import { checkInteger } from "./settings.ts";

/** How long a pool element reported unreachable is passed over while others are left. */
export const DEFAULT_QUARANTINE_MS = 1_000;

/** Options of {@linkcode StaticMemberSource}. */
export interface StaticMemberSourceOptions {
  /**
   * How long `select()` passes over a pool element after `reportUnreachable()`, as long as
   * another one is left (as nginx's `max_fails=1 fail_timeout`). 0 turns it off.
   * @default {DEFAULT_QUARANTINE_MS}
   */
  readonly quarantineMs?: number;
  /** Monotonic clock in milliseconds. @default {performance.now} */
  readonly now?: () => number;
}

interface StaticPool {
  members: PoolMemberAddress[];
  next: number;
}

/** A fixed, editable set of pools whose members are chosen round robin. */
export class StaticMemberSource implements PoolMemberSource {
  readonly #pools = new Map<string, StaticPool>();
  readonly #listeners = new Set<PoolMemberRemovedListener>();
  readonly #quarantinedUntil = new Map<string, number>();
  readonly #quarantineMs: number;
  readonly #now: () => number;

  /** Starts with `pools` (pool handle → members), copied. */
  constructor(
    pools: Readonly<Record<string, readonly PoolMemberAddress[]>> = {},
    options: StaticMemberSourceOptions = {},
  ) {
    this.#quarantineMs = options.quarantineMs ?? DEFAULT_QUARANTINE_MS;
    checkInteger("member source", "quarantineMs", this.#quarantineMs, 0);
    this.#now = options.now ?? (() => performance.now());
    for (const [handle, members] of Object.entries(pools)) {
      for (const member of members) this.add(handle, member);
    }
  }

  /** Adds `member` to the pool (created on first use), replacing one with the same PE id. */
  add(poolHandle: string, member: PoolMemberAddress): void {
    let pool = this.#pools.get(poolHandle);
    if (pool === undefined) {
      pool = { members: [], next: 0 };
      this.#pools.set(poolHandle, pool);
    }
    const index = pool.members.findIndex((m) => m.peId === member.peId);
    if (index >= 0) pool.members[index] = { ...member };
    else pool.members.push({ ...member });
  }

  /** Removes a member and tells the `onRemoved` listeners; false when it was not there. */
  remove(poolHandle: string, peId: number, reason = "removed"): boolean {
    const pool = this.#pools.get(poolHandle);
    const index = pool?.members.findIndex((m) => m.peId === peId) ?? -1;
    if (pool === undefined || index < 0) return false;
    pool.members.splice(index, 1);
    this.#quarantinedUntil.delete(quarantineKey(poolHandle, peId));
    for (const listener of [...this.#listeners]) listener(poolHandle, peId, reason);
    return true;
  }

  /** The members of a pool, in round-robin order. */
  members(poolHandle: string): PoolMemberAddress[] {
    return [...(this.#pools.get(poolHandle)?.members ?? [])];
  }

  /** Next member round robin, skipping `exclude` and, while others are left, quarantined ones. */
  select(poolHandle: string, exclude: ReadonlySet<number>): PoolMemberAddress | undefined {
    const pool = this.#pools.get(poolHandle);
    if (pool === undefined || pool.members.length === 0) return undefined;
    const count = pool.members.length;
    const quarantine = this.#quarantinedUntil.size > 0;
    const now = quarantine ? this.#now() : 0;
    let fallback: number | undefined;
    for (let step = 0; step < count; step++) {
      const index = (pool.next + step) % count;
      const member = pool.members[index];
      if (member === undefined || exclude.has(member.peId)) continue;
      const until = quarantine
        ? this.#quarantinedUntil.get(quarantineKey(poolHandle, member.peId))
        : undefined;
      if (until !== undefined && until > now) {
        fallback ??= index;
        continue;
      }
      pool.next = (index + 1) % count;
      return member;
    }
    if (fallback === undefined) return undefined;
    pool.next = (fallback + 1) % count;
    return pool.members[fallback];
  }

  /** The member `peId` of the pool, or undefined once it has been removed. */
  find(poolHandle: string, peId: number): PoolMemberAddress | undefined {
    return this.#pools.get(poolHandle)?.members.find((m) => m.peId === peId);
  }

  /** Quarantines the member for `quarantineMs`; it stays in the pool. */
  reportUnreachable(poolHandle: string, peId: number): void {
    if (this.#quarantineMs === 0) return;
    const pool = this.#pools.get(poolHandle);
    if (pool === undefined || !pool.members.some((m) => m.peId === peId)) return;
    this.#quarantinedUntil.set(quarantineKey(poolHandle, peId), this.#now() + this.#quarantineMs);
  }

  /** Calls `listener` on every `remove()` until the returned function is called. */
  onRemoved(listener: PoolMemberRemovedListener): () => void {
    const wrapped: PoolMemberRemovedListener = (...args) => listener(...args);
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }
}

function quarantineKey(poolHandle: string, peId: number): string {
  return `${peId}\u0000${poolHandle}`;
}
