/**
 * Health checks of legacy servers, for the `pe` sidecar and the proxy's static pool members: a
 * TCP connect check or a send/expect check with interval, timeout, fall and rise counts, and
 * the C-style escapes that the CLI's --check-send/--check-expect flags are written in.
 *
 * @module
 */
export * from "./health_check.ts";
export * from "./c_escapes.ts";
