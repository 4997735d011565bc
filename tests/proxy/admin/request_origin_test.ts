import assert from "node:assert/strict";
import { createAdminApp } from "../../../proxy/admin/admin_app.ts";
import { isLoopbackHost } from "../../../proxy/admin/request_origin.ts";
import { AdminBackendFixture } from "../../_support/admin_backend_fixture.ts";

const TOKEN = "s3cret-token-for-tests";

Deno.test("createAdminApp() without a token refuses requests addressed to a non-loopback name (DNS rebinding)", async () => {
  const app = createAdminApp({ backend: new AdminBackendFixture() });
  const rebound = await app.request("http://evil.example:8080/v1/pools");
  assert.equal(rebound.status, 403);
  assert.match((await rebound.json()).detail, /loopback name/);
  for (const host of ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "admin.localhost"]) {
    const ok = await app.request(`http://${host}/v1/pools`);
    assert.equal(ok.status, 200, host);
  }
});

Deno.test("createAdminApp() refuses a cross-site request that would change something", async () => {
  const app = createAdminApp({ backend: new AdminBackendFixture(), token: TOKEN });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const forged = await app.request("http://127.0.0.1:8080/v1/sessions/1/failover", {
    method: "POST",
    headers: { ...auth, origin: "https://evil.example" },
  });
  assert.equal(forged.status, 403);
  const fetchMetadata = await app.request("http://127.0.0.1:8080/v1/sessions/1", {
    method: "DELETE",
    headers: { ...auth, "sec-fetch-site": "cross-site" },
  });
  assert.equal(fetchMetadata.status, 403);
  const sameOrigin = await app.request("http://127.0.0.1:8080/v1/sessions/1/failover", {
    method: "POST",
    headers: { ...auth, origin: "http://127.0.0.1:8080" },
  });
  assert.notEqual(sameOrigin.status, 403, "the dashboard's own requests pass");
  const read = await app.request("http://admin.example/v1/pools", {
    headers: { ...auth, origin: "https://evil.example" },
  });
  assert.equal(read.status, 200, "with a token, reads from any name are the token's business");
});

Deno.test("isLoopbackHost() knows the names loopback answers to", () => {
  for (const name of ["localhost", "a.localhost", "127.0.0.1", "127.1.2.3", "[::1]", "::1"]) {
    assert.ok(isLoopbackHost(name), name);
  }
  for (const name of ["example.com", "128.0.0.1", "localhost.example", "10.0.0.1", "::2"]) {
    assert.ok(!isLoopbackHost(name), name);
  }
});
