/**
 * The admin API's request and response bodies as zod schemas. Requests reuse the config store's
 * record schemas (proxy/config_store.ts), so a member or listener the API accepts is one the
 * store accepts; responses are what {@linkcode AdminBackend} returns. The OpenAPI document
 * (openapi.ts) is generated from these same schemas.
 *
 * @module
 */
import { z } from "zod";
import {
  healthCheckSchema,
  listenerSchema,
  memberPolicySchema,
  poolHandleSchema,
  poolSettingsSchema,
  staticMemberSchema,
} from "../config_store.ts";

function changesSomething(body: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(body).length > 0;
}

const NOTHING_TO_CHANGE = "must change at least one field";

// ─── Requests ──────────────────────────────────────────────────────────────────────────────

/**
 * POST /v1/pools/{handle}/members: a static member (a legacy server, DATA ONLY). Without
 * `peId` the backend picks a free random one; without `check` the member is checked by TCP
 * connect.
 */
export const addMemberRequestSchema = z.strictObject({
  peId: staticMemberSchema.shape.peId.exactOptional(),
  hostname: staticMemberSchema.shape.hostname,
  port: staticMemberSchema.shape.port,
  policy: memberPolicySchema,
  check: healthCheckSchema.exactOptional(),
  drain: z.boolean().exactOptional(),
  maintenance: z.boolean().exactOptional(),
});
/** The body of POST /v1/pools/{handle}/members. */
export type AddMemberRequest = z.infer<typeof addMemberRequestSchema>;

/**
 * PATCH /v1/pools/{handle}/members/{peId}: new policy values (only those the member's policy
 * reads), or drain (no new sessions, existing ones stay) or maintenance (out of selection).
 */
export const patchMemberRequestSchema = z.strictObject({
  weight: memberPolicySchema.shape.weight,
  priority: memberPolicySchema.shape.priority,
  load: memberPolicySchema.shape.load,
  loadDegradation: memberPolicySchema.shape.loadDegradation,
  drain: z.boolean().exactOptional(),
  maintenance: z.boolean().exactOptional(),
}).refine(changesSomething, NOTHING_TO_CHANGE);
/** The body of PATCH /v1/pools/{handle}/members/{peId}. */
export type PatchMemberRequest = z.infer<typeof patchMemberRequestSchema>;

/** PATCH /v1/pools/{handle}: the pool settings to change; the others keep their values. */
export const patchPoolRequestSchema = poolSettingsSchema.omit({ pool: true })
  .refine(changesSomething, NOTHING_TO_CHANGE);
/** The body of PATCH /v1/pools/{handle}. */
export type PatchPoolRequest = z.infer<typeof patchPoolRequestSchema>;

/**
 * POST /v1/listeners: a front listener as the config store keeps it, `acceptProxyProtocol`
 * optional (false). The store's cross-field rules (a pool for tcp only, a handle suffix for
 * tls and http only) are checked with `listenerSchema` once the default is filled in.
 */
export const addListenerRequestSchema = z.strictObject({
  ...listenerSchema.shape,
  acceptProxyProtocol: z.boolean().exactOptional(),
});
/** The body of POST /v1/listeners. */
export type AddListenerRequest = z.infer<typeof addListenerRequestSchema>;

// ─── Responses ─────────────────────────────────────────────────────────────────────────────

const count = z.int().min(0);
/** A pool element or registrar identifier: a u32, written in decimal. */
const identifier = z.int().min(0).max(0xffff_ffff);

/**
 * A pool element's policy and values as registered. `name` is one of the config store's policy
 * names for static members, and may be another RFC 5356 or RSPLIB policy for PEs that
 * registered over ASAP. Loads are percent.
 */
export const memberPolicyViewSchema = z.object({
  name: z.string(),
  weight: z.int().min(0).exactOptional(),
  priority: z.int().min(0).exactOptional(),
  load: z.number().min(0).max(100).exactOptional(),
  loadDegradation: z.number().min(0).max(100).exactOptional(),
});

/**
 * `active`: selectable; `draining`: no new sessions, existing ones stay; `maintenance`: out of
 * selection by the operator; `down`: its health check fails (static members only).
 */
export const memberStateSchema = z.enum(["active", "draining", "maintenance", "down"]);
/** A pool element's state as the admin API reports it. */
export type MemberState = z.infer<typeof memberStateSchema>;

/** One pool element of a pool. */
export const memberViewSchema = z.object({
  /** PE identifier, decimal. */
  peId: identifier,
  /** IP addresses of its user transport; a static member's host name as it was given. */
  addresses: z.array(z.string()),
  port: z.int().min(0).max(65535),
  /** RFC 5354 §3.4 transport-use. */
  transportUse: z.enum(["data-only", "data-plus-control"]),
  policy: memberPolicyViewSchema,
  /** Server identifier of its home registrar, decimal. */
  homeRegistrar: identifier,
  /** Registration life in milliseconds (RFC 5354 §3.10). */
  registrationLifeMs: count,
  state: memberStateSchema,
  /** True for members added through the admin API or flags, false for ASAP registrations. */
  static: z.boolean(),
  /** Sessions on it now. */
  sessions: count,
  /** Sessions that failed over away from it. */
  failovers: count,
  /** When it last registered or was changed, ISO 8601. */
  lastUpdate: z.iso.datetime(),
  /** The health check of a static member. */
  check: healthCheckSchema.exactOptional(),
});
/** One pool element as GET /v1/pools/{handle} shows it. */
export type MemberView = z.infer<typeof memberViewSchema>;

/** A pool's settings with every default filled in (`policy` only when one is set). */
export const poolSettingsViewSchema = z.strictObject({
  policy: poolSettingsSchema.shape.policy,
  failover: z.enum(["migrate", "sever"]),
  maxFailovers: count,
  replayBufferBytes: count,
  connectTimeoutMs: count,
  idleTimeoutMs: count,
  proxyProtocol: z.enum(["off", "v1", "v2"]),
});
/** A pool's effective settings. */
export type PoolSettingsView = z.infer<typeof poolSettingsViewSchema>;

/** One pool in GET /v1/pools. */
export const poolSummarySchema = z.object({
  handle: poolHandleSchema,
  /** The pool's member selection policy. */
  policy: z.string(),
  /** Pool elements in the pool. */
  members: count,
  /** Sessions on the pool now. */
  sessions: count,
});
/** One pool as GET /v1/pools lists it. */
export type PoolSummary = z.infer<typeof poolSummarySchema>;

/** GET /v1/pools/{handle}. */
export const poolDetailSchema = z.object({
  handle: poolHandleSchema,
  policy: z.string(),
  sessions: count,
  members: z.array(memberViewSchema),
  settings: poolSettingsViewSchema,
});
/** One pool with its members and settings. */
export type PoolDetail = z.infer<typeof poolDetailSchema>;

/** GET /v1/pools. */
export const poolListSchema = z.object({ pools: z.array(poolSummarySchema) });

/** One session in GET /v1/sessions. */
export const sessionViewSchema = z.object({
  id: z.int().min(1),
  /** The client as `host:port`. */
  client: z.string(),
  pool: poolHandleSchema,
  /** The pool element in use; null while connecting or failing over. */
  peId: identifier.nullable(),
  /** Bytes read from the client. */
  bytesIn: count,
  /** Bytes written to the client. */
  bytesOut: count,
  failovers: count,
  ageMs: count,
});
/** A running session. */
export type SessionView = z.infer<typeof sessionViewSchema>;

/** GET /v1/sessions. */
export const sessionListSchema = z.object({ sessions: z.array(sessionViewSchema) });

/**
 * Why a session left a pool element: the proxy's `FailoverCause` (proxy/proxy_events.ts). The
 * admin backend stores that type into this one, so a cause missing here fails type checking.
 */
export const failoverCauseSchema = z.enum([
  "connect-refused",
  "connect-failed",
  "reset",
  "dead-fin",
  "removed",
  "protocol-error",
  "admin",
]);

/** One failover in GET /v1/failovers: a session leaving one pool element for another. */
export const failoverViewSchema = z.object({
  /** When the session left `fromPeId`, ISO 8601. */
  at: z.iso.datetime(),
  sessionId: z.int().min(1),
  pool: poolHandleSchema,
  /** The pool element the session left. */
  fromPeId: identifier,
  /** The pool element selected next; null when none was left and the session ended. */
  toPeId: identifier.nullable(),
  cause: failoverCauseSchema,
});
/** A recent failover. */
export type FailoverView = z.infer<typeof failoverViewSchema>;

/** GET /v1/failovers: the most recent failovers, newest first. */
export const failoverListSchema = z.object({ failovers: z.array(failoverViewSchema) });

/** A front listener as stored, and where it is bound now (null when it is not). */
export const listenerViewSchema = z.object({
  ...listenerSchema.shape,
  /** The bound address as `host:port` (the real port when `port` is 0). */
  address: z.string().nullable(),
});
/** A front listener. */
export type ListenerView = z.infer<typeof listenerViewSchema>;

/** GET /v1/listeners. */
export const listenerListSchema = z.object({ listeners: z.array(listenerViewSchema) });

/**
 * A peer registrar's state as ENRP peering keeps it (RFC 5353 §3.5): `up` while it is heard,
 * `probing` after silence (Presence with the R bit sent), `taking-over` while this registrar
 * takes its PEs over, `dead` once that is done.
 */
export const peerStateSchema = z.enum(["up", "probing", "taking-over", "dead"]);

/** GET /v1/registrar. */
export const registrarStatusSchema = z.object({
  /** This registrar's server identifier, decimal. */
  serverId: identifier,
  peers: z.array(z.object({
    serverId: identifier,
    /** Its ENRP address as `host:port`; empty until known. */
    address: z.string(),
    state: peerStateSchema,
  })),
  /** RFC 5353 §3.6.2 checksum of the PEs this registrar owns, 0–65535. */
  checksum: z.int().min(0).max(0xffff),
  pools: count,
  poolElements: count,
});
/** The embedded registrar's status. */
export type RegistrarStatus = z.infer<typeof registrarStatusSchema>;

/** The readiness checks: `listeners` bound, `registrar` serving, `enrp-sync` done once. */
export const readinessCheckNameSchema = z.enum(["listeners", "registrar", "enrp-sync"]);
/** One readiness check. */
export const readinessCheckSchema = z.object({
  name: readinessCheckNameSchema,
  ready: z.boolean(),
  /** Why it is not ready, for operators. */
  detail: z.string().exactOptional(),
});
/** One readiness check's result. */
export type ReadinessCheck = z.infer<typeof readinessCheckSchema>;

/** GET /readyz, 200 or 503. */
export const readinessSchema = z.object({
  ready: z.boolean(),
  /** The checks that are not ready. */
  notReady: z.array(readinessCheckNameSchema),
  checks: z.array(readinessCheckSchema),
});

/** GET /healthz. */
export const healthSchema = z.object({ status: z.literal("ok") });

/** One validation issue of a 400 problem. */
export const problemIssueSchema = z.object({ field: z.string(), message: z.string() });

/**
 * An RFC 9457 problem details body (application/problem+json), with Poolgate's extension
 * members: `field` names the bad input, `issues` lists every one, `cause`/`causeName` carry
 * the RFC 5354 error cause of a registrar refusal.
 */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int().min(400).max(599),
  detail: z.string(),
  field: z.string().exactOptional(),
  issues: z.array(problemIssueSchema).exactOptional(),
  cause: z.int().min(0).max(0xffff).exactOptional(),
  causeName: z.string().exactOptional(),
});
/** A problem details body. */
export type Problem = z.infer<typeof problemSchema>;
