/**
 * A registrar (ENRP server, RFC 5351 §3) serving pool elements and pool users over ASAP on
 * TCP, with the local API the in-process proxy uses, in the `Deno.serve` lifecycle shape.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  Handlespace,
  type PoolElementView,
  type RegisterResult,
  type RemovalReason,
} from "../handlespace/mod.ts";
import { formatAddress, type MessageServer, startMessageServer } from "../transport/mod.ts";
import { ErrorCauseCode, type PoolElementParameter } from "../wire/mod.ts";
import { describeHandle, formatIdentifier, handleKey, sameTransport } from "./_parameters.ts";
import { AsapService } from "./_asap_service.ts";
import type {
  DeregisterOutcome,
  OwnedPoolElement,
  PeerChangeReason,
  PoolElementOwner,
  RegistrarCore,
  RegistrarPeerCore,
} from "./_registrar_core.ts";
import { EnrpPeering } from "./enrp_peering.ts";
import {
  type PoolElementChangeDetail,
  type PoolElementChangeReason,
  RegistrarEventTarget,
} from "./registrar_events.ts";
import {
  DEFAULT_REGISTRAR_LOG_CATEGORY,
  type RegistrarOptions,
  type RegistrarSettings,
  resolveRegistrarOptions,
} from "./registrar_options.ts";

/** The longest delay `setTimeout` takes (2^31 - 1 ms); later expiries re-arm on the way. */
const MAX_TIMER_DELAY_MS = 0x7fffffff;

const NON_UNIQUE: RegisterResult = Object.freeze({
  ok: false,
  cause: ErrorCauseCode.nonUniquePoolElementIdentifier,
});

const ENCODER = new TextEncoder();
/** Reasons that change many PEs at once (one connection's, one peer's): logged at debug. */
const BULK_REASONS: ReadonlySet<PoolElementChangeReason> = new Set([
  "keep-alive-timeout",
  "connection-closed",
  "shutdown",
  "peer",
  "takeover",
  "audit",
]);

/** A pool handle as bytes: strings are UTF-8 encoded. */
function handleBytes(handle: string | Uint8Array): Uint8Array {
  return typeof handle === "string" ? ENCODER.encode(handle) : handle;
}

/** The handlespace's name for why a PE left. */
function removalReason(reason: PoolElementChangeReason): RemovalReason {
  switch (reason) {
    case "expiry":
      return "expiry";
    case "keep-alive-timeout":
    case "connection-closed":
    case "unreachable":
      return "unreachable";
    case "audit":
      return "home-removed";
    default:
      return "deregistration";
  }
}

/** The PEs registered through the local API: no connection, liveness from health checks. */
class LocalOwner implements PoolElementOwner {
  readonly owned = new Set<OwnedPoolElement>();
  readonly open = true;
  adopted(): void {}
  expired(): void {}
  probe(): void {}
}

/**
 * A running registrar: an ASAP server on TCP (RFC 5352 §3: registration, deregistration,
 * handle resolution, keep-alive supervision, Endpoint Unreachable) over a handlespace that the
 * in-process proxy may share. See {@linkcode startRegistrar}.
 */
export class Registrar extends RegistrarEventTarget implements AsyncDisposable {
  readonly #settings: RegistrarSettings;
  readonly #handlespace: Handlespace;
  readonly #logger: Logger;
  readonly #isRegistrarGone: (serverId: number) => boolean;
  readonly #onOwnChange: ((change: PoolElementChangeDetail) => void) | undefined;
  /** Owned PEs by handle key, then PE identifier. */
  readonly #owners = new Map<string, Map<number, OwnedPoolElement>>();
  /** Peer-owned PEs whose Endpoint Unreachable reports here reached the threshold, by handle key. */
  readonly #unselectable = new Map<string, Set<number>>();
  readonly #local = new LocalOwner();
  readonly #server: MessageServer;
  readonly #enrp: EnrpPeering | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.shutdown();
  readonly #finished = Promise.withResolvers<void>();
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the expiry timer fires; Infinity when none is set. */
  #expiryAt = Infinity;
  #stopping = false;
  #shutdown: Promise<void> | undefined;

  /** Binds and starts serving; use {@linkcode startRegistrar}. */
  constructor(options: RegistrarOptions = {}) {
    super();
    const settings = resolveRegistrarOptions(options);
    options.signal?.throwIfAborted();
    this.#settings = settings;
    this.#logger = options.logger ?? getLogger([...DEFAULT_REGISTRAR_LOG_CATEGORY]);
    this.#handlespace = options.handlespace ?? new Handlespace(settings.handlespaceOptions);
    this.#isRegistrarGone = options.isRegistrarGone ??
      ((serverId) => this.#enrp?.isRegistrarGone(serverId) ?? false);
    const onOwnChange = options.onOwnPoolElementChange;
    this.#onOwnChange = options.enrp === undefined ? onOwnChange : (change) => {
      this.#enrp?.announce(change);
      onOwnChange?.(change);
    };
    const core: RegistrarCore = {
      settings,
      handlespace: this.#handlespace,
      logger: this.#logger,
      register: (handle, element, owner, reason) => this.#register(handle, element, owner, reason),
      deregister: (handle, peId, owner, reason) => this.#deregister(handle, peId, owner, reason),
      releaseAll: (owner, reason) => this.#releaseAll(owner, reason),
      reportUnreachable: (handle, peId) => this.#reportUnreachable(handle, peId),
      excluded: (handle) => this.#unselectableIn(handle),
    };
    const asap = new AsapService(core);
    this.#server = startMessageServer({
      ...settings.messageLimits,
      hostname: settings.hostname,
      port: settings.port,
      role: "ASAP",
      maxConnections: settings.maxConnections,
      logger: this.#logger.getChild("transport"),
      onConnection: (connection) => asap.serve(connection),
    });
    this.#logger.info("Registrar {serverId} listening on {address}", {
      serverId: formatIdentifier(settings.serverId),
      address: formatAddress(this.#server.addr),
    });
    if (options.enrp !== undefined) {
      const peerCore: RegistrarPeerCore = {
        settings,
        handlespace: this.#handlespace,
        logger: this.#logger,
        applyPeerElement: (handle, element, reason) => this.#applyPeer(handle, element, reason),
        removePeerElement: (handle, peId, reason) => this.#removePeer(handle, peId, reason),
        rehome: (from, to) => this.#rehome(from, to),
        vouchesFor: (handle, peId) => this.#owned(handle, peId)?.owner.open === true,
      };
      try {
        this.#enrp = new EnrpPeering(peerCore, options.enrp);
      } catch (error) {
        void this.#server.shutdown();
        throw error;
      }
    }
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    // A listener that fails for good stops the registrar as shutdown() would.
    void this.#server.finished.then(() => this.shutdown());
    if (this.#enrp !== undefined) void this.#enrp.finished.then(() => this.shutdown());
  }

  /** The ASAP server's address; the port is real at once, also with port 0. */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** This registrar's Server Identifier. */
  get serverId(): number {
    return this.#settings.serverId;
  }

  /** The handlespace served (shared with the proxy when one was given). */
  get handlespace(): Handlespace {
    return this.#handlespace;
  }

  /**
   * ENRP peering (RFC 5353) when {@linkcode RegistrarOptions.enrp} was given: its address,
   * peers, readiness and events.
   */
  get enrp(): EnrpPeering | undefined {
    return this.#enrp;
  }

  /** ASAP connections open now. */
  get connectionCount(): number {
    return this.#server.connectionCount;
  }

  /** Resolves once the registrar has stopped and every connection is closed. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Registers a static member owned by this registrar without an ASAP connection (its liveness
   * comes from the caller's health checks, not keep-alives), or updates it. Refusals are
   * returned as the error cause a Registration Response would carry.
   */
  registerLocal(handle: string | Uint8Array, element: PoolElementParameter): RegisterResult {
    const bytes = handleBytes(handle);
    return this.#register(bytes, element, this.#local, "local");
  }

  /** Removes a member added with {@linkcode Registrar.registerLocal}; false when there is none. */
  deregisterLocal(handle: string | Uint8Array, peId: number): boolean {
    return this.#deregister(handleBytes(handle), peId, this.#local, "local") === "removed";
  }

  /**
   * Selects up to `count` distinct PEs of the pool by its member selection policy (RFC 5356),
   * skipping `exclude`; an unknown pool gives an empty array. The views are live: read them
   * before the PE may leave.
   */
  select(
    handle: string | Uint8Array,
    count: number,
    exclude?: ReadonlySet<number> | readonly number[],
  ): PoolElementView[] {
    const now = this.#settings.now();
    const bytes = handleBytes(handle);
    const unselectable = this.#unselectableIn(bytes);
    if (unselectable !== undefined) exclude = new Set([...unselectable, ...(exclude ?? [])]);
    return exclude === undefined
      ? this.#handlespace.select(bytes, count, now)
      : this.#handlespace.select(bytes, count, now, { exclude });
  }

  /**
   * Reports a PE the caller could not reach, as an ASAP Endpoint Unreachable would: the
   * registrar probes it with a Keep-Alive when it has a connection, and removes it once the
   * reports reach `maxBadPeReports` (RFC 5352 §3.5).
   */
  reportUnreachable(handle: string | Uint8Array, peId: number): void {
    this.#reportUnreachable(handleBytes(handle), peId);
  }

  /**
   * Stops ENRP peering first (peers take this registrar's PEs over), then stops accepting,
   * closes every ASAP connection (their PEs leave the handlespace with reason "shutdown", which
   * is not announced to peers; local members stay) and stops the timers; idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  /** Same as {@linkcode Registrar.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    await this.#enrp?.shutdown();
    await this.#server.shutdown();
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#logger.info("Registrar {serverId} stopped", {
      serverId: formatIdentifier(this.#settings.serverId),
    });
    this.#finished.resolve();
  }

  #owned(handle: Uint8Array, peId: number): OwnedPoolElement | undefined {
    return this.#owners.get(handleKey(handle))?.get(peId);
  }

  #adopt(view: PoolElementView, owner: PoolElementOwner): void {
    const key = handleKey(view.handle);
    let pool = this.#owners.get(key);
    if (pool === undefined) {
      pool = new Map();
      this.#owners.set(key, pool);
    }
    let owned = pool.get(view.identifier);
    if (owned === undefined) {
      owned = { handle: view.handle, peId: view.identifier, owner };
      pool.set(owned.peId, owned);
    } else if (owned.owner !== owner) {
      owned.owner.owned.delete(owned);
      owned.owner = owner;
    } else {
      return;
    }
    owner.owned.add(owned);
    owner.adopted(owned);
  }

  #forget(owned: OwnedPoolElement): void {
    owned.owner.owned.delete(owned);
    const key = handleKey(owned.handle);
    const pool = this.#owners.get(key);
    if (pool?.get(owned.peId) === owned) {
      pool.delete(owned.peId);
      if (pool.size === 0) this.#owners.delete(key);
    }
  }

  #register(
    handle: Uint8Array,
    element: PoolElementParameter,
    owner: PoolElementOwner,
    reason: PoolElementChangeReason,
  ): RegisterResult {
    const { serverId, now } = this.#settings;
    const existing = this.#handlespace.find(handle, element.identifier);
    if (existing !== undefined) {
      const owned = this.#owned(handle, element.identifier);
      if (owned?.owner !== owner && !this.#mayTakeOver(existing, owned, element)) {
        return NON_UNIQUE;
      }
    }
    const result = this.#handlespace.register(handle, element, serverId, now());
    if (!result.ok) return result;
    const view = existing ?? this.#handlespace.find(handle, element.identifier)!;
    this.#adopt(view, owner);
    this.#registered(view, result.created, reason, true);
    return result;
  }

  /** Arms the expiry timer and reports a PE just registered or updated. */
  #registered(
    view: PoolElementView,
    created: boolean,
    reason: PoolElementChangeReason,
    announce: boolean,
  ): void {
    this.#armExpiry();
    this.#changed(created ? "pe-added" : "pe-updated", {
      handle: view.handle,
      peId: view.identifier,
      reason,
      element: view.toParameter(),
      own: view.homeRegistrarId === this.#settings.serverId,
    }, announce);
  }

  // DECISIONS.md: a re-registration of a known PE ID from another owner moves the PE when its
  // user transport is the stored one, or when the owning connection or registrar is gone.
  #mayTakeOver(
    existing: PoolElementView,
    owned: OwnedPoolElement | undefined,
    element: PoolElementParameter,
  ): boolean {
    const home = existing.homeRegistrarId;
    const ownerGone = home === this.#settings.serverId
      ? owned === undefined || !owned.owner.open
      : this.#isRegistrarGone(home);
    if (ownerGone) return true;
    return sameTransport(existing.userTransport, element.userTransport);
  }

  #deregister(
    handle: Uint8Array,
    peId: number,
    owner: PoolElementOwner,
    reason: PoolElementChangeReason,
  ): DeregisterOutcome {
    const view = this.#handlespace.find(handle, peId);
    if (view === undefined) return "unknown";
    const owned = this.#owned(handle, peId);
    if (owned?.owner !== owner) return "not-owner";
    this.#remove(view, reason, owned);
    return "removed";
  }

  #releaseAll(owner: PoolElementOwner, reason: PoolElementChangeReason): void {
    if (owner.owned.size === 0) return;
    const why = reason === "connection-closed" && this.#stopping ? "shutdown" : reason;
    for (const owned of [...owner.owned]) {
      const view = this.#handlespace.find(owned.handle, owned.peId);
      if (view === undefined) this.#forget(owned);
      else this.#remove(view, why, owned);
    }
  }

  #remove(
    view: PoolElementView,
    reason: PoolElementChangeReason,
    owned: OwnedPoolElement | undefined,
  ): void {
    const element = view.toParameter();
    const handle = view.handle;
    const own = element.homeRegistrarId === this.#settings.serverId;
    this.#handlespace.deregister(handle, element.identifier, removalReason(reason));
    if (owned !== undefined) this.#forget(owned);
    this.#changed("pe-removed", { handle, peId: element.identifier, reason, element, own });
  }

  #reportUnreachable(handle: Uint8Array, peId: number): void {
    const view = this.#handlespace.find(handle, peId);
    if (view === undefined) return;
    const reports = this.#handlespace.reportUnreachable(handle, peId);
    // A PE owned elsewhere is its home registrar's to remove: ENRP has no message that carries
    // the report, so this registrar only stops selecting it at the threshold.
    if (view.homeRegistrarId !== this.#settings.serverId) {
      if (reports >= this.#settings.maxBadPeReports) this.#markUnselectable(handle, peId);
      return;
    }
    const owned = this.#owned(handle, peId);
    if (reports >= this.#settings.maxBadPeReports) {
      this.#logger.info(
        "Removing PE {peId} of pool {pool}: {reports} Endpoint Unreachable reports",
        () => ({ peId: formatIdentifier(peId), pool: describeHandle(handle), reports }),
      );
      this.#remove(view, "unreachable", owned);
    } else if (owned !== undefined) {
      owned.owner.probe(owned);
    }
  }

  /** The pool's PEs that selections skip (usually none: then no key is built). */
  #unselectableIn(handle: Uint8Array): ReadonlySet<number> | undefined {
    return this.#unselectable.size === 0 ? undefined : this.#unselectable.get(handleKey(handle));
  }

  #markUnselectable(handle: Uint8Array, peId: number): void {
    const key = handleKey(handle);
    let pool = this.#unselectable.get(key);
    if (pool === undefined) {
      pool = new Set();
      this.#unselectable.set(key, pool);
    }
    if (pool.has(peId)) return;
    pool.add(peId);
    this.#logger.info(
      "No longer selecting PE {peId} of pool {pool}: {reports} Endpoint Unreachable reports, its home decides on removal",
      () => ({
        peId: formatIdentifier(peId),
        pool: describeHandle(handle),
        reports: this.#settings.maxBadPeReports,
      }),
    );
  }

  #applyPeer(
    handle: Uint8Array,
    element: PoolElementParameter,
    reason: PeerChangeReason,
  ): RegisterResult {
    const home = element.homeRegistrarId;
    const result = this.#handlespace.register(handle, element, home, this.#settings.now());
    if (!result.ok) return result;
    const view = this.#handlespace.find(handle, element.identifier)!;
    const owned = this.#owned(view.handle, view.identifier);
    // The PE registered at its new home since: whoever vouched for it here no longer does.
    if (owned !== undefined && home !== this.#settings.serverId) this.#forget(owned);
    this.#registered(view, result.created, reason, false);
    return result;
  }

  #removePeer(handle: Uint8Array, peId: number, reason: PeerChangeReason): boolean {
    const view = this.#handlespace.find(handle, peId);
    if (view === undefined) return false;
    const element = view.toParameter();
    const stored = view.handle;
    this.#handlespace.deregister(handle, peId, removalReason(reason));
    const owned = this.#owned(stored, peId);
    if (owned !== undefined) this.#forget(owned);
    this.#changed("pe-removed", {
      handle: stored,
      peId,
      reason,
      element,
      own: element.homeRegistrarId === this.#settings.serverId,
    }, false);
    return true;
  }

  #rehome(from: number, to: number): number {
    const moved = [...this.#handlespace.ownedBy(from)];
    const count = this.#handlespace.rehome(from, to);
    const own = to === this.#settings.serverId;
    for (const view of moved) {
      this.#changed("pe-updated", {
        handle: view.handle,
        peId: view.identifier,
        reason: "takeover",
        element: view.toParameter(),
        own,
      }, false);
    }
    return count;
  }

  /** Keeps one timer on the handlespace's earliest registration-life expiry. */
  #armExpiry(): void {
    if (this.#stopping) return;
    const next = this.#handlespace.nextExpiry() ?? Infinity;
    if (next >= this.#expiryAt) return;
    clearTimeout(this.#expiryTimer);
    this.#expiryAt = next;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(next - this.#settings.now())));
    this.#expiryTimer = setTimeout(this.#onExpiryTimer, delay);
  }

  readonly #onExpiryTimer = (): void => {
    this.#expiryTimer = undefined;
    this.#expiryAt = Infinity;
    const serverId = this.#settings.serverId;
    for (const { handle, element } of this.#handlespace.expire(this.#settings.now())) {
      const owned = this.#owned(handle, element.identifier);
      if (owned !== undefined) {
        this.#forget(owned);
        owned.owner.expired(owned);
      }
      this.#changed("pe-removed", {
        handle,
        peId: element.identifier,
        reason: "expiry",
        element,
        own: element.homeRegistrarId === serverId,
      });
    }
    this.#armExpiry();
  };

  /** Logs and dispatches a change; `announce` false keeps it from ENRP (it came from there). */
  #changed(
    type: "pe-added" | "pe-updated" | "pe-removed",
    detail: PoolElementChangeDetail,
    announce = true,
  ): void {
    if (this.#unselectable.size > 0) {
      // A re-registration restarts the count (RFC 5352 §3.5), a removal ends it.
      const key = handleKey(detail.handle);
      const pool = this.#unselectable.get(key);
      if (pool?.delete(detail.peId) && pool.size === 0) this.#unselectable.delete(key);
    }
    const properties = () => ({
      peId: formatIdentifier(detail.peId),
      pool: describeHandle(detail.handle),
      reason: detail.reason,
    });
    // Leaving is what operators look into; joins come by the thousand, and so do the PEs of one
    // connection, which its owner logs once.
    if (type === "pe-removed" && !BULK_REASONS.has(detail.reason)) {
      this.#logger.info("PE {peId} left pool {pool} ({reason})", properties);
    } else if (type === "pe-removed") {
      this.#logger.debug("PE {peId} left pool {pool} ({reason})", properties);
    } else if (type === "pe-added") {
      this.#logger.debug("PE {peId} joined pool {pool} ({reason})", properties);
    } else {
      this.#logger.debug("PE {peId} of pool {pool} updated ({reason})", properties);
    }
    if (detail.own && announce) this.#onOwnChange?.(detail);
    this.emit(type, detail);
  }
}

/**
 * Starts a registrar: binds the ASAP port (synchronously, so `addr.port` is real at once) and
 * serves PEs and PUs as RFC 5352 §3 describes.
 *
 * @example
 * ```ts
 * await using registrar = startRegistrar({ port: 0, keepAliveIntervalMs: 500 });
 * registrar.addEventListener("pe-removed", (event) => console.log(event.detail.reason));
 * ```
 * @throws {RangeError} when an option is out of range.
 * @throws {ListenError} when the ASAP or the ENRP address cannot be bound (role "ASAP" or
 *   "ENRP"; `cause` is Deno's error, such as `Deno.errors.AddrInUse`).
 */
export function startRegistrar(options: RegistrarOptions = {}): Registrar {
  return new Registrar(options);
}
