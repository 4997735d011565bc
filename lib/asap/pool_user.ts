/**
 * The pool user side of ASAP (RFC 5352 §3.3, §3.5, §3.6, §3.7) over TCP: resolve pool handles
 * through a home registrar found by server hunt, cache the answers for the stale-cache time
 * (§3.3 C1–C4) with one request per handle at a time, pick pool elements by the pool's policy at
 * the pool user (RFC 5356), and report unreachable pool elements once per failure.
 *
 * @module
 */
import type { AsapHandleResolutionResponse, AsapMessage } from "../wire/asap_messages.ts";
import { AsapMessageType, PolicyType } from "../wire/codes.ts";
import type { PoolElementParameter } from "../wire/parameters.ts";
import type { SelectionPolicy } from "../wire/selection_policy.ts";
import { requirePositiveInteger } from "../transport/message_limits.ts";
import { TypedEventTarget } from "../typed_event_target.ts";
import { AsapRequestError } from "./asap_request_error.ts";
import { HomeRegistrar, raceSignal, type RegistrarLink } from "./_home_registrar.ts";
import { poolHandleKey, sameBytes, toPoolHandle } from "./_pool_handle.ts";
import { type SelectionCursor, selectPoolElement } from "./pool_user_selection.ts";
import {
  type RegistrarAddress,
  resolveServerHuntSettings,
  type ServerHuntOptions,
} from "./server_hunt.ts";

/** stale_cache_value (RFC 5352 §7.2 gives none; 30 s as sctp-refimpl, DECISIONS.md). */
export const DEFAULT_STALE_CACHE_MS = 30_000;
/** T1-ENRPrequest (RFC 5352 §7.1): milliseconds one request attempt may take. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** MAX-REQUEST-RETRANSMIT (RFC 5352 §7.3): attempts after the first before giving up. */
export const DEFAULT_MAX_REQUEST_RETRANSMIT = 2;
/** Pools whose resolution and reports the cache keeps at most; the least recently used go. */
export const DEFAULT_MAX_CACHED_POOLS = 1024;

/** Options of {@linkcode createPoolUser}. */
export interface PoolUserOptions extends ServerHuntOptions {
  /** Registrars to hunt among for a home, in order of preference. */
  readonly registrars: readonly RegistrarAddress[];
  /**
   * Milliseconds a resolution stays fresh: within it `resolve()` and `select()` send nothing
   * (C4); after it the next call asks the registrar again (C2). 0 turns the cache off.
   * @default {DEFAULT_STALE_CACHE_MS}
   */
  readonly staleCacheMs?: number;
  /**
   * T1-ENRPrequest: milliseconds one attempt of a request may take, the hunt for a home
   * included, so that a call fails in bounded time when no registrar can be reached.
   * @default {DEFAULT_REQUEST_TIMEOUT_MS}
   */
  readonly requestTimeoutMs?: number;
  /**
   * MAX-REQUEST-RETRANSMIT: attempts after the first; each one after a timeout goes to a new
   * home found by server hunt. @default {DEFAULT_MAX_REQUEST_RETRANSMIT}
   */
  readonly maxRequestRetransmit?: number;
  /** Pools the cache holds at most. @default {DEFAULT_MAX_CACHED_POOLS} */
  readonly maxCachedPools?: number;
  /** Random numbers in [0, 1) for the random policies. @default {Math.random} */
  readonly random?: () => number;
  /** The clock the cache ages by, in milliseconds. @default {performance.now} */
  readonly now?: () => number;
  /** Closes the pool user, as {@linkcode PoolUser.close} does, when it aborts. */
  readonly signal?: AbortSignal;
}

/** A pool's member selection policy and pool elements, as the registrar returned them. */
export interface PoolResolution {
  /** The pool handle's bytes. */
  readonly poolHandle: Uint8Array;
  /** The pool's overall policy; Round Robin when the response had none (RFC 5352 §2.2.6). */
  readonly policy: SelectionPolicy;
  /** The pool elements in the registrar's order. */
  readonly poolElements: readonly PoolElementParameter[];
  /** The `now()` reading when the response arrived. */
  readonly resolvedAt: number;
}

/** Options of {@linkcode PoolUser.resolve}. */
export interface ResolveOptions {
  /**
   * How many pool elements to ask for (Handle Resolution Option, 0xffffffff: all); without it
   * the registrar's default. Sent only with a request: a fresh cached answer is returned as is.
   */
  readonly items?: number;
  /** Ask the registrar even when the cached answer is fresh. */
  readonly refresh?: boolean;
  readonly signal?: AbortSignal;
}

/** Options of {@linkcode PoolUser.select}. */
export interface SelectOptions {
  /** PE identifiers not to pick, e.g. those a failover has tried already. */
  readonly exclude?: ReadonlySet<number>;
  readonly signal?: AbortSignal;
}

/** The events of a {@linkcode PoolUser} and what each carries. */
export interface PoolUserEventDetails {
  /** The connection to the home registrar went away; the next request hunts. */
  "home-lost": { registrar: string; reason: string };
  /** An ASAP Error from the registrar. */
  error: { error: Error };
}

interface PoolEntry {
  resolution: PoolResolution | undefined;
  inflight: Promise<PoolResolution> | undefined;
  /** PEs reported unreachable since the last resolution (RFC 5352 §3.5: once per failure). */
  readonly reported: Set<number>;
  readonly cursor: SelectionCursor;
}

/**
 * Starts a pool user. It connects to a registrar only when a request needs one.
 *
 * @example
 * ```ts
 * await using user = createPoolUser({ registrars: [{ hostname: "127.0.0.1", port: 3863 }] });
 * const pe = await user.select("EchoPool");
 * if (pe !== undefined && !(await tryConnect(pe))) {
 *   await user.reportUnreachable("EchoPool", pe.identifier);
 * }
 * ```
 * @throws {RangeError} when an option is out of range.
 */
export function createPoolUser(options: PoolUserOptions): PoolUser {
  return new PoolUser(options);
}

const ACTION = "create pool user";

/** A pool user; see {@linkcode createPoolUser}. */
export class PoolUser extends TypedEventTarget<PoolUserEventDetails> implements AsyncDisposable {
  readonly #home: HomeRegistrar;
  readonly #staleCacheMs: number;
  readonly #requestTimeoutMs: number;
  readonly #attempts: number;
  readonly #maxCachedPools: number;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #pools = new Map<string, PoolEntry>();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.close();
  readonly #finished = Promise.withResolvers<void>();
  #closing: Promise<void> | undefined;

  /** Starts the pool user; use {@linkcode createPoolUser}. */
  constructor(options: PoolUserOptions) {
    super();
    const hunt = resolveServerHuntSettings(options.registrars, options, ACTION);
    this.#staleCacheMs = options.staleCacheMs ?? DEFAULT_STALE_CACHE_MS;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const retransmits = options.maxRequestRetransmit ?? DEFAULT_MAX_REQUEST_RETRANSMIT;
    this.#maxCachedPools = options.maxCachedPools ?? DEFAULT_MAX_CACHED_POOLS;
    if (!Number.isInteger(this.#staleCacheMs) || this.#staleCacheMs < 0) {
      throw new RangeError(
        `Cannot ${ACTION} as 'staleCacheMs' must be a non-negative integer: current value is ${this.#staleCacheMs}`,
      );
    }
    if (!Number.isInteger(retransmits) || retransmits < 0) {
      throw new RangeError(
        `Cannot ${ACTION} as 'maxRequestRetransmit' must be a non-negative integer: current value is ${retransmits}`,
      );
    }
    requirePositiveInteger(ACTION, "requestTimeoutMs", this.#requestTimeoutMs);
    requirePositiveInteger(ACTION, "maxCachedPools", this.#maxCachedPools);
    this.#attempts = 1 + retransmits;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    options.signal?.throwIfAborted();
    this.#home = new HomeRegistrar([...options.registrars], hunt, {
      onMessage: (message, link) => this.#onMessage(message, link),
      onLost: (link, reason) => this.emit("home-lost", { registrar: link.label, reason }),
    });
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The home registrar as "HOST:PORT" while connected. */
  get homeRegistrar(): string | undefined {
    return this.#home.current?.label;
  }

  /** Resolves once the pool user is closed. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * The pool's policy and pool elements: from the cache while fresh (RFC 5352 §3.3 C1, C4),
   * else from the registrar (C2), the caller waiting for the answer (C3). Concurrent calls for
   * one handle share one request. A negative answer empties the cache entry.
   *
   * @throws {AsapRequestError} "rejected" with the causes (0x9 Unknown Pool Handle) when the
   * registrar answers negatively, "timeout" when no registrar answers within
   * `requestTimeoutMs` on any attempt, "closed" on close.
   * @throws the abort reason of `options.signal`.
   */
  async resolve(
    poolHandle: string | Uint8Array,
    options: ResolveOptions = {},
  ): Promise<PoolResolution> {
    this.#throwIfClosed();
    options.signal?.throwIfAborted();
    const handle = toPoolHandle(poolHandle, "resolve pool handle");
    const entry = this.#entry(handle);
    const cached = entry.resolution;
    if (
      options.refresh !== true && cached !== undefined &&
      this.#now() - cached.resolvedAt < this.#staleCacheMs
    ) {
      return cached;
    }
    if (entry.inflight === undefined) {
      const inflight = this.#fetch(handle, entry, options.items);
      entry.inflight = inflight;
      void inflight.catch(() => {}).finally(() => {
        if (entry.inflight === inflight) entry.inflight = undefined;
      });
    }
    return await raceSignal(entry.inflight, options.signal);
  }

  /**
   * Picks one pool element of the pool by its policy at the pool user (RFC 5356; see
   * {@linkcode selectPoolElement}), resolving first when the cache holds no fresh answer. PEs
   * reported unreachable since the last resolution and `exclude`d ones are skipped; when that
   * leaves none although some were reported, the cache is known to be wrong and one fresh
   * resolution is made. Undefined when no pool element is left.
   *
   * @throws what {@linkcode PoolUser.resolve} throws.
   */
  async select(
    poolHandle: string | Uint8Array,
    options: SelectOptions = {},
  ): Promise<PoolElementParameter | undefined> {
    const resolveOptions = options.signal === undefined ? {} : { signal: options.signal };
    let resolution = await this.resolve(poolHandle, resolveOptions);
    const entry = this.#entry(resolution.poolHandle);
    const pick = () =>
      selectPoolElement(resolution.policy, resolution.poolElements, {
        exclude: (id) => entry.reported.has(id) || options.exclude?.has(id) === true,
        random: this.#random,
        cursor: entry.cursor,
      });
    const chosen = pick();
    if (chosen !== undefined || entry.reported.size === 0) return chosen;
    resolution = await this.resolve(poolHandle, { ...resolveOptions, refresh: true });
    return pick();
  }

  /**
   * Sends an Endpoint Unreachable for the pool element to the home registrar (RFC 5352 §3.5), at
   * most once per failure: a PE reported already is not reported again until a later
   * resolution lists it anew. Resolves true when sent, false when it had been reported.
   *
   * @throws {AsapRequestError} "timeout" when no registrar can be reached within
   * `requestTimeoutMs`, "closed" on close (the report is then not counted as made).
   * @throws the abort reason of `options.signal`.
   */
  async reportUnreachable(
    poolHandle: string | Uint8Array,
    poolElementId: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    this.#throwIfClosed();
    options.signal?.throwIfAborted();
    const handle = toPoolHandle(poolHandle, "report unreachable pool element");
    const entry = this.#entry(handle);
    if (entry.reported.has(poolElementId)) return false;
    entry.reported.add(poolElementId);
    try {
      await this.#home.send({
        type: AsapMessageType.endpointUnreachable,
        poolHandle: handle,
        poolElementId,
      }, { timeoutMs: this.#requestTimeoutMs, signal: options.signal });
      return true;
    } catch (error) {
      entry.reported.delete(poolElementId);
      throw error;
    }
  }

  /** Closes the connection to the registrar and fails pending requests; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  /** Same as {@linkcode PoolUser.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #throwIfClosed(): void {
    if (this.#closing !== undefined) {
      throw new AsapRequestError("Cannot use pool user: it is closed", "closed");
    }
  }

  /** The cache entry for `handle`, created when missing, most recently used last. */
  #entry(handle: Uint8Array): PoolEntry {
    const key = poolHandleKey(handle);
    let entry = this.#pools.get(key);
    if (entry !== undefined) {
      this.#pools.delete(key);
    } else {
      entry = {
        resolution: undefined,
        inflight: undefined,
        reported: new Set(),
        cursor: { next: 0 },
      };
      if (this.#pools.size >= this.#maxCachedPools) {
        const oldest = this.#pools.keys().next();
        if (oldest.done !== true) this.#pools.delete(oldest.value);
      }
    }
    this.#pools.set(key, entry);
    return entry;
  }

  async #fetch(
    handle: Uint8Array,
    entry: PoolEntry,
    items: number | undefined,
  ): Promise<PoolResolution> {
    const response = await this.#home.request(
      items === undefined
        ? { type: AsapMessageType.handleResolution, poolHandle: handle }
        : { type: AsapMessageType.handleResolution, poolHandle: handle, items },
      (message: AsapMessage): message is AsapHandleResolutionResponse =>
        message.type === AsapMessageType.handleResolutionResponse &&
        sameBytes(message.poolHandle, handle),
      { timeoutMs: this.#requestTimeoutMs, attempts: this.#attempts },
    );
    // The answer settles what was reported: PEs listed again may be reported again.
    entry.reported.clear();
    entry.cursor.next = 0;
    if (response.errorCauses !== undefined) {
      entry.resolution = undefined;
      const causeCodes = response.errorCauses.map((cause) => cause.code);
      throw new AsapRequestError(
        `Cannot resolve pool handle "${
          new TextDecoder().decode(handle)
        }": the registrar answered with cause(s) ${causeCodes.join(", ")}`,
        "rejected",
        causeCodes,
      );
    }
    const resolution: PoolResolution = {
      poolHandle: handle,
      policy: response.policy ?? { type: PolicyType.roundRobin },
      poolElements: response.poolElements,
      resolvedAt: this.#now(),
    };
    entry.resolution = resolution;
    return resolution;
  }

  #onMessage(message: AsapMessage, link: RegistrarLink): void {
    if (message.type !== AsapMessageType.error) return;
    const codes = message.errorCauses.map((cause) => cause.code).join(", ");
    this.emit("error", {
      error: new Error(`Registrar ${link.label} sent an ASAP Error with cause(s) ${codes}`),
    });
  }

  async #shutDown(): Promise<void> {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    await this.#home.close();
    this.#finished.resolve();
  }
}
