/**
 * GET /openapi.json: an OpenAPI 3.1 document of the admin API. The bodies' schemas are generated
 * from the zod schemas the app validates with (`z.toJSONSchema()`, JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1), so the document cannot drift from the checks; the operations table
 * below is compared with the app's routes by tests/proxy/admin/openapi_test.ts.
 *
 * @module
 */
import { z } from "zod";
import {
  addListenerRequestSchema,
  addMemberRequestSchema,
  failoverListSchema,
  healthSchema,
  listenerListSchema,
  listenerViewSchema,
  memberViewSchema,
  patchMemberRequestSchema,
  patchPoolRequestSchema,
  poolDetailSchema,
  poolListSchema,
  poolSettingsViewSchema,
  problemSchema,
  readinessSchema,
  registrarStatusSchema,
  sessionListSchema,
} from "./admin_schemas.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
import { PROBLEM_CONTENT_TYPE } from "./problem.ts";

/** The API version in the document's `info`; the paths carry the major version (/v1). */
export const ADMIN_API_VERSION = "1.0.0";

/** Request schemas (read as input) and response schemas (read as output), by component name. */
const REQUEST_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  AddMemberRequest: addMemberRequestSchema,
  PatchMemberRequest: patchMemberRequestSchema,
  PatchPoolRequest: patchPoolRequestSchema,
  AddListenerRequest: addListenerRequestSchema,
};
const RESPONSE_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  PoolList: poolListSchema,
  PoolDetail: poolDetailSchema,
  Member: memberViewSchema,
  PoolSettings: poolSettingsViewSchema,
  SessionList: sessionListSchema,
  FailoverList: failoverListSchema,
  ListenerList: listenerListSchema,
  Listener: listenerViewSchema,
  RegistrarStatus: registrarStatusSchema,
  Readiness: readinessSchema,
  Health: healthSchema,
  Problem: problemSchema,
};

type PathParameter = "handle" | "peId" | "sessionId" | "listenerId";

const PARAMETERS: Readonly<Record<PathParameter, object>> = {
  handle: {
    name: "handle",
    in: "path",
    required: true,
    description: "Pool handle, percent-encoded as UTF-8 (RFC 3986 §2.1); '/' is %2F.",
    schema: { type: "string", minLength: 1 },
  },
  peId: {
    name: "peId",
    in: "path",
    required: true,
    description: "PE identifier in decimal, without sign or leading zeros.",
    schema: { type: "integer", minimum: 1, maximum: 0xffff_ffff },
  },
  sessionId: {
    name: "id",
    in: "path",
    required: true,
    description: "Session identifier in decimal.",
    schema: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
  },
  listenerId: {
    name: "id",
    in: "path",
    required: true,
    description: "Listener identifier.",
    schema: { type: "string", pattern: "^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$" },
  },
};

/** One operation of the admin API. */
export interface AdminOperation {
  readonly method: "get" | "post" | "patch" | "delete";
  /** OpenAPI path template, `{name}` for parameters. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly parameters?: readonly PathParameter[];
  /** Component name of the JSON request body. */
  readonly body?: string;
  /** Status → component name of the JSON body, `null` for none, or a media type's text. */
  readonly responses: Readonly<Record<number, string | null | { text: string }>>;
  /** True for the routes that need no token: the probes and the dashboard page. */
  readonly open?: boolean;
}

/** Every operation the app serves, in the order of docs/admin_api.md. */
export const ADMIN_OPERATIONS: readonly AdminOperation[] = [
  {
    method: "get",
    path: "/v1/pools",
    operationId: "listPools",
    summary: "Every pool with its policy, member count and sessions",
    responses: { 200: "PoolList" },
  },
  {
    method: "get",
    path: "/v1/pools/{handle}",
    operationId: "getPool",
    summary: "One pool: its members and settings",
    parameters: ["handle"],
    responses: { 200: "PoolDetail" },
  },
  {
    method: "patch",
    path: "/v1/pools/{handle}",
    operationId: "patchPool",
    summary: "Change a pool's settings",
    parameters: ["handle"],
    body: "PatchPoolRequest",
    responses: { 200: "PoolSettings", 409: "Problem" },
  },
  {
    method: "post",
    path: "/v1/pools/{handle}/members",
    operationId: "addMember",
    summary: "Add a static member (a legacy server) to a pool, creating the pool",
    parameters: ["handle"],
    body: "AddMemberRequest",
    responses: { 201: "Member", 409: "Problem" },
  },
  {
    method: "get",
    path: "/v1/pools/{handle}/members/{peId}",
    operationId: "getMember",
    summary: "One pool element",
    parameters: ["handle", "peId"],
    responses: { 200: "Member" },
  },
  {
    method: "patch",
    path: "/v1/pools/{handle}/members/{peId}",
    operationId: "patchMember",
    summary: "Change a member's policy values, or drain it or put it in maintenance",
    parameters: ["handle", "peId"],
    body: "PatchMemberRequest",
    responses: { 200: "Member", 409: "Problem" },
  },
  {
    method: "delete",
    path: "/v1/pools/{handle}/members/{peId}",
    operationId: "deleteMember",
    summary: "Remove a static member",
    parameters: ["handle", "peId"],
    responses: { 204: null, 409: "Problem" },
  },
  {
    method: "get",
    path: "/v1/sessions",
    operationId: "listSessions",
    summary: "The sessions running now, oldest first",
    responses: { 200: "SessionList" },
  },
  {
    method: "post",
    path: "/v1/sessions/{id}/failover",
    operationId: "failoverSession",
    summary: "Move a session to another pool element as if its own had failed",
    parameters: ["sessionId"],
    responses: { 202: null, 409: "Problem" },
  },
  {
    method: "delete",
    path: "/v1/sessions/{id}",
    operationId: "closeSession",
    summary: "Close a session",
    parameters: ["sessionId"],
    responses: { 204: null },
  },
  {
    method: "get",
    path: "/v1/failovers",
    operationId: "listFailovers",
    summary: "The most recent failovers, newest first (a bounded ring)",
    responses: { 200: "FailoverList" },
  },
  {
    method: "get",
    path: "/v1/listeners",
    operationId: "listListeners",
    summary: "Every front listener",
    responses: { 200: "ListenerList" },
  },
  {
    method: "post",
    path: "/v1/listeners",
    operationId: "addListener",
    summary: "Bind and store a front listener",
    body: "AddListenerRequest",
    responses: { 201: "Listener", 409: "Problem" },
  },
  {
    method: "get",
    path: "/v1/listeners/{id}",
    operationId: "getListener",
    summary: "One front listener",
    parameters: ["listenerId"],
    responses: { 200: "Listener" },
  },
  {
    method: "delete",
    path: "/v1/listeners/{id}",
    operationId: "removeListener",
    summary: "Close and forget a front listener; its sessions go on",
    parameters: ["listenerId"],
    responses: { 204: null },
  },
  {
    method: "get",
    path: "/v1/registrar",
    operationId: "registrarStatus",
    summary: "The registrar's identifier, its peers and the handlespace checksum",
    responses: { 200: "RegistrarStatus" },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Counters and gauges in the Prometheus text format",
    responses: { 200: { text: PROMETHEUS_CONTENT_TYPE } },
  },
  {
    method: "get",
    path: "/healthz",
    operationId: "health",
    summary: "Liveness: the process is up",
    responses: { 200: "Health" },
    open: true,
  },
  {
    method: "get",
    path: "/readyz",
    operationId: "readiness",
    summary: "Readiness: listeners bound, registrar serving, first ENRP sync done",
    responses: { 200: "Readiness", 503: "Readiness" },
    open: true,
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openApi",
    summary: "This document",
    responses: { 200: { text: "application/json" } },
  },
  {
    method: "get",
    path: "/",
    operationId: "dashboard",
    summary: "The dashboard page; it holds no data and reads the API with the operator's token",
    responses: { 200: { text: "text/html" } },
    open: true,
  },
];

const DESCRIPTIONS: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  202: "Accepted: the failover has started",
  204: "Done, no body",
  400: "Bad input: the problem's `field` names it",
  401: "No valid bearer token",
  404: "Unknown pool, member, session, listener or route",
  409: "Refused by the current state; a registrar refusal carries `cause` and `causeName`",
  413: "Body larger than the limit",
  415: "Body not application/json",
  503: "Not ready: `notReady` names the checks",
};

function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: "draft-2020-12", io });
  return rest;
}

function ref(component: string): object {
  return { $ref: `#/components/schemas/${component}` };
}

function responseObject(status: number, body: string | null | { text: string }): object {
  const description = DESCRIPTIONS[status] ?? "See the summary";
  if (body === null) return { description };
  if (typeof body === "object") {
    return { description, content: { [body.text]: { schema: { type: "string" } } } };
  }
  const mediaType = body === "Problem" ? PROBLEM_CONTENT_TYPE : "application/json";
  return { description, content: { [mediaType]: { schema: ref(body) } } };
}

function operationObject(operation: AdminOperation): object {
  const responses: Record<number, string | null | { text: string }> = { ...operation.responses };
  if (operation.parameters !== undefined || operation.body !== undefined) {
    responses[400] ??= "Problem";
  }
  if (operation.parameters !== undefined) responses[404] ??= "Problem";
  if (operation.body !== undefined) {
    responses[413] ??= "Problem";
    responses[415] ??= "Problem";
  }
  if (operation.open !== true) responses[401] ??= "Problem";
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.open === true ? { security: [] } : {}),
    ...(operation.parameters === undefined
      ? {}
      : { parameters: operation.parameters.map((name) => PARAMETERS[name]) }),
    ...(operation.body === undefined ? {} : {
      requestBody: {
        required: true,
        content: { "application/json": { schema: ref(operation.body) } },
      },
    }),
    responses: Object.fromEntries(
      Object.entries(responses)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, body]) => [status, responseObject(Number(status), body)]),
    ),
  };
}

/** Builds the OpenAPI 3.1 document of the admin API. */
export function createOpenApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, object>> = {};
  for (const operation of ADMIN_OPERATIONS) {
    (paths[operation.path] ??= {})[operation.method] = operationObject(operation);
  }
  const schemas: Record<string, object> = {};
  for (const [name, schema] of Object.entries(REQUEST_SCHEMAS)) {
    schemas[name] = jsonSchemaOf(schema, "input");
  }
  for (const [name, schema] of Object.entries(RESPONSE_SCHEMAS)) {
    schemas[name] = jsonSchemaOf(schema, "output");
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "Poolgate admin API",
      version: ADMIN_API_VERSION,
      description: "Manage the pools, sessions and listeners of a Poolgate edge proxy and its " +
        "embedded RSerPool registrar. Errors are RFC 9457 problem details. See docs/admin_api.md.",
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } },
    },
  };
}
