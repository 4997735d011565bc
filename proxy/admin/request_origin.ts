/**
 * Defences for an admin API reached from an operator's browser: a page from another site must
 * not change anything (cross-site writes, which a bodyless POST makes without a CORS preflight),
 * and, without a token, a DNS-rebinding site must not read it (its requests carry the attacker's
 * host name, not a loopback one).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { problemResponse } from "./problem.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and `::1`, the names loopback answers to. */
export function isLoopbackHost(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * Refuses (403) a state-changing request whose `Origin` is another site, and, when
 * `loopbackOnly` (no token), any request whose `Host` is not a loopback name.
 */
export function requestOriginGuard(options: { loopbackOnly: boolean }): MiddlewareHandler {
  return async (c, next) => {
    // Deno.serve builds the request URL from the Host header.
    const url = new URL(c.req.url);
    const host = url.host.toLowerCase();
    if (options.loopbackOnly && !isLoopbackHost(url.hostname)) {
      return problemResponse({
        status: 403,
        detail: "Without a token the admin API answers only requests addressed to a loopback name",
      });
    }
    const origin = c.req.header("origin");
    const crossSite = c.req.header("sec-fetch-site") === "cross-site" ||
      (origin !== undefined && origin !== "null" && hostOfOrigin(origin) !== host);
    if (!SAFE_METHODS.has(c.req.method) && (crossSite || origin === "null")) {
      return problemResponse({
        status: 403,
        detail: "Cross-site requests may not change anything",
      });
    }
    await next();
  };
}

function hostOfOrigin(origin: string): string {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return "";
  }
}
