/**
 * Input checks of the admin API: a `zValidator`-style JSON body middleware whose failures name
 * the field, and parsers of the path parameters (percent-encoded pool handles, decimal
 * identifiers). Every failure is an {@linkcode AdminInputError}, which the app answers with 400
 * and a problem body; a body that is not JSON at all gets 415.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { BlankEnv } from "hono/types";
import { routePath } from "hono/route";
import type { z } from "zod";
import { listenerSchema, poolHandleSchema } from "../config_store.ts";
import { problemResponse, ProblemType } from "./problem.ts";

/** The `field` of a problem about the request body as a whole. */
export const BODY_FIELD = "body";

/** One bad input: the field (dotted path, or a path parameter's name) and what is wrong. */
export interface InputIssue {
  readonly field: string;
  readonly message: string;
}

/** A request the admin API refuses as bad input (400); the first issue is the problem's field. */
export class AdminInputError extends Error {
  /** The first bad field. */
  readonly field: string;
  /** Every issue found, the first one first. */
  readonly issues: readonly InputIssue[];

  /** Builds the error from at least one issue. */
  constructor(issues: readonly [InputIssue, ...InputIssue[]]) {
    const [first] = issues;
    super(`${first.field}: ${first.message}`);
    this.name = "AdminInputError";
    this.field = first.field;
    this.issues = issues;
  }
}

/** One issue as an {@linkcode AdminInputError}. */
export function inputError(field: string, message: string): AdminInputError {
  return new AdminInputError([{ field, message }]);
}

/** The value at `path` in `input`, or undefined when the path does not lead anywhere. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Turns zod issues into input issues: the field is the dotted path (an unknown key is named
 * itself), and a missing field says "is required" instead of zod's "received undefined".
 */
export function issuesOf(
  error: z.ZodError,
  input: unknown,
  root = BODY_FIELD,
): [InputIssue, ...InputIssue[]] {
  const issues = error.issues.map((issue): InputIssue => {
    const path = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      return { field: [...path, issue.keys[0] ?? ""].join("."), message: "is not a known field" };
    }
    const field = path.length === 0 ? root : path.join(".");
    if (
      issue.code === "invalid_type" && path.length > 0 && valueAt(input, issue.path) === undefined
    ) {
      return { field, message: "is required" };
    }
    return { field, message: issue.message };
  });
  const [first, ...rest] = issues;
  return [first ?? { field: root, message: "is invalid" }, ...rest];
}

/** True for `application/json` and `application/…+json` (RFC 6839). */
function isJsonMediaType(contentType: string | undefined): boolean {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return mediaType === "application/json" || /^application\/[\w.-]+\+json$/.test(mediaType);
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Options of {@linkcode jsonBody}. */
export interface JsonBodyOptions {
  /** Largest body read; a larger one gets 413 before it is parsed. */
  readonly maxBytes: number;
}

/** A 413 problem naming the limit. */
function tooLarge(maxBytes: number): Response {
  return problemResponse({
    status: 413,
    detail: `The body is larger than the limit of ${maxBytes} bytes`,
  });
}

/**
 * The body of `request`, or undefined once it grows past `maxBytes` (the rest is not read).
 * A Content-Length over the limit is refused before anything is read; a chunked body is
 * counted as it arrives.
 */
async function readBoundedBody(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const length = Number(request.headers.get("content-length") ?? 0);
  if (!(length <= maxBytes)) return undefined;
  if (request.body === null) return new Uint8Array(0);
  const chunks: BlobPart[] = [];
  let size = 0;
  const reader = request.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return new Uint8Array(await new Blob(chunks).arrayBuffer());
}

/**
 * Middleware that reads the request body as JSON and checks it with `schema`; the handler gets
 * the result from `c.req.valid("json")`. Not JSON as media type: 415; over `maxBytes`: 413;
 * not UTF-8, not JSON, or not matching: 400 naming the field.
 */
export function jsonBody<S extends z.ZodType>(
  schema: S,
  options: JsonBodyOptions,
): MiddlewareHandler<
  BlankEnv,
  string,
  { in: { json: z.input<S> }; out: { json: z.output<S> } }
> {
  return async (c, next) => {
    const contentType = c.req.header("content-type");
    if (!isJsonMediaType(contentType)) {
      return problemResponse({
        type: ProblemType.unsupportedMediaType,
        status: 415,
        detail: `The body must be application/json, not ${contentType ?? "untyped"}`,
        field: "content-type",
      });
    }
    const bytes = await readBoundedBody(c.req.raw, options.maxBytes);
    if (bytes === undefined) return tooLarge(options.maxBytes);
    let text: string;
    try {
      text = UTF8.decode(bytes);
    } catch {
      throw inputError(BODY_FIELD, "is not UTF-8");
    }
    if (text.trim() === "") throw inputError(BODY_FIELD, "is empty: send a JSON object");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw inputError(BODY_FIELD, `is not JSON: ${reason}`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new AdminInputError(issuesOf(parsed.error, value));
    c.req.addValidatedData("json", parsed.data as object);
    await next();
  };
}

/**
 * The request's path exactly as sent, still percent-encoded: the app routes on it (Hono's
 * `getPath` option), so that an encoded `/` in a pool handle stays inside its segment and a bad
 * escape is reported instead of kept as text.
 */
export function rawRequestPath(request: Request): string {
  return new URL(request.url).pathname;
}

/** The raw (percent-encoded) value of path parameter `name` of the route that matched. */
function rawPathParam(c: Context, name: string): string {
  const index = routePath(c).split("/").indexOf(`:${name}`);
  const value = index < 0 ? undefined : c.req.path.split("/")[index];
  if (value === undefined) {
    throw new TypeError(`Cannot read path parameter '${name}': the route has none`);
  }
  return value;
}

/** Percent-decodes one path segment; `field` names it in the error. */
export function decodePathSegment(raw: string, field: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) {
    throw inputError(field, "has a '%' that is not followed by two hex digits");
  }
  try {
    return decodeURIComponent(raw);
  } catch {
    throw inputError(field, "is not UTF-8 once percent-decoded");
  }
}

/** A decimal identifier without sign or leading zeros, from `min` to `max`. */
export function parseDecimalId(raw: string, field: string, min: number, max: number): number {
  const value = /^(?:0|[1-9][0-9]{0,15})$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw inputError(field, `must be a decimal integer from ${min} to ${max}`);
  }
  return value;
}

/** The `{handle}` path parameter: a percent-encoded pool handle. */
export function poolHandleParam(c: Context): string {
  const handle = decodePathSegment(rawPathParam(c, "handle"), "handle");
  const parsed = poolHandleSchema.safeParse(handle);
  if (!parsed.success) throw new AdminInputError(issuesOf(parsed.error, handle, "handle"));
  return parsed.data;
}

/** The `{peId}` path parameter: a PE identifier in decimal, 1–4294967295. */
export function peIdParam(c: Context): number {
  return parseDecimalId(rawPathParam(c, "peId"), "peId", 1, 0xffff_ffff);
}

/** The `{id}` path parameter of a session: a positive decimal integer. */
export function sessionIdParam(c: Context): number {
  return parseDecimalId(rawPathParam(c, "id"), "id", 1, Number.MAX_SAFE_INTEGER);
}

/** The `{id}` path parameter of a listener. */
export function listenerIdParam(c: Context): string {
  const id = decodePathSegment(rawPathParam(c, "id"), "id");
  const parsed = listenerSchema.shape.id.safeParse(id);
  if (!parsed.success) throw new AdminInputError(issuesOf(parsed.error, id, "id"));
  return parsed.data;
}

/** The problem body of an {@linkcode AdminInputError}. */
export function inputProblem(error: AdminInputError): Response {
  return problemResponse({
    type: ProblemType.invalidInput,
    status: 400,
    detail: error.message,
    field: error.field,
    issues: [...error.issues],
  });
}
