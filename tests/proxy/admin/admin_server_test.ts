import assert from "node:assert/strict";
import { ListenError } from "../../../lib/transport/listen_error.ts";
import {
  AdminServerError,
  isLoopbackHostname,
  startAdminServer,
} from "../../../proxy/admin/admin_server.ts";
import {
  listenerListSchema,
  listenerViewSchema,
  memberViewSchema,
  poolDetailSchema,
  readinessSchema,
  registrarStatusSchema,
  sessionListSchema,
} from "../../../proxy/admin/admin_schemas.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../../proxy/admin/metrics.ts";
import { AdminBackendFixture } from "../../_support/admin_backend_fixture.ts";
import { withDeadline } from "../../_support/deadline.ts";
import { expectJson, expectProblem } from "./_admin_requests.ts";
import { parsePrometheusText } from "./_prometheus_text.ts";

const TOKEN = "admin-server-test-token";

function urlOf(addr: Deno.NetAddr, path: string): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `http://${host}:${addr.port}${path}`;
}

function jsonInit(method: string, body: unknown, token?: string): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
  };
}

Deno.test("startAdminServer() serves every route group over a real socket", async () => {
  const backend = new AdminBackendFixture();
  await using server = startAdminServer({ backend, port: 0 });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.ok(server.addr.port > 0);
  const at = (path: string) => urlOf(server.addr, path);

  // Pools and members.
  const member = {
    hostname: "10.0.0.1",
    port: 80,
    policy: { name: "rr" },
    peId: 12,
  };
  const added = await fetch(at("/v1/pools/edge%2Fweb/members"), jsonInit("POST", member));
  assert.equal((await expectJson(added, 201, memberViewSchema)).peId, 12);
  const pool = await expectJson(await fetch(at("/v1/pools/edge%2Fweb")), 200, poolDetailSchema);
  assert.equal(pool.handle, "edge/web");
  const patched = await fetch(
    at("/v1/pools/edge%2Fweb/members/12"),
    jsonInit("PATCH", { drain: true }),
  );
  assert.equal((await expectJson(patched, 200, memberViewSchema)).state, "draining");

  // Sessions.
  const session = backend.openSession("edge/web", "192.0.2.9:1234", 12);
  const sessions = await expectJson(await fetch(at("/v1/sessions")), 200, sessionListSchema);
  assert.equal(sessions.sessions[0]?.id, session.id);
  const closed = await fetch(at(`/v1/sessions/${session.id}`), { method: "DELETE" });
  assert.equal(closed.status, 204);
  await closed.body?.cancel();

  // Listeners.
  const listener = { id: "front", kind: "tcp", hostname: "127.0.0.1", port: 0, pool: "edge/web" };
  await expectJson(
    await fetch(at("/v1/listeners"), jsonInit("POST", listener)),
    201,
    listenerViewSchema,
  );
  const listeners = await expectJson(await fetch(at("/v1/listeners")), 200, listenerListSchema);
  assert.deepEqual(listeners.listeners.map((one) => one.id), ["front"]);

  // Registrar, monitoring, description.
  await expectJson(await fetch(at("/v1/registrar")), 200, registrarStatusSchema);
  const metrics = await fetch(at("/metrics"));
  assert.equal(metrics.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  assert.ok(parsePrometheusText(await metrics.text()).has("poolgate_pool_elements"));
  await expectJson(await fetch(at("/readyz")), 200, readinessSchema);
  const health = await fetch(at("/healthz"));
  assert.deepEqual(await health.json(), { status: "ok" });
  const openApi = await fetch(at("/openapi.json"));
  assert.match(String((await openApi.json()).openapi), /^3\.1\./);

  // Errors.
  await expectProblem(await fetch(at("/v1/unknown")), 404);
  await expectProblem(await fetch(at("/v1/pools"), { method: "PUT" }), 405);
  await expectProblem(await fetch(at("/v1/pools/edge%2Fweb/members/x")), 400, { field: "peId" });
});

Deno.test("startAdminServer() bounds bodies on the wire, sized and chunked", async () => {
  await using server = startAdminServer({
    backend: new AdminBackendFixture(),
    port: 0,
    maxBodyBytes: 4096,
  });
  const url = urlOf(server.addr, "/v1/listeners");
  const big = JSON.stringify({ id: "x".repeat(10_000) });
  await expectProblem(await fetch(url, jsonInit("POST", JSON.parse(big))), 413);
  const chunks = new Blob([big]).stream();
  const chunked = await fetch(url, {
    method: "POST",
    body: chunks,
    headers: { "content-type": "application/json" },
  });
  await expectProblem(chunked, 413);
});

Deno.test("startAdminServer() with a token asks for it over the wire, probes stay open", async () => {
  const backend = new AdminBackendFixture();
  await using server = startAdminServer({ backend, port: 0, token: TOKEN });
  const at = (path: string) => urlOf(server.addr, path);
  const refused = await fetch(at("/v1/pools"));
  assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="poolgate-admin"');
  await expectProblem(refused, 401);
  await expectProblem(
    await fetch(at("/v1/pools"), {
      headers: { authorization: `Bearer ${"x".repeat(TOKEN.length)}` },
    }),
    401,
  );
  const allowed = await fetch(at("/v1/pools"), { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(await allowed.json(), { pools: [] });
  assert.equal((await fetch(at("/healthz"))).status, 200);
  backend.setReady("registrar", false, "not serving yet");
  const notReady = await expectJson(await fetch(at("/readyz")), 503, readinessSchema);
  assert.deepEqual(notReady.notReady, ["registrar"]);
});

Deno.test("startAdminServer() refuses an address off loopback without a token", () => {
  for (const hostname of ["0.0.0.0", "::", "192.0.2.10", "example.com", "128.0.0.1"]) {
    assert.throws(
      () => startAdminServer({ backend: new AdminBackendFixture(), hostname, port: 0 }),
      (error: unknown) => {
        assert.ok(error instanceof AdminServerError, hostname);
        assert.equal(error.name, "AdminServerError");
        assert.equal(error.problem, "no-token-off-loopback");
        assert.match(
          error.message,
          new RegExp(`on ${hostname.replaceAll(".", "\\.")} without a token`),
        );
        return true;
      },
    );
  }
});

Deno.test("startAdminServer() without a token binds IPv6 loopback too", async () => {
  let server;
  try {
    server = startAdminServer({ backend: new AdminBackendFixture(), hostname: "::1", port: 0 });
  } catch (error) {
    // A host without IPv6 cannot bind ::1; that is not what this test is about.
    if (error instanceof ListenError && error.cause instanceof Deno.errors.AddrNotAvailable) return;
    throw error;
  }
  await using _server = server;
  assert.equal(server.addr.hostname, "::1");
  const response = await fetch(urlOf(server.addr, "/healthz"));
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("startAdminServer() stops on its signal and shutdown() is idempotent", async () => {
  const controller = new AbortController();
  const server = startAdminServer({
    backend: new AdminBackendFixture(),
    port: 0,
    signal: controller.signal,
  });
  const response = await fetch(urlOf(server.addr, "/healthz"));
  await response.body?.cancel();
  controller.abort();
  await withDeadline(server.finished, 5_000, "the admin server to stop on abort");
  await server.shutdown();
  await server.shutdown();
  await assert.rejects(fetch(urlOf(server.addr, "/healthz")), TypeError);
});

Deno.test("startAdminServer() checks the token before it binds", () => {
  assert.throws(
    () => startAdminServer({ backend: new AdminBackendFixture(), port: 0, token: "" }),
    RangeError,
  );
});

Deno.test("isLoopbackHostname() accepts 127.0.0.0/8, ::1 and localhost only", () => {
  const loopback = [
    "127.0.0.1",
    "127.1.2.3",
    "127.255.255.255",
    "::1",
    "0:0:0:0:0:0:0:1",
    "localhost",
    "LOCALHOST",
    "::ffff:127.0.0.1",
  ];
  const other = [
    "0.0.0.0",
    "::",
    "10.0.0.1",
    "127.0.0.256",
    "127.0.0",
    "127.00.0.1",
    "localhost.example",
    "::2",
    "::ffff:10.0.0.1",
    "",
  ];
  for (const hostname of loopback) assert.equal(isLoopbackHostname(hostname), true, hostname);
  for (const hostname of other) assert.equal(isLoopbackHostname(hostname), false, hostname);
});
