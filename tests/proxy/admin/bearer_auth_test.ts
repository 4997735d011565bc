import assert from "node:assert/strict";
import { createAdminApp } from "../../../proxy/admin/admin_app.ts";
import {
  BEARER_CHALLENGE,
  checkAdminToken,
  digestsEqual,
} from "../../../proxy/admin/bearer_auth.ts";
import { PROBLEM_CONTENT_TYPE } from "../../../proxy/admin/problem.ts";
import { AdminBackendFixture } from "../../_support/admin_backend_fixture.ts";

const TOKEN = "s3cr3t-t0ken-for-tests-0123456789";

function app(token?: string) {
  const backend = new AdminBackendFixture();
  return createAdminApp(token === undefined ? { backend } : { backend, token });
}

function get(path: string, authorization?: string): Request {
  return new Request(`http://localhost${path}`, {
    headers: authorization === undefined ? {} : { authorization },
  });
}

/** Every route that must refuse a request without the token, one per route group. */
const GUARDED = [
  ["GET", "/v1/pools"],
  ["GET", "/v1/pools/web"],
  ["PATCH", "/v1/pools/web"],
  ["POST", "/v1/pools/web/members"],
  ["PATCH", "/v1/pools/web/members/1"],
  ["DELETE", "/v1/pools/web/members/1"],
  ["GET", "/v1/sessions"],
  ["POST", "/v1/sessions/1/failover"],
  ["DELETE", "/v1/sessions/1"],
  ["GET", "/v1/listeners"],
  ["POST", "/v1/listeners"],
  ["DELETE", "/v1/listeners/a"],
  ["GET", "/v1/registrar"],
  ["GET", "/metrics"],
  ["GET", "/openapi.json"],
  ["GET", "/no-such-route"],
] as const;

async function assertUnauthorized(response: Response, what: string): Promise<string> {
  assert.equal(response.status, 401, what);
  assert.equal(response.headers.get("www-authenticate"), BEARER_CHALLENGE, what);
  assert.equal(response.headers.get("content-type"), PROBLEM_CONTENT_TYPE, what);
  const body = await response.text();
  assert.ok(!body.includes(TOKEN), `${what}: the body names the token`);
  return body;
}

Deno.test("createAdminApp() with a token refuses every guarded route without it", async () => {
  const admin = app(TOKEN);
  for (const [method, path] of GUARDED) {
    const response = await admin.request(path, { method });
    await assertUnauthorized(response, `${method} ${path}`);
  }
});

Deno.test("createAdminApp() answers a missing, a wrong and a malformed token alike", async () => {
  const admin = app(TOKEN);
  const sameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith("x") ? "y" : "x");
  const presented = [
    undefined,
    `Bearer ${sameLength}`,
    `Bearer ${TOKEN.slice(0, 5)}`,
    `Bearer ${TOKEN}extra`,
    `Basic ${btoa(`admin:${TOKEN}`)}`,
    `Bearer`,
    `Bearer ${TOKEN} ${TOKEN}`,
    TOKEN,
  ];
  const bodies = new Set<string>();
  for (const authorization of presented) {
    const response = await admin.fetch(get("/v1/pools", authorization));
    bodies.add(await assertUnauthorized(response, String(authorization)));
  }
  assert.equal(bodies.size, 1, "every refusal has the same body");
});

Deno.test("createAdminApp() lets the right bearer token through, scheme in any case", async () => {
  const admin = app(TOKEN);
  for (const scheme of ["Bearer", "bearer", "BEARER"]) {
    const response = await admin.fetch(get("/v1/pools", `${scheme} ${TOKEN}`));
    assert.equal(response.status, 200, scheme);
    assert.deepEqual(await response.json(), { pools: [] });
  }
});

Deno.test("createAdminApp() leaves /healthz and /readyz open with a token", async () => {
  const admin = app(TOKEN);
  assert.equal((await admin.request("/healthz")).status, 200);
  assert.equal((await admin.request("/readyz")).status, 200);
  // Only those exact paths: a path that merely starts with one is guarded.
  await assertUnauthorized(await admin.request("/healthz/x"), "/healthz/x");
});

Deno.test("createAdminApp() without a token needs none", async () => {
  const admin = app();
  for (const [method, path] of [["GET", "/v1/pools"], ["GET", "/v1/registrar"]] as const) {
    const response = await admin.request(path, { method });
    assert.equal(response.status, 200, `${method} ${path}`);
  }
});

Deno.test("checkAdminToken() refuses an empty token and one with spaces, naming neither", () => {
  assert.throws(() => checkAdminToken(""), { name: "RangeError", message: /empty/ });
  for (const token of ["two words", "line\n", "tab\there", "nön-ascii"]) {
    assert.throws(() => checkAdminToken(token), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.ok(!error.message.includes(token));
      return true;
    });
  }
  assert.throws(
    () => createAdminApp({ backend: new AdminBackendFixture(), token: "a b" }),
    RangeError,
  );
  checkAdminToken("A-very_long.token~with+base64/chars==");
});

Deno.test("digestsEqual() compares every byte and refuses other lengths", () => {
  const a = new Uint8Array(32).fill(7);
  assert.equal(digestsEqual(a, a.slice()), true);
  for (const index of [0, 15, 31]) {
    const b = a.slice();
    b[index] = 8;
    assert.equal(digestsEqual(a, b), false, `differs at ${index}`);
  }
  assert.equal(digestsEqual(a, a.subarray(0, 31)), false);
});

Deno.test("bearerAuth() compares SHA-256 digests without an early exit (code review)", async () => {
  // The constant-time property is in the code, so the test reads it: both sides are hashed
  // and compared by digestsEqual(), whose loop has no return inside.
  const source = await Deno.readTextFile(
    new URL("../../../proxy/admin/bearer_auth.ts", import.meta.url),
  );
  assert.match(source, /crypto\.subtle\.digest\("SHA-256"/);
  assert.match(source, /digestsEqual\(want, got\)/);
  const loop = /for \(let i = 0; i < a\.length; i\+\+\) (.*)\n/.exec(source)?.[1];
  assert.equal(loop, "difference |= a[i]! ^ b[i]!;");
  assert.doesNotMatch(source, /presented === (?:expected|token)|=== options\.token/);
});
