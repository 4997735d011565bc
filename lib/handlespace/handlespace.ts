/**
 * The handlespace of one registrar: pools, their pool elements, ownership, registration-life
 * expiry, PE checksums and member selection (RFC 5352 §3.1–§3.3, RFC 5353 §3.6, RFC 5356).
 * Pure: no I/O, no timers; time comes in as an argument and randomness from an injected source.
 */
import { ErrorCauseCode, REGISTRATION_LIFE_INFINITE } from "../wire/codes.ts";
import type { PoolElementParameter } from "../wire/parameters.ts";
import { isKnownPolicy } from "../wire/selection_policy.ts";
import { elementWordSum, foldChecksum, handleWordSum } from "./checksum.ts";
import { ElementIndex } from "./_element_index.ts";
import { TicketHeap } from "./_heap.ts";
import { findPolicy, refusalFor } from "./policies/policy_table.ts";
import type { PolicyDefinition, RandomSource } from "./policies/policy.ts";
import { PoolElementView } from "./pool_element_view.ts";
import { PoolView } from "./pool_view.ts";
import { SelectionContext } from "./_selection_context.ts";
import type { ElementStore } from "./_store.ts";
import { HandlespaceTables, type Pool } from "./_tables.ts";
import { compactAddressOf, hasValidAddresses, transportUseOf } from "./_transport.ts";

/** Default for {@linkcode HandlespaceOptions.maxPools}. */
export const DEFAULT_MAX_POOLS = 10_000;
/** Default for {@linkcode HandlespaceOptions.maxPoolElementsPerPool}. */
export const DEFAULT_MAX_POOL_ELEMENTS_PER_POOL = 100_000;
/** Default for {@linkcode HandlespaceOptions.maxPoolElements}. */
export const DEFAULT_MAX_POOL_ELEMENTS = 1_000_000;
/** Default for {@linkcode HandlespaceOptions.maxPoolHandleLength}. */
export const DEFAULT_MAX_POOL_HANDLE_LENGTH = 256;
/** Default for {@linkcode HandlespaceOptions.maxHomeRegistrars}. */
export const DEFAULT_MAX_HOME_REGISTRARS = 1024;

/** Largest `maxPoolElementsPerPool`: weighted sums of u32 weights stay exact below 2^53. */
const LIMIT_POOL_ELEMENTS_PER_POOL = 2 ** 21;
/** Largest `maxHomeRegistrars`: a PE stores its home registrar's index in 16 bits. */
const LIMIT_HOME_REGISTRARS = 0xffff;

/** Why a pool element was added, changed or removed. */
export type ChangeReason =
  | "registration"
  | "deregistration"
  | "expiry"
  | "unreachable"
  | "home-removed"
  | "takeover";

/** What a deregistration is called for (a reason that removes). */
export type RemovalReason = "deregistration" | "expiry" | "unreachable" | "home-removed";

/** One change of the handlespace, reported after it happened. */
export interface HandlespaceChange {
  /** Added (new PE), updated (re-registration, takeover) or removed. */
  readonly kind: "added" | "updated" | "removed";
  /** The pool handle (the handlespace's copy: do not modify). */
  readonly handle: Uint8Array;
  /** The PE identifier. */
  readonly identifier: number;
  /** Why. */
  readonly reason: ChangeReason;
  /** The PE as it is now, or as it was when removed (a snapshot). */
  readonly element: PoolElementParameter;
}

/** Options of {@linkcode Handlespace}. */
export interface HandlespaceOptions {
  /**
   * Most pools at once; a registration that would create one more is refused with 0x6.
   * @default {10000} ({@linkcode DEFAULT_MAX_POOLS})
   */
  maxPools?: number;
  /**
   * Most PEs in one pool (at most 2^21); past it a registration is refused with 0x6.
   * @default {100000} ({@linkcode DEFAULT_MAX_POOL_ELEMENTS_PER_POOL})
   */
  maxPoolElementsPerPool?: number;
  /**
   * Most PEs in all pools; past it a registration is refused with 0x6.
   * @default {1000000} ({@linkcode DEFAULT_MAX_POOL_ELEMENTS})
   */
  maxPoolElements?: number;
  /**
   * Longest pool handle in bytes; a longer one is refused with 0x6.
   * @default {256} ({@linkcode DEFAULT_MAX_POOL_HANDLE_LENGTH})
   */
  maxPoolHandleLength?: number;
  /**
   * Most distinct home registrars owning PEs at once (at most 65535); past it 0x6.
   * @default {1024} ({@linkcode DEFAULT_MAX_HOME_REGISTRARS})
   */
  maxHomeRegistrars?: number;
  /**
   * Uniform random numbers in [0, 1) for the random policies.
   * @default {Math.random}
   */
  random?: RandomSource;
  /** Called synchronously after every change; must not change the handlespace. */
  onChange?: (change: HandlespaceChange) => void;
}

/** Options of one selection. */
export interface SelectOptions {
  /** PE identifiers not to select (e.g. PEs that just failed, or drained ones). */
  exclude?: ReadonlySet<number> | readonly number[];
}

/** The outcome of {@linkcode Handlespace.register}: accepted, or refused with an error cause. */
export type RegisterResult =
  | { readonly ok: true; readonly created: boolean }
  | { readonly ok: false; readonly cause: ErrorCauseCode };

/** An element removed by {@linkcode Handlespace.expire}. */
export interface ExpiredPoolElement {
  /** The pool handle. */
  readonly handle: Uint8Array;
  /** The PE as it was (a snapshot). */
  readonly element: PoolElementParameter;
}

const CREATED: RegisterResult = Object.freeze({ ok: true, created: true });
const UPDATED: RegisterResult = Object.freeze({ ok: true, created: false });
const REFUSALS = new Map<number, RegisterResult>();

/** The shared refusal result for `cause`. */
function refused(cause: ErrorCauseCode): RegisterResult {
  let result = REFUSALS.get(cause);
  if (result === undefined) {
    result = Object.freeze({ ok: false, cause });
    REFUSALS.set(cause, result);
  }
  return result;
}

/** True for an unsigned 32-bit integer. */
function isU32(value: number): boolean {
  return value >>> 0 === value;
}

/** Checks a bound option: a positive integer up to `limit`. */
function bound(name: string, value: number | undefined, fallback: number, limit: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 1 || result > limit) {
    throw new RangeError(
      `Cannot create handlespace as '${name}' must be an integer from 1 to ${limit}: current value is ${result}`,
    );
  }
  return result;
}

/**
 * A hash of a pool handle from its length and up to nine sampled bytes (first four, middle,
 * last four), reduced to a small integer (a fast `Map` key): O(1) for any handle length. Handles
 * that differ only elsewhere share a bucket and are told apart by comparing their bytes.
 */
function hashHandle(handle: Uint8Array): number {
  const n = handle.length;
  let h = n;
  if (n < 4) {
    for (let i = 0; i < n; i++) h = (h << 8) | handle[i]!;
  } else {
    const head = (handle[0]! << 24) | (handle[1]! << 16) | (handle[2]! << 8) | handle[3]!;
    const tail = (handle[n - 4]! << 24) | (handle[n - 3]! << 16) | (handle[n - 2]! << 8) |
      handle[n - 1]!;
    h = head ^ Math.imul(tail, 0x9e3779b1) ^ (n << 8) ^ handle[n >> 1]!;
  }
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** True when two byte strings are equal. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Pools and pool elements of one registrar's handlespace.
 *
 * @example
 * ```ts
 * const handlespace = new Handlespace();
 * const handle = new TextEncoder().encode("EchoPool");
 * handlespace.register(handle, poolElement, 0x10000001, Date.now());
 * const [first] = handlespace.select(handle, 1, Date.now());
 * ```
 */
export class Handlespace {
  readonly #t = new HandlespaceTables();
  readonly #store: ElementStore = this.#t.store;
  readonly #index = new ElementIndex(this.#t.store);
  /** All PEs by registration-life expiry: the registrar's one timer. */
  readonly #expiry = new TicketHeap();
  readonly #ctx = new SelectionContext(this.#t.store);
  readonly #poolsByHash = new Map<number, Pool>();
  #recentPool: Pool | undefined = undefined;
  readonly #freePools: number[] = [];
  #poolCount = 0;
  /** Views handed out, by slot (one per PE, so callers may compare them). */
  readonly #views: (PoolElementView | undefined)[] = [];
  /** Whole-handlespace checksum word sum. */
  #sum = 0;
  /** Per registrar index: PEs owned, checksum word sum. */
  readonly #registrarCounts: number[] = [];
  readonly #registrarSums: number[] = [];
  readonly #registrarIndex = new Map<number, number>();
  readonly #freeRegistrars: number[] = [];
  #lastRegistrarId = -1;
  #lastRegistrar = -1;

  readonly #maxPools: number;
  readonly #maxPerPool: number;
  readonly #maxElements: number;
  readonly #maxHandleLength: number;
  readonly #maxRegistrars: number;
  readonly #random: RandomSource;
  readonly #onChange: ((change: HandlespaceChange) => void) | undefined;

  /** Builds an empty handlespace. @throws {RangeError} for a bound out of range. */
  constructor(options: HandlespaceOptions = {}) {
    this.#maxPools = bound("maxPools", options.maxPools, DEFAULT_MAX_POOLS, 0x7fffffff);
    this.#maxPerPool = bound(
      "maxPoolElementsPerPool",
      options.maxPoolElementsPerPool,
      DEFAULT_MAX_POOL_ELEMENTS_PER_POOL,
      LIMIT_POOL_ELEMENTS_PER_POOL,
    );
    this.#maxElements = bound(
      "maxPoolElements",
      options.maxPoolElements,
      DEFAULT_MAX_POOL_ELEMENTS,
      0x7fffffff,
    );
    this.#maxHandleLength = bound(
      "maxPoolHandleLength",
      options.maxPoolHandleLength,
      DEFAULT_MAX_POOL_HANDLE_LENGTH,
      0xffff,
    );
    this.#maxRegistrars = bound(
      "maxHomeRegistrars",
      options.maxHomeRegistrars,
      DEFAULT_MAX_HOME_REGISTRARS,
      LIMIT_HOME_REGISTRARS,
    );
    this.#random = options.random ?? Math.random;
    this.#onChange = options.onChange;
  }

  /** Pools in the handlespace. */
  get poolCount(): number {
    return this.#poolCount;
  }

  /** Pool elements in all pools. */
  get elementCount(): number {
    return this.#store.count;
  }

  /**
   * Registers `element` in pool `handle` with `homeRegistrarId` as its owner, or re-registers it
   * (same PE identifier in the same pool): new values, including a new load, take effect at
   * once; the unreachability count and the LUD degradation counter restart. The first PE of a
   * pool fixes its policy type, transport type and transport-use (RFC 5352 §3.1). Refusals are
   * returned, never thrown: 0x3 Invalid Values (opaque or unknown policy type, bad values),
   * 0x5 Inconsistent Pooling Policy (other policy type than the pool's, or a known type this
   * handlespace does not run: RSPLIB's further LU variants and the DPF policies), 0x7
   * Inconsistent Transport Type, 0x8 Inconsistent Data/Control Configuration, 0x6 Lack of
   * Resources (a bound).
   *
   * @param handle the pool handle (copied when a pool is created)
   * @param now the current time in milliseconds
   * @throws {RangeError} when `homeRegistrarId` is not a u32 or `now` is not finite
   */
  register(
    handle: Uint8Array,
    element: PoolElementParameter,
    homeRegistrarId: number,
    now: number,
  ): RegisterResult {
    if (!isU32(homeRegistrarId)) {
      throw new RangeError(
        `Cannot register as 'homeRegistrarId' must be a u32: current value is ${homeRegistrarId}`,
      );
    }
    if (!Number.isFinite(now)) {
      throw new RangeError(`Cannot register as 'now' must be finite: current value is ${now}`);
    }
    const policy = element.policy;
    if (!isKnownPolicy(policy)) return refused(ErrorCauseCode.invalidValues);
    const transport = element.userTransport;
    let pool = this.#findPool(handle);
    let definition: PolicyDefinition | undefined;
    if (pool !== undefined && pool.definition.type === policy.type) {
      definition = pool.definition;
    } else {
      definition = findPolicy(policy.type);
      if (definition === undefined) return refused(refusalFor(policy.type));
      if (pool !== undefined) return refused(ErrorCauseCode.inconsistentPoolingPolicy);
    }
    const transportUse = transportUseOf(transport);
    if (pool !== undefined) {
      if (transport.type !== pool.transportType) {
        return refused(ErrorCauseCode.inconsistentTransportType);
      }
      if (transportUse !== pool.transportUse) {
        return refused(ErrorCauseCode.inconsistentDataControlConfiguration);
      }
    }
    const identifier = element.identifier;
    const life = element.registrationLife;
    const value1 = definition.value1(policy);
    const value2 = definition.value2(policy);
    if (
      identifier === 0 || !isU32(identifier) || !isU32(value1) || !isU32(value2) ||
      !Number.isInteger(life) || life < REGISTRATION_LIFE_INFINITE || life > 0x7fffffff ||
      handle.length === 0 || !hasValidAddresses(transport)
    ) {
      return refused(ErrorCauseCode.invalidValues);
    }
    let slot = pool === undefined ? -1 : this.#index.find(pool.index, identifier);
    if (slot < 0) {
      if (
        this.#store.count >= this.#maxElements ||
        (pool === undefined
          ? this.#poolCount >= this.#maxPools || handle.length > this.#maxHandleLength
          : pool.selector.size >= this.#maxPerPool)
      ) {
        return refused(ErrorCauseCode.lackOfResources);
      }
    }
    const home = this.#registrarFor(homeRegistrarId);
    if (home < 0) return refused(ErrorCauseCode.lackOfResources);
    pool ??= this.#createPool(handle, definition, transport.type, transportUse);

    const store = this.#store;
    const created = slot < 0;
    if (created) {
      slot = store.allocate();
      store.id[slot] = identifier;
      store.pool[slot] = pool.index;
      this.#index.insert(slot);
      store.home[slot] = home;
      this.#registrarCounts[home]!++;
      const sum = elementWordSum(pool.handleSum, identifier);
      this.#sum += sum;
      this.#registrarSums[home]! += sum;
      pool.selector.add(slot, value1, value2);
    } else {
      const previous = store.home[slot]!;
      if (previous !== home) this.#moveOwnership(slot, pool, previous, home);
      pool.selector.update(slot, value1, value2);
      if (store.transport[slot] === 0) this.#t.extraTransports.delete(slot);
    }
    store.life[slot] = life;
    store.updated[slot] = now;
    store.unreachable[slot] = 0;
    const address = compactAddressOf(transport);
    if (address >= 0) {
      store.transport[slot] = transport.type;
      store.transportUse[slot] = transportUse;
      store.port[slot] = "port" in transport ? transport.port : 0;
      store.ipv4[slot] = address;
    } else {
      store.transport[slot] = 0;
      this.#t.extraTransports.set(slot, transport);
    }
    if (element.asapTransport !== undefined) {
      this.#t.asapTransports.set(slot, element.asapTransport);
    } else if (this.#t.asapTransports.size !== 0) {
      this.#t.asapTransports.delete(slot);
    }
    const expiry = life < 0 ? Infinity : now + life;
    if (created || store.expiry[slot] !== expiry) {
      const ticket = store.nextTicket++;
      store.expiryTicket[slot] = ticket;
      if (!created) this.#expiry.staled(store.expiryTicket);
      store.expiry[slot] = expiry;
      this.#expiry.push(slot, expiry, ticket);
    }
    if (this.#onChange !== undefined) {
      this.#notify(created ? "added" : "updated", pool, slot, "registration");
    }
    return created ? CREATED : UPDATED;
  }

  /**
   * Removes PE `identifier` from pool `handle` (and the pool with its last PE). Returns false
   * when there was no such PE (RFC 5352 §3.2 treats that as a granted deregistration).
   */
  deregister(
    handle: Uint8Array,
    identifier: number,
    reason: RemovalReason = "deregistration",
  ): boolean {
    const pool = this.#findPool(handle);
    if (pool === undefined) return false;
    const slot = this.#index.find(pool.index, identifier);
    if (slot < 0) return false;
    this.#remove(slot, pool, reason);
    return true;
  }

  /** The PE `identifier` of pool `handle`, or undefined. */
  find(handle: Uint8Array, identifier: number): PoolElementView | undefined {
    const pool = this.#findPool(handle);
    if (pool === undefined) return undefined;
    const slot = this.#index.find(pool.index, identifier);
    return slot < 0 ? undefined : this.#viewOf(slot, pool);
  }

  /** The pool `handle`, or undefined when no PE is registered under it. */
  pool(handle: Uint8Array): PoolView | undefined {
    const pool = this.#findPool(handle);
    return pool === undefined ? undefined : new PoolView(pool, (slot) => this.#viewOf(slot, pool));
  }

  /** Every pool. The handlespace must not change while the iteration runs. */
  *pools(): IterableIterator<PoolView> {
    for (const pool of this.#t.pools) {
      if (pool !== undefined) yield new PoolView(pool, (slot) => this.#viewOf(slot, pool));
    }
  }

  /**
   * Selects up to `count` distinct PEs of pool `handle` by the pool's policy and updates the
   * policy's state (RFC 5356 §4–§5). PEs whose registration life has run out at `now` and PEs in
   * `options.exclude` are never selected. An unknown pool gives an empty array.
   */
  select(
    handle: Uint8Array,
    count: number,
    now: number,
    options?: SelectOptions,
  ): PoolElementView[] {
    const out: PoolElementView[] = [];
    this.selectInto(handle, count, now, out, options);
    return out;
  }

  /**
   * Like {@linkcode Handlespace.select}, but writes the PEs to `out[0 … n-1]` (its length is set
   * to n) and returns n: no allocation once `out` and the views exist.
   */
  selectInto(
    handle: Uint8Array,
    count: number,
    now: number,
    out: PoolElementView[],
    options?: SelectOptions,
  ): number {
    const pool = this.#findPool(handle);
    if (pool === undefined || count < 1) {
      out.length = 0;
      return 0;
    }
    const ctx = this.#ctx;
    const wanted = Math.min(count, pool.selector.size);
    ctx.reserve(wanted);
    ctx.now = now;
    const exclude = options?.exclude;
    ctx.exclude = exclude === undefined || "has" in exclude ? exclude : new Set(exclude);
    const written = wanted === 0 ? 0 : pool.selector.select(wanted, ctx);
    ctx.exclude = undefined;
    const slots = ctx.out;
    for (let i = 0; i < written; i++) out[i] = this.#viewOf(slots[i]!, pool);
    if (out.length !== written) out.length = written;
    return written;
  }

  /**
   * Counts an Endpoint Unreachable report for a PE and returns the count since its last
   * (re-)registration (0 for an unknown PE); the registrar removes the PE at its
   * MAX-BAD-PE-REPORT (RFC 5352 §3.5).
   */
  reportUnreachable(handle: Uint8Array, identifier: number): number {
    const pool = this.#findPool(handle);
    if (pool === undefined) return 0;
    const slot = this.#index.find(pool.index, identifier);
    if (slot < 0) return 0;
    const count = Math.min(this.#store.unreachable[slot]! + 1, 0xffff);
    this.#store.unreachable[slot] = count;
    return count;
  }

  /** Removes every PE whose home registrar is `registrarId`; returns how many. */
  removeByHome(registrarId: number, reason: RemovalReason = "home-removed"): number {
    const home = this.#registrarIndex.get(registrarId);
    if (home === undefined) return 0;
    const store = this.#store;
    let removed = 0;
    for (let slot = 0; slot < store.highWater && this.#registrarCounts[home]! > 0; slot++) {
      const poolIndex = store.pool[slot]!;
      if (poolIndex >= 0 && store.home[slot] === home) {
        this.#remove(slot, this.#t.pools[poolIndex]!, reason);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Takeover (RFC 5353 §3.5): every PE owned by `fromRegistrarId` becomes owned by
   * `toRegistrarId`. Returns how many PEs moved.
   * @throws {RangeError} when `toRegistrarId` is not a u32
   */
  rehome(fromRegistrarId: number, toRegistrarId: number): number {
    if (!isU32(toRegistrarId)) {
      throw new RangeError(
        `Cannot rehome as 'toRegistrarId' must be a u32: current value is ${toRegistrarId}`,
      );
    }
    const from = this.#registrarIndex.get(fromRegistrarId);
    if (from === undefined || fromRegistrarId === toRegistrarId) return 0;
    const store = this.#store;
    let to = this.#registrarIndex.get(toRegistrarId);
    if (to === undefined) {
      // Nobody owns PEs as `toRegistrarId` yet: rename the table entry, no PE changes.
      this.#registrarIndex.delete(fromRegistrarId);
      this.#registrarIndex.set(toRegistrarId, from);
      this.#t.registrarIds[from] = toRegistrarId;
      this.#lastRegistrarId = -1;
      to = from;
    }
    let moved = 0;
    for (let slot = 0; slot < store.highWater; slot++) {
      const poolIndex = store.pool[slot]!;
      if (poolIndex < 0 || store.home[slot] !== from) continue;
      const pool = this.#t.pools[poolIndex]!;
      if (to !== from) this.#moveOwnership(slot, pool, from, to);
      moved++;
      if (this.#onChange !== undefined) this.#notify("updated", pool, slot, "takeover");
    }
    return moved;
  }

  /** The PEs whose home registrar is `registrarId`. The handlespace must not change meanwhile. */
  *ownedBy(registrarId: number): IterableIterator<PoolElementView> {
    const home = this.#registrarIndex.get(registrarId);
    if (home === undefined) return;
    const store = this.#store;
    for (let slot = 0; slot < store.highWater; slot++) {
      const poolIndex = store.pool[slot]!;
      if (poolIndex >= 0 && store.home[slot] === home) {
        yield this.#viewOf(slot, this.#t.pools[poolIndex]!);
      }
    }
  }

  /** How many PEs `registrarId` owns. */
  countOwnedBy(registrarId: number): number {
    const home = this.#registrarIndex.get(registrarId);
    return home === undefined ? 0 : this.#registrarCounts[home]!;
  }

  /** The earliest time a registration life runs out, or undefined when none will. */
  nextExpiry(): number | undefined {
    this.#expiry.dropStaleTop(this.#store.expiryTicket);
    if (this.#expiry.size === 0) return undefined;
    const first = this.#expiry.keys[0]!;
    return first === Infinity ? undefined : first;
  }

  /** Removes and returns the PEs whose registration life has run out at `now`. */
  expire(now: number): ExpiredPoolElement[] {
    const expired: ExpiredPoolElement[] = [];
    const store = this.#store;
    for (;;) {
      this.#expiry.dropStaleTop(store.expiryTicket);
      if (this.#expiry.size === 0 || this.#expiry.keys[0]! > now) break;
      const slot = this.#expiry.slots[0]!;
      const pool = this.#t.pools[store.pool[slot]!]!;
      const element = this.#viewOf(slot, pool).toParameter();
      this.#remove(slot, pool, "expiry", element);
      expired.push({ handle: pool.handle, element });
    }
    return expired;
  }

  /**
   * The PE checksum (RFC 5353 §3.6) of the PEs owned by `registrarId`, or of the whole
   * handlespace when it is omitted; 0xffff when there are none.
   */
  checksum(registrarId?: number): number {
    if (registrarId === undefined) return foldChecksum(this.#sum);
    const home = this.#registrarIndex.get(registrarId);
    return foldChecksum(home === undefined ? 0 : this.#registrarSums[home]!);
  }

  #findPool(handle: Uint8Array): Pool | undefined {
    // Requests come in runs for one pool: try the last pool found before hashing.
    const recent = this.#recentPool;
    if (recent !== undefined && sameBytes(recent.handle, handle)) return recent;
    let pool = this.#poolsByHash.get(hashHandle(handle));
    while (pool !== undefined && !sameBytes(pool.handle, handle)) pool = pool.nextWithHash;
    if (pool !== undefined) this.#recentPool = pool;
    return pool;
  }

  #createPool(
    handle: Uint8Array,
    definition: PolicyDefinition,
    transportType: number,
    transportUse: Pool["transportUse"],
  ): Pool {
    const index = this.#freePools.pop() ?? this.#t.pools.length;
    const hash = hashHandle(handle);
    const copy = handle.slice();
    const pool: Pool = {
      index,
      handle: copy,
      hash,
      handleSum: handleWordSum(copy),
      definition,
      transportType,
      transportUse,
      selector: definition.createSelector(this.#store, this.#random),
      nextWithHash: this.#poolsByHash.get(hash),
    };
    this.#poolsByHash.set(hash, pool);
    this.#t.pools[index] = pool;
    this.#poolCount++;
    return pool;
  }

  #deletePool(pool: Pool): void {
    let head = this.#poolsByHash.get(pool.hash);
    if (head === pool) {
      if (pool.nextWithHash === undefined) this.#poolsByHash.delete(pool.hash);
      else this.#poolsByHash.set(pool.hash, pool.nextWithHash);
    } else {
      while (head !== undefined && head.nextWithHash !== pool) head = head.nextWithHash;
      if (head !== undefined) head.nextWithHash = pool.nextWithHash;
    }
    this.#t.pools[pool.index] = undefined;
    if (this.#recentPool === pool) this.#recentPool = undefined;
    this.#freePools.push(pool.index);
    this.#poolCount--;
  }

  /** The registrar table index of `id`, adding it when new; -1 when the table is full. */
  #registrarFor(id: number): number {
    if (id === this.#lastRegistrarId) return this.#lastRegistrar;
    let index = this.#registrarIndex.get(id);
    if (index === undefined) {
      index = this.#freeRegistrars.pop();
      if (index === undefined) {
        if (this.#t.registrarIds.length >= this.#maxRegistrars) return -1;
        index = this.#t.registrarIds.length;
      }
      this.#t.registrarIds[index] = id;
      this.#registrarCounts[index] = 0;
      this.#registrarSums[index] = 0;
      this.#registrarIndex.set(id, index);
    }
    this.#lastRegistrarId = id;
    this.#lastRegistrar = index;
    return index;
  }

  /** Drops registrar `index` from the table once it owns nothing. */
  #releaseRegistrar(index: number): void {
    if (this.#registrarCounts[index] !== 0) return;
    const id = this.#t.registrarIds[index]!;
    this.#registrarIndex.delete(id);
    this.#freeRegistrars.push(index);
    if (this.#lastRegistrarId === id) this.#lastRegistrarId = -1;
  }

  #moveOwnership(slot: number, pool: Pool, from: number, to: number): void {
    const sum = elementWordSum(pool.handleSum, this.#store.id[slot]!);
    this.#registrarSums[from]! -= sum;
    this.#registrarSums[to]! += sum;
    this.#registrarCounts[from]!--;
    this.#registrarCounts[to]!++;
    this.#store.home[slot] = to;
    this.#releaseRegistrar(from);
  }

  #remove(slot: number, pool: Pool, reason: RemovalReason, snapshot?: PoolElementParameter): void {
    const store = this.#store;
    const element = this.#onChange === undefined
      ? undefined
      : snapshot ?? this.#viewOf(slot, pool).toParameter();
    const identifier = store.id[slot]!;
    pool.selector.remove(slot);
    this.#index.remove(slot);
    store.expiryTicket[slot] = -1;
    this.#expiry.staled(store.expiryTicket);
    const home = store.home[slot]!;
    const sum = elementWordSum(pool.handleSum, identifier);
    this.#sum -= sum;
    this.#registrarSums[home]! -= sum;
    this.#registrarCounts[home]!--;
    this.#releaseRegistrar(home);
    if (store.transport[slot] === 0) this.#t.extraTransports.delete(slot);
    if (this.#t.asapTransports.size !== 0) this.#t.asapTransports.delete(slot);
    if (slot < this.#views.length) this.#views[slot] = undefined;
    store.release(slot);
    if (pool.selector.size === 0) this.#deletePool(pool);
    if (element !== undefined) {
      this.#onChange!({ kind: "removed", handle: pool.handle, identifier, reason, element });
    }
  }

  #notify(kind: "added" | "updated", pool: Pool, slot: number, reason: ChangeReason): void {
    const element = this.#viewOf(slot, pool).toParameter();
    this.#onChange!({ kind, handle: pool.handle, identifier: element.identifier, reason, element });
  }

  #viewOf(slot: number, pool: Pool): PoolElementView {
    let view = this.#views[slot];
    if (view === undefined) {
      view = new PoolElementView(this.#t, slot, pool);
      while (this.#views.length < slot) this.#views.push(undefined);
      this.#views[slot] = view;
    }
    return view;
  }
}
