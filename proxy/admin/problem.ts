/**
 * RFC 9457 problem details: every error answer of the admin API is an
 * `application/problem+json` body with `type`, `title`, `status` and `detail`, plus Poolgate's
 * extension members (`field`, `issues`, `cause`, `causeName`). std's
 * `http/unstable_problem_details.ts` has the same shape but is on JSR, which is unreachable.
 *
 * @module
 */
import type { Problem } from "./admin_schemas.ts";

/** The media type of a problem details body (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/**
 * Problem types beyond the HTTP status. RFC 9457 §3.1.1: a type is a URI that identifies the
 * problem; these are identifiers, not links (docs/admin_api.md lists them). Problems that
 * only repeat the status use `about:blank` (§4.2.1).
 */
export const ProblemType = {
  blank: "about:blank",
  invalidInput: "urn:poolgate:problem:invalid-input",
  unsupportedMediaType: "urn:poolgate:problem:unsupported-media-type",
  notFound: "urn:poolgate:problem:not-found",
  registrarRefused: "urn:poolgate:problem:registrar-refused",
  conflict: "urn:poolgate:problem:conflict",
} as const;

const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The HTTP reason phrase of `status` (RFC 9110 §15), the title of an `about:blank` problem. */
export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? `HTTP ${status}`;
}

/** A problem to send: `title` defaults to the status's reason phrase. */
export type ProblemInit = Omit<Problem, "type" | "title"> & {
  readonly type?: string;
  readonly title?: string;
};

/**
 * Builds the `application/problem+json` response for `init`, with `headers` added (such as
 * `Allow` or `WWW-Authenticate`).
 */
export function problemResponse(init: ProblemInit, headers: HeadersInit = {}): Response {
  // type and title first, as RFC 9457 lists them; `init` repeats them only when it has them.
  const problem: Problem = {
    type: init.type ?? ProblemType.blank,
    title: init.title ?? statusTitle(init.status),
    ...init,
  };
  const response = new Response(JSON.stringify(problem), {
    status: problem.status,
    headers,
  });
  response.headers.set("content-type", PROBLEM_CONTENT_TYPE);
  return response;
}
