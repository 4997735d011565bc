/**
 * Static pool members: legacy servers that cannot speak ASAP, added by flag or through the
 * admin API. The embedded registrar owns them (RFC 5352 home registrar semantics without an
 * ASAP connection) and a health check vouches for each: a member whose check fails leaves the
 * handlespace, and comes back when the check passes again.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  type HealthCheck,
  type HealthCheckConnect,
  type HealthState,
  startHealthCheck,
} from "../lib/health/mod.ts";
import type { RegisterResult } from "../lib/handlespace/mod.ts";
import {
  type KnownSelectionPolicy,
  ParameterType,
  parseIpAddress,
  type PoolElementParameter,
  REGISTRATION_LIFE_INFINITE,
  TransportUse,
} from "../lib/wire/mod.ts";

/** How a static member's health is checked; without `send`/`expect` a TCP connect suffices. */
export interface StaticMemberCheck {
  readonly send?: Uint8Array;
  readonly expect?: Uint8Array;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly fall?: number;
  readonly rise?: number;
}

/** One static member to add. */
export interface StaticMemberSpec {
  /** Pool handle. */
  readonly pool: string;
  /** IP address of the legacy server (the wire carries addresses, not names). */
  readonly hostname: string;
  readonly port: number;
  readonly policy: KnownSelectionPolicy;
  /** PE identifier; a random non-zero one unused in the pool when absent. */
  readonly peId?: number;
  readonly check?: StaticMemberCheck;
}

/** What the operator sees of a static member. */
export interface StaticMemberState {
  readonly pool: string;
  readonly peId: number;
  readonly hostname: string;
  readonly port: number;
  readonly policy: KnownSelectionPolicy;
  /** The health check's verdict. */
  readonly health: HealthState;
  /** Whether the member is in the handlespace now (its check has not failed). */
  readonly registered: boolean;
  /** Wall-clock milliseconds of its last change: added, new policy values, up or down. */
  readonly changedAt: number;
}

/** The part of the registrar that static members use. */
export interface LocalRegistry {
  registerLocal(handle: string, element: PoolElementParameter): RegisterResult;
  deregisterLocal(handle: string, peId: number): boolean;
}

/** Options of {@linkcode StaticMembers}. */
export interface StaticMembersOptions {
  readonly registrar: LocalRegistry;
  /** @default {getLogger(["poolgate", "members"])} */
  readonly logger?: Logger;
  /** Uniform numbers in [0, 1) for PE identifiers. @default {Math.random} */
  readonly random?: () => number;
  /** Opens health-check connections (tests). @default {Deno.connect} */
  readonly connect?: HealthCheckConnect;
  /** Wall clock in milliseconds, for `changedAt`. @default {Date.now} */
  readonly now?: () => number;
}

interface Member {
  spec: StaticMemberSpec;
  readonly peId: number;
  readonly check: HealthCheck;
  registered: boolean;
  changedAt: number;
}

/** The outcome of {@linkcode StaticMembers.add}: the member's PE id, or the registrar's refusal. */
export type AddMemberResult =
  | { readonly ok: true; readonly peId: number }
  | { readonly ok: false; readonly cause: number };

function memberKey(pool: string, peId: number): string {
  return `${peId}\u0000${pool}`;
}

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * A PE identifier that depends only on the pool and the server's address (FNV-1a over
 * `pool`, NUL, `hostname:port`; never 0), so that a member given by flag keeps its identifier
 * across restarts and stored changes to it find it again.
 */
export function stableMemberId(pool: string, hostname: string, port: number): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of new TextEncoder().encode(`${pool}\u0000${hostname}:${port}`)) {
    hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
  }
  return hash === 0 ? 1 : hash;
}

/** The static members of one Poolgate instance, each with its health check. */
export class StaticMembers implements AsyncDisposable {
  readonly #registrar: LocalRegistry;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #connect: HealthCheckConnect | undefined;
  readonly #now: () => number;
  readonly #members = new Map<string, Member>();

  /** Creates an empty set of static members registering with `options.registrar`. */
  constructor(options: StaticMembersOptions) {
    this.#registrar = options.registrar;
    this.#logger = options.logger ?? getLogger(["poolgate", "members"]);
    this.#random = options.random ?? Math.random;
    this.#connect = options.connect;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Adds a member: it is registered at once (so a refusal such as an inconsistent policy is
   * answered now) and its health check starts; the first failed check takes it out again.
   *
   * @throws {RangeError} when the address is not an IP address or the PE id is taken.
   */
  add(spec: StaticMemberSpec): AddMemberResult {
    if (parseIpAddress(spec.hostname) === undefined) {
      throw new RangeError(
        `Cannot add member ${spec.hostname}:${spec.port} to pool '${spec.pool}' as the address must be an IP address`,
      );
    }
    const peId = spec.peId ?? this.#freeIdentifier(spec.pool);
    if (this.#members.has(memberKey(spec.pool, peId))) {
      throw new RangeError(
        `Cannot add member ${peId} to pool '${spec.pool}' as that PE identifier is taken`,
      );
    }
    const result = this.#registrar.registerLocal(spec.pool, toParameter(spec, peId));
    if (!result.ok) return { ok: false, cause: result.cause };
    const check = startHealthCheck({
      hostname: spec.hostname,
      port: spec.port,
      ...spec.check,
      ...(this.#connect ? { connect: this.#connect } : {}),
    });
    const member: Member = { spec, peId, check, registered: true, changedAt: this.#now() };
    this.#members.set(memberKey(spec.pool, peId), member);
    check.addEventListener("down", (event) => this.#onDown(member, event.reason));
    check.addEventListener("up", () => this.#onUp(member));
    this.#logger.info("Static member {peId} {address} added to pool {pool}", {
      peId,
      address: `${spec.hostname}:${spec.port}`,
      pool: spec.pool,
    });
    return { ok: true, peId };
  }

  /** Changes a member's policy values; refused like a re-registration would be. */
  update(pool: string, peId: number, policy: KnownSelectionPolicy): RegisterResult | undefined {
    const member = this.#members.get(memberKey(pool, peId));
    if (member === undefined) return undefined;
    const spec = { ...member.spec, policy };
    if (member.registered) {
      const result = this.#registrar.registerLocal(pool, toParameter(spec, peId));
      if (!result.ok) return result;
    }
    member.spec = spec;
    member.changedAt = this.#now();
    return { ok: true, created: false };
  }

  /**
   * Removes a member and stops its check; false when there is none. It leaves the handlespace
   * before this returns its promise, so the same PE id may be added again at once.
   */
  async remove(pool: string, peId: number): Promise<boolean> {
    const member = this.#members.get(memberKey(pool, peId));
    if (member === undefined) return false;
    this.#members.delete(memberKey(pool, peId));
    if (member.registered) this.#registrar.deregisterLocal(pool, peId);
    await member.check.close();
    return true;
  }

  /** One member with its health; undefined when the pool has no such static member. */
  get(pool: string, peId: number): StaticMemberState | undefined {
    const member = this.#members.get(memberKey(pool, peId));
    return member === undefined ? undefined : stateOf(member);
  }

  /** Every member with its health. */
  list(): StaticMemberState[] {
    return [...this.#members.values()].map(stateOf);
  }

  /** Stops every check and takes every member out of the handlespace; idempotent. */
  async close(): Promise<void> {
    const members = [...this.#members.values()];
    this.#members.clear();
    await Promise.all(members.map((m) => m.check.close()));
    for (const m of members) {
      if (m.registered) this.#registrar.deregisterLocal(m.spec.pool, m.peId);
    }
  }

  /** Same as {@linkcode StaticMembers.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #onDown(member: Member, reason: string): void {
    if (!member.registered || !this.#members.has(memberKey(member.spec.pool, member.peId))) return;
    member.registered = false;
    member.changedAt = this.#now();
    this.#registrar.deregisterLocal(member.spec.pool, member.peId);
    this.#logger.warn("Static member {peId} of pool {pool} is down ({reason}): withdrawn", {
      peId: member.peId,
      pool: member.spec.pool,
      reason,
      peer: `${member.spec.hostname}:${member.spec.port}`,
    });
  }

  #onUp(member: Member): void {
    if (member.registered || !this.#members.has(memberKey(member.spec.pool, member.peId))) return;
    const result = this.#registrar.registerLocal(
      member.spec.pool,
      toParameter(member.spec, member.peId),
    );
    member.registered = result.ok;
    member.changedAt = this.#now();
    this.#logger.info("Static member {peId} of pool {pool} is up: {outcome}", {
      peId: member.peId,
      pool: member.spec.pool,
      outcome: result.ok ? "registered" : `refused with cause ${result.cause}`,
      peer: `${member.spec.hostname}:${member.spec.port}`,
    });
  }

  #freeIdentifier(pool: string): number {
    for (;;) {
      const id = Math.floor(this.#random() * 0xffff_ffff) + 1;
      if (id <= 0xffff_ffff && !this.#members.has(memberKey(pool, id))) return id;
    }
  }
}

function stateOf(member: Member): StaticMemberState {
  return {
    pool: member.spec.pool,
    peId: member.peId,
    hostname: member.spec.hostname,
    port: member.spec.port,
    policy: member.spec.policy,
    health: member.check.state,
    registered: member.registered,
    changedAt: member.changedAt,
  };
}

function toParameter(spec: StaticMemberSpec, peId: number): PoolElementParameter {
  return {
    identifier: peId,
    homeRegistrarId: 0,
    registrationLife: REGISTRATION_LIFE_INFINITE,
    userTransport: {
      type: ParameterType.tcpTransport,
      port: spec.port,
      transportUse: TransportUse.dataOnly,
      addresses: [spec.hostname],
    },
    policy: spec.policy,
  };
}
