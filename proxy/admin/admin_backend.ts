/**
 * What the admin API needs from the running Poolgate, as one interface: the registrar's
 * handlespace, the session proxy, the config store and the counters. The serve wiring adapts the
 * real components to it; tests use an in-memory one. Refusals are typed errors that the app
 * maps to status codes: {@linkcode AdminNotFoundError} → 404, {@linkcode AdminConflictError}
 * → 409 (with the RFC 5354 error cause when the registrar refused).
 *
 * @module
 */
import { errorCauseName } from "../../lib/wire/code_names.ts";
import type { ListenerRecord, PoolSettingsRecord } from "../config_store.ts";
import type {
  AddMemberRequest,
  FailoverView,
  ListenerView,
  MemberView,
  PatchMemberRequest,
  PoolDetail,
  PoolSettingsView,
  PoolSummary,
  ReadinessCheck,
  RegistrarStatus,
  SessionView,
} from "./admin_schemas.ts";
import type { MetricsSnapshot } from "./metrics.ts";

/**
 * How many failovers {@linkcode AdminBackend.recentFailovers} keeps by default: the newest 100,
 * enough for the dashboard to show what happened lately, never a growing history.
 */
export const DEFAULT_RECENT_FAILOVERS = 100;

/** A static member to add: the request with the health check filled in. */
export type NewStaticMember = AddMemberRequest & Required<Pick<AddMemberRequest, "check">>;

/**
 * A change to one pool element: new policy values (for a static member already checked against
 * its policy by the app), and `drain` and `maintenance` set or cleared; only the fields given
 * change.
 */
export type MemberChange = PatchMemberRequest;

/** A change to a pool's settings: only the fields given change. */
export type PoolSettingsChange = Omit<PoolSettingsRecord, "pool">;

/**
 * The operations of the admin API. Every method may throw {@linkcode AdminNotFoundError} or
 * {@linkcode AdminConflictError}; anything else becomes a 500 whose detail is logged, not sent.
 * Pool handles are the decoded text; a pool exists while it has at least one pool element.
 */
export interface AdminBackend {
  /** Every pool with its policy, member count and sessions, by handle. */
  listPools(): Promise<PoolSummary[]>;
  /** One pool with its members (by PE id) and effective settings; not found when unknown. */
  getPool(handle: string): Promise<PoolDetail>;
  /**
   * Adds a static member, creating the pool when it is new; picks a free PE id when none is
   * given. Conflict with the registrar's cause when it refuses: 0x4 (PE id taken), 0x5 (another
   * policy than the pool's), 0x6 (no room).
   */
  addMember(handle: string, member: NewStaticMember): Promise<MemberView>;
  /**
   * Changes a member; not found for an unknown pool or member. Conflict 0xa when a policy value
   * of a PE that registered over ASAP is changed (its registration owns them).
   */
  patchMember(handle: string, peId: number, change: MemberChange): Promise<MemberView>;
  /** Removes a static member; conflict 0xa for a PE that registered over ASAP. */
  deleteMember(handle: string, peId: number): Promise<void>;
  /**
   * Changes a pool's settings and returns the effective ones; conflict 0x5 when `policy` is
   * not the policy of the pool's members.
   */
  patchPoolSettings(handle: string, change: PoolSettingsChange): Promise<PoolSettingsView>;
  /** The sessions running now, oldest first. */
  listSessions(): Promise<SessionView[]>;
  /**
   * Moves a session off its pool element as if that had failed; conflict when it has none
   * (connecting or between two).
   */
  failoverSession(id: number): Promise<void>;
  /** Closes a session at once. */
  closeSession(id: number): Promise<void>;
  /**
   * The most recent failovers, newest first: a bounded ring that keeps the last
   * {@linkcode DEFAULT_RECENT_FAILOVERS} unless configured otherwise, fed by the proxy's
   * "failover" events.
   */
  recentFailovers(): Promise<FailoverView[]>;
  /** Every front listener, by id. */
  listListeners(): Promise<ListenerView[]>;
  /** Binds and stores a listener; conflict when the id exists or the address is taken. */
  addListener(listener: ListenerRecord): Promise<ListenerView>;
  /** Closes and forgets a listener; its sessions go on. */
  removeListener(id: string): Promise<void>;
  /** The registrar's identifier, its peers and the handlespace checksum. */
  registrarStatus(): Promise<RegistrarStatus>;
  /** The counters and gauges GET /metrics shows. */
  metrics(): Promise<MetricsSnapshot>;
  /** Every readiness check, whether ready or not. */
  readiness(): Promise<ReadinessCheck[]>;
}

/** What an {@linkcode AdminNotFoundError} is about. */
export type AdminResource = "pool" | "member" | "session" | "listener";

/** The pool, member, session or listener a request names does not exist (404). */
export class AdminNotFoundError extends Error {
  /** What kind of thing was not found. */
  readonly resource: AdminResource;

  /** `message` is sent to the client as the problem's detail: say what is missing. */
  constructor(resource: AdminResource, message: string) {
    super(message);
    this.name = "AdminNotFoundError";
    this.resource = resource;
  }
}

/** Options of {@linkcode AdminConflictError}. */
export interface AdminConflictErrorOptions {
  /** The RFC 5354 §3.12 error cause the registrar refused the change with. */
  readonly causeCode?: number;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * A change the current state refuses (409): the registrar's refusal carries its RFC 5354 error
 * cause (0x5 Inconsistent Pooling Policy, …), other conflicts (a listener id taken) none.
 */
export class AdminConflictError extends Error {
  /** RFC 5354 error cause code, when the registrar refused. */
  readonly causeCode: number | undefined;
  /** The cause's RFC name ("Inconsistent Pooling Policy"), when there is a code. */
  readonly causeName: string | undefined;

  /** `message` is sent to the client as the problem's detail. */
  constructor(message: string, options: AdminConflictErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AdminConflictError";
    this.causeCode = options.causeCode;
    this.causeName = options.causeCode === undefined
      ? undefined
      : errorCauseName(options.causeCode);
  }
}
