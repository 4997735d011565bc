/**
 * The HTTP admin API (docs/admin_api.md) as a Hono app: operators list and change pools,
 * members, sessions and listeners under /v1, monitoring reads /metrics, /healthz and /readyz,
 * and GET / is the dashboard page (dashboard.ts). The app only translates HTTP to
 * {@linkcode AdminBackend} calls: input is checked with the config store's zod schemas, refusals
 * come back as typed errors, and every error answer is an RFC 9457 problem body. Binding it to a
 * socket is admin_server.ts's job.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { listenerSchema, type MemberPolicy, memberPolicySchema } from "../config_store.ts";
import {
  type AdminBackend,
  AdminConflictError,
  AdminNotFoundError,
  type NewStaticMember,
} from "./admin_backend.ts";
import {
  addListenerRequestSchema,
  addMemberRequestSchema,
  type MemberView,
  patchMemberRequestSchema,
  patchPoolRequestSchema,
} from "./admin_schemas.ts";
import { bearerAuth } from "./bearer_auth.ts";
import { requestOriginGuard } from "./request_origin.ts";
import { dashboardHandler } from "./dashboard.ts";
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import { createOpenApiDocument } from "./openapi.ts";
import { problemResponse, ProblemType } from "./problem.ts";
import {
  AdminInputError,
  inputProblem,
  issuesOf,
  jsonBody,
  listenerIdParam,
  peIdParam,
  poolHandleParam,
  rawRequestPath,
  sessionIdParam,
} from "./validation.ts";

/** Largest request body the admin API reads: 64 KiB, far above any valid request. */
export const DEFAULT_ADMIN_MAX_BODY_BYTES = 64 * 1024;
/**
 * The paths that answer without a token, as they reveal nothing: the monitoring probes, and the
 * dashboard page, which holds no data and asks the operator for the token itself.
 */
export const OPEN_ADMIN_PATHS: readonly string[] = ["/healthz", "/readyz", "/"];

/** Options of {@linkcode createAdminApp}. */
export interface AdminAppOptions {
  /** The running Poolgate the routes act on. */
  readonly backend: AdminBackend;
  /**
   * Bearer token every request but {@linkcode OPEN_ADMIN_PATHS} must present; without one the
   * API is open (admin_server.ts then binds to loopback only). Never logged.
   */
  readonly token?: string;
  /** Request and change logs. @default {getLogger(["poolgate", "admin"])} */
  readonly logger?: Logger;
  /**
   * Largest request body read, larger ones get 413; routes that take no body do not read one.
   * @default {DEFAULT_ADMIN_MAX_BODY_BYTES}
   */
  readonly maxBodyBytes?: number;
}

/** A PE identifier as the problem details write it. */
function describeMember(handle: string, peId: number): string {
  return `pool element ${peId} of pool ${JSON.stringify(handle)}`;
}

/** The URI of a pool's member, for `Location`. */
function memberLocation(handle: string, peId: number): string {
  return `/v1/pools/${encodeURIComponent(handle)}/members/${peId}`;
}

/** `member` of `handle`'s pool, or a not-found error naming it. */
async function findMember(
  backend: AdminBackend,
  handle: string,
  peId: number,
): Promise<MemberView> {
  const pool = await backend.getPool(handle);
  const member = pool.members.find((candidate) => candidate.peId === peId);
  if (member === undefined) {
    throw new AdminNotFoundError("member", `There is no ${describeMember(handle, peId)}`);
  }
  return member;
}

/**
 * Checks that new policy values fit a static member's policy, with the config store's rules
 * (a value the policy does not read is refused), and names the field when not.
 */
function checkPolicyValues(member: MemberView, change: Partial<MemberPolicy>): void {
  const merged = { ...member.policy, ...change };
  const parsed = memberPolicySchema.safeParse(merged);
  if (!parsed.success) throw new AdminInputError(issuesOf(parsed.error, merged));
}

/** Maps an error from a route to its answer; unexpected ones are logged and hidden. */
function errorResponse(error: Error, c: Context, logger: Logger): Response {
  if (error instanceof AdminInputError) return inputProblem(error);
  if (error instanceof AdminNotFoundError) {
    return problemResponse({ type: ProblemType.notFound, status: 404, detail: error.message });
  }
  if (error instanceof AdminConflictError) {
    if (error.causeCode === undefined) {
      return problemResponse({ type: ProblemType.conflict, status: 409, detail: error.message });
    }
    return problemResponse({
      type: ProblemType.registrarRefused,
      status: 409,
      detail: error.message,
      cause: error.causeCode,
      causeName: error.causeName ?? "",
    });
  }
  if (error instanceof HTTPException && error.status < 500) {
    return problemResponse({ status: error.status, detail: error.message });
  }
  logger.error("Admin API {method} {path} failed: {error}", {
    method: c.req.method,
    path: c.req.path,
    error,
  });
  return problemResponse({
    status: 500,
    detail: "The request failed unexpectedly; the server log has the details",
  });
}

/**
 * Builds the admin API app; serve it with `Deno.serve(app.fetch)` (admin_server.ts) or call
 * `app.request()` in tests. Paths are routed still percent-encoded, so pool handles may hold any
 * character.
 *
 * @throws {RangeError} when `token` cannot be used or `maxBodyBytes` is not a positive integer.
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { backend } = options;
  const logger = options.logger ?? getLogger(["poolgate", "admin"]);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_ADMIN_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new RangeError(
      `Cannot create admin API as 'maxBodyBytes' must be a positive integer: current value is ${maxBodyBytes}`,
    );
  }
  const app = new Hono({ getPath: rawRequestPath });

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    logger.debug("{method} {path} {status} {ms} ms", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });
  app.use(requestOriginGuard({ loopbackOnly: options.token === undefined }));
  if (options.token !== undefined) {
    const authenticate = bearerAuth(options.token);
    app.use((c, next) => OPEN_ADMIN_PATHS.includes(c.req.path) ? next() : authenticate(c, next));
  }
  const limit = { maxBytes: maxBodyBytes };

  // ─── Pools and members ───

  app.get("/v1/pools", async (c) => c.json({ pools: await backend.listPools() }));

  app.get("/v1/pools/:handle", async (c) => c.json(await backend.getPool(poolHandleParam(c))));

  app.patch("/v1/pools/:handle", jsonBody(patchPoolRequestSchema, limit), async (c) => {
    const handle = poolHandleParam(c);
    const change = c.req.valid("json");
    const settings = await backend.patchPoolSettings(handle, change);
    logger.info("Changed settings of pool {pool}: {change}", { pool: handle, change });
    return c.json(settings);
  });

  app.post("/v1/pools/:handle/members", jsonBody(addMemberRequestSchema, limit), async (c) => {
    const handle = poolHandleParam(c);
    const body = c.req.valid("json");
    const member: NewStaticMember = { ...body, check: body.check ?? { kind: "connect" } };
    const added = await backend.addMember(handle, member);
    logger.info("Added pool element {peId} at {hostname}:{port} to pool {pool}", {
      pool: handle,
      peId: added.peId,
      hostname: body.hostname,
      port: body.port,
    });
    c.header("location", memberLocation(handle, added.peId));
    return c.json(added, 201);
  });

  app.get("/v1/pools/:handle/members/:peId", async (c) => {
    return c.json(await findMember(backend, poolHandleParam(c), peIdParam(c)));
  });

  app.patch(
    "/v1/pools/:handle/members/:peId",
    jsonBody(patchMemberRequestSchema, limit),
    async (c) => {
      const handle = poolHandleParam(c);
      const peId = peIdParam(c);
      const change = c.req.valid("json");
      const { drain: _drain, maintenance: _maintenance, ...values } = change;
      const member = await findMember(backend, handle, peId);
      // A PE registered over ASAP owns its values: the backend refuses a change of them.
      if (member.static && Object.keys(values).length > 0) checkPolicyValues(member, values);
      const changed = await backend.patchMember(handle, peId, change);
      logger.info("Changed pool element {peId} of pool {pool}: {change}", {
        pool: handle,
        peId,
        change,
      });
      return c.json(changed);
    },
  );

  app.delete("/v1/pools/:handle/members/:peId", async (c) => {
    const handle = poolHandleParam(c);
    const peId = peIdParam(c);
    await backend.deleteMember(handle, peId);
    logger.info("Removed pool element {peId} from pool {pool}", { pool: handle, peId });
    return c.body(null, 204);
  });

  // ─── Sessions ───

  app.get("/v1/sessions", async (c) => c.json({ sessions: await backend.listSessions() }));

  app.post("/v1/sessions/:id/failover", async (c) => {
    const id = sessionIdParam(c);
    await backend.failoverSession(id);
    logger.info("Failing over session {sessionId} on request", { sessionId: id });
    return c.body(null, 202);
  });

  app.delete("/v1/sessions/:id", async (c) => {
    const id = sessionIdParam(c);
    await backend.closeSession(id);
    logger.info("Closed session {sessionId} on request", { sessionId: id });
    return c.body(null, 204);
  });

  app.get("/v1/failovers", async (c) => c.json({ failovers: await backend.recentFailovers() }));

  // ─── Listeners ───

  app.get("/v1/listeners", async (c) => c.json({ listeners: await backend.listListeners() }));

  app.post("/v1/listeners", jsonBody(addListenerRequestSchema, limit), async (c) => {
    const body = c.req.valid("json");
    const record = { ...body, acceptProxyProtocol: body.acceptProxyProtocol ?? false };
    // The store's own checks: a pool for tcp listeners only, a suffix for tls and http only.
    const parsed = listenerSchema.safeParse(record);
    if (!parsed.success) throw new AdminInputError(issuesOf(parsed.error, record));
    const added = await backend.addListener(parsed.data);
    logger.info("Added {kind} listener {id} on {address}", {
      id: added.id,
      kind: added.kind,
      address: added.address,
    });
    c.header("location", `/v1/listeners/${encodeURIComponent(added.id)}`);
    return c.json(added, 201);
  });

  app.get("/v1/listeners/:id", async (c) => {
    const id = listenerIdParam(c);
    const listener = (await backend.listListeners()).find((candidate) => candidate.id === id);
    if (listener === undefined) {
      throw new AdminNotFoundError("listener", `There is no listener ${JSON.stringify(id)}`);
    }
    return c.json(listener);
  });

  app.delete("/v1/listeners/:id", async (c) => {
    const id = listenerIdParam(c);
    await backend.removeListener(id);
    logger.info("Removed listener {id}", { id });
    return c.body(null, 204);
  });

  // ─── Registrar, monitoring, description ───

  app.get("/v1/registrar", async (c) => c.json(await backend.registrarStatus()));

  app.get("/metrics", async (c) => {
    const text = renderMetrics(await backend.metrics());
    return c.body(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    const checks = await backend.readiness();
    const notReady = checks.filter((check) => !check.ready).map((check) => check.name);
    return c.json({ ready: notReady.length === 0, notReady, checks }, notReady.length ? 503 : 200);
  });

  let openApi: string | undefined;
  app.get("/openapi.json", (c) => {
    openApi ??= JSON.stringify(createOpenApiDocument());
    return c.body(openApi, 200, { "content-type": "application/json" });
  });

  app.get("/", dashboardHandler({ tokenRequired: options.token !== undefined }));

  // ─── Wrong method, unknown route, errors ───

  const methods = new Map<string, Set<string>>();
  for (const { path, method } of app.routes) {
    if (method === "ALL") continue;
    let set = methods.get(path);
    if (set === undefined) methods.set(path, set = new Set());
    set.add(method);
    if (method === "GET") set.add("HEAD");
  }
  for (const [path, allowed] of methods) {
    const allow = [...allowed, "OPTIONS"].join(", ");
    const template = path.replaceAll(/:(\w+)/g, "{$1}");
    app.all(path, (c) => {
      if (c.req.method === "OPTIONS") return c.body(null, 204, { allow });
      return problemResponse({
        status: 405,
        detail: `${c.req.method} is not allowed on ${template}; use ${allow}`,
      }, { allow });
    });
  }
  app.notFound((c) =>
    problemResponse({ status: 404, detail: `There is no route ${c.req.method} ${c.req.path}` })
  );
  app.onError((error, c) => errorResponse(error, c, logger));
  return app;
}
