/**
 * The HTTP admin API (docs/admin_api.md): operators manage pools, members, sessions and
 * listeners over HTTP, monitoring reads Prometheus metrics and the liveness and readiness
 * probes. The app depends on one interface, {@linkcode AdminBackend}, that the serve wiring
 * adapts the registrar (RFC 5352 §3 registrations, RFC 5353 §3.6.2 checksum), the session
 * proxy and the config store to. Registrar refusals keep their RFC 5354 §3.12 error cause.
 *
 * @module
 */
export * from "./admin_app.ts";
export * from "./admin_backend.ts";
export * from "./admin_schemas.ts";
export * from "./admin_server.ts";
export * from "./bearer_auth.ts";
export * from "./metrics.ts";
export * from "./openapi.ts";
export * from "./problem.ts";
export * from "./validation.ts";
