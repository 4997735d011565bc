/**
 * Helpers of the admin API tests: requests with JSON bodies, and assertions on answers (a
 * problem's status, type and field; a success body checked against its response schema).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import type { z } from "zod";
import { problemSchema } from "../../../proxy/admin/admin_schemas.ts";
import { PROBLEM_CONTENT_TYPE } from "../../../proxy/admin/problem.ts";
import type { Problem } from "../../../proxy/admin/admin_schemas.ts";

/**
 * Sends `method path` to `app`, with `body` as JSON (a string is sent as it is); GET and HEAD
 * go without the body, so one loop may try several methods.
 */
export function send(
  app: Hono,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined && method !== "GET" && method !== "HEAD") {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": "application/json", ...headers };
  }
  return Promise.resolve(app.request(path, init));
}

/** Asserts `response` has `status` and a JSON body matching `schema`; returns the body. */
export async function expectJson<S extends z.ZodType>(
  response: Response,
  status: number,
  schema: S,
): Promise<z.output<S>> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  const parsed = schema.safeParse(JSON.parse(text));
  assert.ok(parsed.success, `response body does not match its schema: ${text}`);
  return parsed.data;
}

/** What a problem answer must show, besides its status. */
export interface ExpectedProblem {
  readonly type?: string;
  readonly field?: string;
  readonly cause?: number;
  readonly causeName?: string;
  /** A pattern the detail must match. */
  readonly detail?: RegExp;
}

/**
 * Asserts `response` is an RFC 9457 problem with `status` (also in the body) and what
 * `expected` names; returns the body.
 */
export async function expectProblem(
  response: Response,
  status: number,
  expected: ExpectedProblem = {},
): Promise<Problem> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.equal(response.headers.get("content-type"), PROBLEM_CONTENT_TYPE, text);
  const problem = problemSchema.parse(JSON.parse(text));
  assert.equal(problem.status, status);
  assert.ok(problem.title.length > 0 && problem.detail.length > 0, text);
  if (expected.type !== undefined) assert.equal(problem.type, expected.type, text);
  if (expected.field !== undefined) assert.equal(problem.field, expected.field, text);
  if (expected.cause !== undefined) assert.equal(problem.cause, expected.cause, text);
  if (expected.causeName !== undefined) assert.equal(problem.causeName, expected.causeName, text);
  if (expected.detail !== undefined) assert.match(problem.detail, expected.detail, text);
  return problem;
}
