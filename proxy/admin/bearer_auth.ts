/**
 * Bearer token authentication of the admin API (RFC 6750 §2.1). The presented token and the
 * configured one are both hashed with SHA-256 and the 32-byte digests compared without an
 * early exit, so the time taken tells nothing about how much of a guess was right, nor about the
 * token's length. The token is never logged nor echoed.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { problemResponse } from "./problem.ts";

/** The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3). */
export const BEARER_CHALLENGE = 'Bearer realm="poolgate-admin"';

const ENCODER = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", ENCODER.encode(text)));
}

/**
 * True when the two digests are equal; every byte is compared whatever the outcome, so the time
 * taken depends only on the (fixed) length.
 */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/**
 * Checks that `token` can be presented in an `Authorization: Bearer` header: visible ASCII
 * without spaces (a trailing newline from a token file must be trimmed by the caller).
 *
 * @throws {RangeError} naming the problem, never the token.
 */
export function checkAdminToken(token: string): void {
  if (token === "") throw new RangeError("Cannot use admin token: it is empty");
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new RangeError(
      "Cannot use admin token: it must be visible ASCII characters without spaces or line breaks",
    );
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
function presentedToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header ?? "");
  return match?.[1];
}

/** A 401 problem that says only that a valid token is needed. */
function unauthorized(): Response {
  return problemResponse({
    status: 401,
    detail: "This request needs a valid bearer token in the Authorization header",
  }, { "www-authenticate": BEARER_CHALLENGE });
}

/**
 * Middleware that lets a request on only with `Authorization: Bearer <token>`; any other gets
 * 401 with `WWW-Authenticate: Bearer` and the same body, missing or wrong.
 *
 * @throws {RangeError} when `token` cannot be used ({@linkcode checkAdminToken}).
 */
export function bearerAuth(token: string): MiddlewareHandler {
  checkAdminToken(token);
  const expected = sha256(token);
  return async (c, next) => {
    const presented = presentedToken(c.req.header("authorization"));
    // Hash even a missing token, so that missing and wrong take the same path.
    const [want, got] = await Promise.all([expected, sha256(presented ?? "")]);
    if (presented === undefined || !digestsEqual(want, got)) return unauthorized();
    await next();
  };
}
