import assert from "node:assert/strict";
import { computeChecksum } from "../../../lib/handlespace/checksum.ts";
import { ErrorCauseCode } from "../../../lib/wire/codes.ts";
import { createAdminApp } from "../../../proxy/admin/admin_app.ts";
import type { AdminBackend } from "../../../proxy/admin/admin_backend.ts";
import {
  failoverListSchema,
  healthSchema,
  listenerListSchema,
  listenerViewSchema,
  memberViewSchema,
  poolDetailSchema,
  poolListSchema,
  poolSettingsViewSchema,
  readinessSchema,
  registrarStatusSchema,
  sessionListSchema,
} from "../../../proxy/admin/admin_schemas.ts";
import { ProblemType } from "../../../proxy/admin/problem.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FAILOVER_MODE,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FAILOVERS,
  DEFAULT_PROXY_PROTOCOL,
  DEFAULT_REPLAY_BUFFER_BYTES,
} from "../../../proxy/settings.ts";
import {
  AdminBackendFixture,
  FIXTURE_NOW_MS,
  FIXTURE_REGISTRATION_LIFE_MS,
  FIXTURE_SERVER_ID,
} from "../../_support/admin_backend_fixture.ts";
import { expectJson, expectProblem, send } from "./_admin_requests.ts";

const WRR_MEMBER = {
  hostname: "10.0.0.1",
  port: 8080,
  policy: { name: "wrr", weight: 3 },
} as const;

/** A fixture with pool "web" (wrr): static member 1, ASAP-registered member 2, sessions on both. */
function setUp(options: { maxPoolElementsPerPool?: number } = {}) {
  const backend = new AdminBackendFixture(options);
  const app = createAdminApp({ backend });
  return { backend, app };
}

/** Adds a round-robin static member checked by connect. */
function addRoundRobin(backend: AdminBackendFixture, pool: string, peId: number) {
  return backend.addMember(pool, {
    hostname: `${pool}${peId}`,
    port: 5432,
    peId,
    policy: { name: "rr" },
    check: { kind: "connect" },
  });
}

async function seedWeb(backend: AdminBackendFixture) {
  await backend.addMember("web", {
    ...WRR_MEMBER,
    peId: 1,
    check: { kind: "send-expect", send: "PING\\r\\n", expect: "PONG" },
  });
  backend.registerOverAsap("web", {
    peId: 2,
    addresses: ["10.0.0.2", "fd00::2"],
    port: 9000,
    transportUse: "data-plus-control",
    policy: { name: "wrr", weight: 5 },
  });
}

// ─── Pools ─────────────────────────────────────────────────────────────────────────────────

Deno.test("GET /v1/pools lists each pool's handle, policy, member count and sessions", async () => {
  const { backend, app } = setUp();
  await expectJson(await send(app, "GET", "/v1/pools"), 200, poolListSchema);
  await seedWeb(backend);
  await addRoundRobin(backend, "db", 1);
  backend.openSession("web", "192.0.2.1:4000", 1);
  backend.openSession("web", "192.0.2.2:4000", 2);
  const body = await expectJson(await send(app, "GET", "/v1/pools"), 200, poolListSchema);
  assert.deepEqual(body.pools, [
    { handle: "db", policy: "rr", members: 1, sessions: 0 },
    { handle: "web", policy: "wrr", members: 2, sessions: 2 },
  ]);
});

Deno.test("GET /v1/pools/{handle} shows every member field and the settings", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  backend.openSession("web", "192.0.2.1:4000", 2);
  const pool = await expectJson(await send(app, "GET", "/v1/pools/web"), 200, poolDetailSchema);
  assert.equal(pool.handle, "web");
  assert.equal(pool.policy, "wrr");
  assert.equal(pool.sessions, 1);
  assert.deepEqual(pool.members[1], {
    peId: 2,
    addresses: ["10.0.0.2", "fd00::2"],
    port: 9000,
    transportUse: "data-plus-control",
    policy: { name: "wrr", weight: 5 },
    homeRegistrar: FIXTURE_SERVER_ID,
    registrationLifeMs: FIXTURE_REGISTRATION_LIFE_MS,
    state: "active",
    static: false,
    sessions: 1,
    failovers: 0,
    lastUpdate: new Date(FIXTURE_NOW_MS).toISOString(),
  });
  assert.deepEqual(pool.members[0]?.check, {
    kind: "send-expect",
    send: "PING\\r\\n",
    expect: "PONG",
  });
  assert.deepEqual(pool.settings, {
    failover: DEFAULT_FAILOVER_MODE,
    maxFailovers: DEFAULT_MAX_FAILOVERS,
    replayBufferBytes: DEFAULT_REPLAY_BUFFER_BYTES,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
    proxyProtocol: DEFAULT_PROXY_PROTOCOL,
  });
});

Deno.test("GET /v1/pools/{handle} answers 404 for an unknown pool", async () => {
  const { app } = setUp();
  await expectProblem(await send(app, "GET", "/v1/pools/nope"), 404, {
    type: ProblemType.notFound,
    detail: /pool "nope"/,
  });
});

Deno.test("pool handle paths are percent-decoded as UTF-8, '/' included", async () => {
  const { backend, app } = setUp();
  const handle = "tenant/a b é%";
  const path = `/v1/pools/${encodeURIComponent(handle)}`;
  assert.equal(path, "/v1/pools/tenant%2Fa%20b%20%C3%A9%25");
  const created = await send(app, "POST", `${path}/members`, WRR_MEMBER);
  const member = await expectJson(created, 201, memberViewSchema);
  assert.equal(created.headers.get("location"), `${path}/members/${member.peId}`);
  assert.deepEqual([...backend.pools.keys()], [handle]);
  const pool = await expectJson(await send(app, "GET", path), 200, poolDetailSchema);
  assert.equal(pool.handle, handle);
  const again = await send(app, "GET", created.headers.get("location")!);
  assert.equal((await expectJson(again, 200, memberViewSchema)).peId, member.peId);
});

Deno.test("pool handle paths with bad encoding or content answer 400 naming handle", async () => {
  const { app } = setUp();
  const bad = [
    ["web%zz", /two hex digits/],
    ["web%4", /two hex digits/],
    ["%FF%FE", /UTF-8/],
    ["%C3", /UTF-8/],
    ["web%00", /control characters/],
    ["web%0A", /control characters/],
    ["x".repeat(256), /255 UTF-8 bytes/],
  ] as const;
  for (const [handle, detail] of bad) {
    for (const method of ["GET", "PATCH"]) {
      const response = await send(app, method, `/v1/pools/${handle}`, { failover: "migrate" });
      await expectProblem(response, 400, {
        type: ProblemType.invalidInput,
        field: "handle",
        detail,
      });
    }
    const response = await send(app, "POST", `/v1/pools/${handle}/members`, WRR_MEMBER);
    await expectProblem(response, 400, { field: "handle", detail });
  }
});

Deno.test("PATCH /v1/pools/{handle} changes settings and keeps the others", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const first = await send(app, "PATCH", "/v1/pools/web", {
    failover: "migrate",
    maxFailovers: 5,
    proxyProtocol: "v2",
  });
  const settings = await expectJson(first, 200, poolSettingsViewSchema);
  assert.equal(settings.failover, "migrate");
  assert.equal(settings.maxFailovers, 5);
  assert.equal(settings.proxyProtocol, "v2");
  const second = await send(app, "PATCH", "/v1/pools/web", {
    replayBufferBytes: 1024,
    connectTimeoutMs: 250,
    idleTimeoutMs: 0,
    policy: "wrr",
  });
  assert.deepEqual(await expectJson(second, 200, poolSettingsViewSchema), {
    policy: "wrr",
    failover: "migrate",
    maxFailovers: 5,
    replayBufferBytes: 1024,
    connectTimeoutMs: 250,
    idleTimeoutMs: 0,
    proxyProtocol: "v2",
  });
  const pool = await expectJson(await send(app, "GET", "/v1/pools/web"), 200, poolDetailSchema);
  assert.equal(pool.settings.replayBufferBytes, 1024);
});

Deno.test("PATCH /v1/pools/{handle} refuses another policy with 409 cause 5", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const response = await send(app, "PATCH", "/v1/pools/web", { policy: "rr" });
  await expectProblem(response, 409, {
    type: ProblemType.registrarRefused,
    cause: ErrorCauseCode.inconsistentPoolingPolicy,
    causeName: "Inconsistent Pooling Policy",
  });
  assert.equal(backend.settings.get("web"), undefined);
});

Deno.test("PATCH /v1/pools/{handle} answers bad settings with 400 naming the field", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const bad = [
    [{}, "body", /at least one/],
    [{ failover: "teleport" }, "failover", /migrate/],
    [{ maxFailovers: -1 }, "maxFailovers", /./],
    [{ maxFailovers: 1.5 }, "maxFailovers", /./],
    [{ replayBufferBytes: 0 }, "replayBufferBytes", /./],
    [{ connectTimeoutMs: "100" }, "connectTimeoutMs", /expected number/],
    [{ idleTimeoutMs: null }, "idleTimeoutMs", /./],
    [{ proxyProtocol: "v3" }, "proxyProtocol", /./],
    [{ pool: "other" }, "pool", /not a known field/],
    [{ policy: "fastest" }, "policy", /./],
  ] as const;
  for (const [body, field, detail] of bad) {
    const response = await send(app, "PATCH", "/v1/pools/web", body);
    await expectProblem(response, 400, { type: ProblemType.invalidInput, field, detail });
  }
  await expectProblem(await send(app, "PATCH", "/v1/pools/nope", { maxFailovers: 1 }), 404);
});

// ─── Members ───────────────────────────────────────────────────────────────────────────────

Deno.test("POST /v1/pools/{handle}/members adds a static member with a random PE id", async () => {
  const { backend, app } = setUp();
  const response = await send(app, "POST", "/v1/pools/web/members", WRR_MEMBER);
  const member = await expectJson(response, 201, memberViewSchema);
  assert.ok(member.peId >= 1 && member.peId <= 0xffff_ffff);
  assert.deepEqual(member, {
    peId: member.peId,
    addresses: ["10.0.0.1"],
    port: 8080,
    transportUse: "data-only",
    policy: { name: "wrr", weight: 3 },
    homeRegistrar: FIXTURE_SERVER_ID,
    registrationLifeMs: FIXTURE_REGISTRATION_LIFE_MS,
    state: "active",
    static: true,
    sessions: 0,
    failovers: 0,
    lastUpdate: new Date(FIXTURE_NOW_MS).toISOString(),
    check: { kind: "connect" },
  });
  assert.equal(response.headers.get("location"), `/v1/pools/web/members/${member.peId}`);
  assert.equal(backend.pools.get("web")?.size, 1);
});

Deno.test("POST /v1/pools/{handle}/members takes a PE id, check, drain and maintenance", async () => {
  const { app } = setUp();
  const body = {
    peId: 4294967295,
    hostname: "fd00::10",
    port: 1,
    policy: { name: "lud", load: 12.5, loadDegradation: 2 },
    check: {
      kind: "send-expect",
      send: "HEAD / HTTP/1.0\\r\\n\\r\\n",
      expect: "HTTP/1.",
      intervalMs: 500,
    },
    drain: true,
    maintenance: false,
  };
  const member = await expectJson(
    await send(app, "POST", "/v1/pools/web/members", body),
    201,
    memberViewSchema,
  );
  assert.equal(member.peId, 4294967295);
  assert.deepEqual(member.policy, body.policy);
  assert.deepEqual(member.check, body.check);
  assert.equal(member.state, "draining");
});

Deno.test("POST /v1/pools/{handle}/members answers registrar refusals with 409 and the cause", async () => {
  const { backend, app } = setUp({ maxPoolElementsPerPool: 2 });
  await seedWeb(backend);
  await expectProblem(
    await send(app, "POST", "/v1/pools/web/members", { ...WRR_MEMBER, peId: 2 }),
    409,
    { cause: 0x4, causeName: "Non-unique PE Identifier", detail: /already/ },
  );
  await expectProblem(
    await send(app, "POST", "/v1/pools/web/members", { ...WRR_MEMBER, policy: { name: "rr" } }),
    409,
    {
      type: ProblemType.registrarRefused,
      cause: 0x5,
      causeName: "Inconsistent Pooling Policy",
      detail: /uses policy wrr, not rr/,
    },
  );
  await expectProblem(
    await send(app, "POST", "/v1/pools/web/members", WRR_MEMBER),
    409,
    { cause: 0x6, causeName: "Lack of Resources" },
  );
  assert.equal(backend.pools.get("web")?.size, 2);
});

/** Bodies of POST …/members that must be refused, with the field named and the detail. */
const BAD_MEMBERS: readonly [unknown, string, RegExp][] = [
  [{ port: 80, policy: { name: "rr" } }, "hostname", /is required/],
  [{ hostname: "h", policy: { name: "rr" } }, "port", /is required/],
  [{ hostname: "h", port: 80 }, "policy", /is required/],
  [{ hostname: "h", port: "80", policy: { name: "rr" } }, "port", /expected number/],
  [{ hostname: "h", port: 0, policy: { name: "rr" } }, "port", /./],
  [{ hostname: "h", port: 65536, policy: { name: "rr" } }, "port", /./],
  [{ hostname: "h", port: 80.5, policy: { name: "rr" } }, "port", /./],
  [{ hostname: "h h", port: 80, policy: { name: "rr" } }, "hostname", /host name/],
  [{ hostname: "h", port: 80, policy: { name: "rr" }, extra: 1 }, "extra", /not a known field/],
  [{ hostname: "h", port: 80, policy: { name: "fifo" } }, "policy.name", /Invalid option/],
  [
    { hostname: "h", port: 80, policy: { name: "rr", weight: 2 } },
    "policy.weight",
    /has no weight/,
  ],
  [{ hostname: "h", port: 80, policy: { name: "lu", load: 101 } }, "policy.load", /./],
  [{ hostname: "h", port: 80, policy: { name: "wrr", weight: -1 } }, "policy.weight", /./],
  [{ hostname: "h", port: 80, policy: { name: "rr", colour: 1 } }, "policy.colour", /not a known/],
  [{ hostname: "h", port: 80, policy: { name: "rr" }, peId: 0 }, "peId", /./],
  [{ hostname: "h", port: 80, policy: { name: "rr" }, peId: 2 ** 32 }, "peId", /./],
  [{ hostname: "h", port: 80, policy: { name: "rr" }, peId: "7" }, "peId", /expected number/],
  [{ hostname: "h", port: 80, policy: { name: "rr" }, check: { kind: "ping" } }, "check.kind", /./],
  [
    {
      hostname: "h",
      port: 80,
      policy: { name: "rr" },
      check: { kind: "send-expect", send: "\\q", expect: "x" },
    },
    "check.send",
    /unknown escape/,
  ],
  [
    {
      hostname: "h",
      port: 80,
      policy: { name: "rr" },
      check: { kind: "send-expect", send: "x", expect: "" },
    },
    "check.expect",
    /must not be empty/,
  ],
  [
    { hostname: "h", port: 80, policy: { name: "rr" }, check: { kind: "connect", intervalMs: 0 } },
    "check.intervalMs",
    /./,
  ],
  [{ hostname: "h", port: 80, policy: { name: "rr" }, drain: "yes" }, "drain", /expected boolean/],
  [
    { hostname: "h", port: 80, policy: { name: "rr" }, transportUse: "data-only" },
    "transportUse",
    /not a known/,
  ],
  [[], "body", /expected object/],
  [null, "body", /expected object/],
  [42, "body", /expected object/],
  ["not json", "body", /not JSON/],
  ["", "body", /empty/],
  ['{"hostname": "h",}', "body", /not JSON/],
];

Deno.test("POST /v1/pools/{handle}/members answers bad bodies with 400 naming the field", async () => {
  const { backend, app } = setUp();
  for (const [body, field, detail] of BAD_MEMBERS) {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const response = await send(app, "POST", "/v1/pools/web/members", text);
    const problem = await expectProblem(response, 400, { field, detail });
    assert.equal(problem.issues?.[0]?.field, field);
  }
  assert.equal(backend.pools.size, 0);
});

Deno.test("POST /v1/pools/{handle}/members names every issue, the first as the field", async () => {
  const { app } = setUp();
  const response = await send(app, "POST", "/v1/pools/web/members", { port: "x", policy: {} });
  const problem = await expectProblem(response, 400, { field: "hostname" });
  assert.deepEqual(problem.issues?.map((issue) => issue.field), [
    "hostname",
    "port",
    "policy.name",
  ]);
});

Deno.test("request bodies must be application/json, UTF-8 and within the size limit", async () => {
  const { backend } = setUp();
  const app = createAdminApp({ backend, maxBodyBytes: 1024 });
  const json = JSON.stringify(WRR_MEMBER);
  const path = "/v1/pools/web/members";
  for (const contentType of [undefined, "text/plain", "application/x-www-form-urlencoded"]) {
    const headers: Record<string, string> = contentType === undefined
      ? {}
      : { "content-type": contentType };
    const response = await app.request(path, { method: "POST", body: json, headers });
    await expectProblem(response, 415, { field: "content-type" });
  }
  for (const contentType of ["application/json; charset=utf-8", "application/merge-patch+json"]) {
    const response = await send(app, "POST", path, json, { "content-type": contentType });
    assert.equal(response.status, 201, contentType);
  }
  const notUtf8 = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
  await expectProblem(
    await app.request(path, {
      method: "POST",
      body: notUtf8,
      headers: { "content-type": "application/json" },
    }),
    400,
    { field: "body", detail: /UTF-8/ },
  );
  const padded = JSON.stringify({ ...WRR_MEMBER, hostname: "h".repeat(1100) });
  await expectProblem(await send(app, "POST", path, padded), 413, { detail: /1024 bytes/ });
  // Chunked, with no Content-Length: the limit holds while reading.
  const stream = new Blob([padded]).stream();
  const chunked = await app.request(path, {
    method: "POST",
    body: stream,
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
  });
  await expectProblem(chunked, 413);
  assert.throws(() => createAdminApp({ backend, maxBodyBytes: 0 }), RangeError);
});

Deno.test("GET /v1/pools/{handle}/members/{peId} shows one member, 404 when unknown", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const member = await expectJson(
    await send(app, "GET", "/v1/pools/web/members/2"),
    200,
    memberViewSchema,
  );
  assert.equal(member.peId, 2);
  await expectProblem(await send(app, "GET", "/v1/pools/web/members/3"), 404, {
    detail: /pool element 3/,
  });
  await expectProblem(await send(app, "GET", "/v1/pools/nope/members/2"), 404, {
    detail: /pool "nope"/,
  });
});

Deno.test("PE identifiers in paths must be decimal, 1 to 4294967295", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const bad = [
    "0",
    "01",
    "+1",
    "-1",
    "0x10",
    "1e3",
    "1.0",
    "4294967296",
    "99999999999999999",
    "abc",
    "%31",
    "1%20",
  ];
  for (const peId of bad) {
    for (const method of ["GET", "PATCH", "DELETE"]) {
      const response = await send(app, method, `/v1/pools/web/members/${peId}`, { drain: true });
      await expectProblem(response, 400, { field: "peId", detail: /decimal/ });
    }
  }
  const top = await send(app, "GET", "/v1/pools/web/members/4294967295");
  await expectProblem(top, 404);
});

Deno.test("PATCH /v1/pools/{handle}/members/{peId} changes policy values of a static member", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const response = await send(app, "PATCH", "/v1/pools/web/members/1", { weight: 9 });
  const member = await expectJson(response, 200, memberViewSchema);
  assert.deepEqual(member.policy, { name: "wrr", weight: 9 });
  assert.equal(member.state, "active");
});

Deno.test("PATCH /v1/pools/{handle}/members/{peId} drains and puts in maintenance", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  backend.openSession("web", "192.0.2.1:4000", 2);
  const path = "/v1/pools/web/members/2";
  const states: [object, string][] = [
    [{ drain: true }, "draining"],
    [{ maintenance: true }, "maintenance"],
    [{ maintenance: false }, "draining"],
    [{ drain: false }, "active"],
  ];
  for (const [body, state] of states) {
    const member = await expectJson(await send(app, "PATCH", path, body), 200, memberViewSchema);
    assert.equal(member.state, state, JSON.stringify(body));
    // Draining keeps the sessions there.
    assert.equal(member.sessions, 1);
  }
});

Deno.test("PATCH /v1/pools/{handle}/members/{peId} refuses values the policy does not read", async () => {
  const { backend, app } = setUp();
  await addRoundRobin(backend, "db", 5);
  await seedWeb(backend);
  const bad = [
    ["db", 5, { weight: 3 }, "weight", /has no weight/],
    ["web", 1, { load: 50 }, "load", /has no load/],
    ["web", 1, { weight: -2 }, "weight", /./],
    ["web", 1, { weight: "heavy" }, "weight", /expected number/],
    ["web", 1, {}, "body", /at least one/],
    ["web", 1, { name: "rr" }, "name", /not a known field/],
    ["web", 1, { drain: 1 }, "drain", /expected boolean/],
  ] as const;
  for (const [pool, peId, body, field, detail] of bad) {
    const response = await send(app, "PATCH", `/v1/pools/${pool}/members/${peId}`, body);
    await expectProblem(response, 400, { field, detail });
  }
  await expectProblem(await send(app, "PATCH", "/v1/pools/web/members/7", { weight: 1 }), 404);
});

Deno.test("PATCH and DELETE of a PE that registered over ASAP: 409 cause 0xa", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  for (const [method, body] of [["PATCH", { weight: 1 }], ["DELETE", undefined]] as const) {
    await expectProblem(await send(app, method, "/v1/pools/web/members/2", body), 409, {
      cause: ErrorCauseCode.rejectionDueToSecurityConsiderations,
      causeName: "Rejection due to Security Considerations",
    });
  }
  assert.equal(backend.pools.get("web")?.get(2)?.policy.weight, 5);
});

Deno.test("DELETE /v1/pools/{handle}/members/{peId} removes it; the last one takes the pool", async () => {
  const { backend, app } = setUp();
  await addRoundRobin(backend, "solo", 3);
  const response = await send(app, "DELETE", "/v1/pools/solo/members/3");
  assert.equal(response.status, 204);
  assert.equal(await response.text(), "");
  await expectProblem(await send(app, "GET", "/v1/pools/solo/members/3"), 404);
  await expectProblem(await send(app, "GET", "/v1/pools/solo"), 404);
  await expectProblem(await send(app, "DELETE", "/v1/pools/solo/members/3"), 404);
});

// ─── Sessions ──────────────────────────────────────────────────────────────────────────────

Deno.test("GET /v1/sessions lists id, client, pool, PE, bytes, failovers and age", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const session = backend.openSession("web", "[2001:db8::1]:4000", 1);
  backend.forward(session.id, 100, 2500);
  backend.nowMs += 1500;
  const body = await expectJson(await send(app, "GET", "/v1/sessions"), 200, sessionListSchema);
  assert.deepEqual(body.sessions, [{
    id: session.id,
    client: "[2001:db8::1]:4000",
    pool: "web",
    peId: 1,
    bytesIn: 100,
    bytesOut: 2500,
    failovers: 0,
    ageMs: 1500,
  }]);
});

Deno.test("POST /v1/sessions/{id}/failover starts a failover: 202, 404, 409", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const session = backend.openSession("web", "192.0.2.1:4000", 1);
  const response = await send(app, "POST", `/v1/sessions/${session.id}/failover`);
  assert.equal(response.status, 202);
  assert.equal(await response.text(), "");
  const body = await expectJson(await send(app, "GET", "/v1/sessions"), 200, sessionListSchema);
  assert.deepEqual([body.sessions[0]?.peId, body.sessions[0]?.failovers], [2, 1]);
  await expectProblem(await send(app, "POST", "/v1/sessions/999/failover"), 404, {
    detail: /session 999/,
  });
  const connecting = backend.openSession("web", "192.0.2.2:4000", null);
  await expectProblem(await send(app, "POST", `/v1/sessions/${connecting.id}/failover`), 409, {
    type: ProblemType.conflict,
    detail: /not connected/,
  });
});

Deno.test("DELETE /v1/sessions/{id} closes it: 204, then 404", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const session = backend.openSession("web", "192.0.2.1:4000", 1);
  assert.equal((await send(app, "DELETE", `/v1/sessions/${session.id}`)).status, 204);
  assert.equal(backend.sessions.size, 0);
  await expectProblem(await send(app, "DELETE", `/v1/sessions/${session.id}`), 404);
});

Deno.test("GET /v1/failovers lists the newest failovers first, as many as the backend keeps", async () => {
  const backend = new AdminBackendFixture({ maxRecentFailovers: 2 });
  const app = createAdminApp({ backend });
  const empty = await expectJson(await send(app, "GET", "/v1/failovers"), 200, failoverListSchema);
  assert.deepEqual(empty.failovers, []);
  await seedWeb(backend);
  const first = backend.openSession("web", "192.0.2.1:4000", 1);
  const second = backend.openSession("web", "192.0.2.2:4000", 2);
  backend.failSession(first.id, "reset");
  backend.nowMs += 1000;
  assert.equal((await send(app, "POST", `/v1/sessions/${second.id}/failover`)).status, 202);
  backend.nowMs += 1000;
  backend.failSession(first.id, "connect-refused");
  const body = await expectJson(await send(app, "GET", "/v1/failovers"), 200, failoverListSchema);
  assert.deepEqual(body.failovers, [
    {
      at: new Date(FIXTURE_NOW_MS + 2000).toISOString(),
      sessionId: first.id,
      pool: "web",
      fromPeId: 2,
      toPeId: 1,
      cause: "connect-refused",
    },
    {
      at: new Date(FIXTURE_NOW_MS + 1000).toISOString(),
      sessionId: second.id,
      pool: "web",
      fromPeId: 2,
      toPeId: 1,
      cause: "admin",
    },
  ]);
});

Deno.test("session ids in paths must be positive decimal integers", async () => {
  const { app } = setUp();
  for (const id of ["0", "-1", "01", "1.5", "x", "9007199254740992", "0x1"]) {
    await expectProblem(await send(app, "DELETE", `/v1/sessions/${id}`), 400, { field: "id" });
    await expectProblem(await send(app, "POST", `/v1/sessions/${id}/failover`), 400, {
      field: "id",
    });
  }
});

// ─── Listeners ─────────────────────────────────────────────────────────────────────────────

Deno.test("POST /v1/listeners adds tcp, tls and http listeners", async () => {
  const { app } = setUp();
  const tcp = await send(app, "POST", "/v1/listeners", {
    id: "front",
    kind: "tcp",
    hostname: "0.0.0.0",
    port: 0,
    pool: "web",
  });
  const added = await expectJson(tcp, 201, listenerViewSchema);
  assert.equal(tcp.headers.get("location"), "/v1/listeners/front");
  assert.deepEqual(added, {
    id: "front",
    kind: "tcp",
    hostname: "0.0.0.0",
    port: 0,
    pool: "web",
    acceptProxyProtocol: false,
    address: "0.0.0.0:40000",
  });
  const tls = await send(app, "POST", "/v1/listeners", {
    id: "sni",
    kind: "tls",
    hostname: "::",
    port: 8443,
    handleSuffix: ".pools.example",
    acceptProxyProtocol: true,
  });
  assert.equal((await expectJson(tls, 201, listenerViewSchema)).address, "[::]:8443");
  const http = await send(app, "POST", "/v1/listeners", {
    id: "host",
    kind: "http",
    hostname: "127.0.0.1",
    port: 8080,
  });
  await expectJson(http, 201, listenerViewSchema);
  const list = await expectJson(await send(app, "GET", "/v1/listeners"), 200, listenerListSchema);
  assert.deepEqual(list.listeners.map((listener) => listener.id), ["front", "host", "sni"]);
  const one = await expectJson(
    await send(app, "GET", "/v1/listeners/sni"),
    200,
    listenerViewSchema,
  );
  assert.equal(one.handleSuffix, ".pools.example");
});

Deno.test("POST /v1/listeners answers bad listeners with 400 and taken ones with 409", async () => {
  const { app } = setUp();
  const base = { id: "a", kind: "tcp", hostname: "127.0.0.1", port: 7000, pool: "web" };
  const bad: [object, string, RegExp][] = [
    [{ ...base, pool: undefined }, "pool", /needs a pool/],
    [{ ...base, kind: "tls" }, "pool", /takes the pool from the name/],
    [{ ...base, handleSuffix: ".x" }, "handleSuffix", /only tls and http/],
    [{ ...base, kind: "udp" }, "kind", /./],
    [{ ...base, id: "-bad" }, "id", /letters/],
    [{ ...base, id: undefined }, "id", /is required/],
    [{ ...base, port: 70000 }, "port", /./],
    [{ ...base, hostname: "" }, "hostname", /./],
    [{ ...base, acceptProxyProtocol: "yes" }, "acceptProxyProtocol", /expected boolean/],
    [{ ...base, address: "x" }, "address", /not a known field/],
  ];
  for (const [body, field, detail] of bad) {
    await expectProblem(await send(app, "POST", "/v1/listeners", body), 400, { field, detail });
  }
  assert.equal((await send(app, "POST", "/v1/listeners", base)).status, 201);
  await expectProblem(await send(app, "POST", "/v1/listeners", base), 409, {
    type: ProblemType.conflict,
    detail: /already/,
  });
  await expectProblem(await send(app, "POST", "/v1/listeners", { ...base, id: "b" }), 409, {
    detail: /has that address/,
  });
});

Deno.test("DELETE /v1/listeners/{id} removes it: 204, then 404; bad ids 400", async () => {
  const { app } = setUp();
  const base = { id: "front.1", kind: "http", hostname: "127.0.0.1", port: 0 };
  assert.equal((await send(app, "POST", "/v1/listeners", base)).status, 201);
  assert.equal((await send(app, "DELETE", "/v1/listeners/front.1")).status, 204);
  await expectProblem(await send(app, "DELETE", "/v1/listeners/front.1"), 404);
  await expectProblem(await send(app, "GET", "/v1/listeners/front.1"), 404);
  for (const id of ["%zz", "a%20b", "_x", "x".repeat(65)]) {
    await expectProblem(await send(app, "DELETE", `/v1/listeners/${id}`), 400, { field: "id" });
  }
});

// ─── Registrar, health, readiness ──────────────────────────────────────────────────────────

Deno.test("GET /v1/registrar shows the server id, peers and the handlespace checksum", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  backend.registerOverAsap("web", {
    peId: 99,
    addresses: ["10.0.0.99"],
    port: 1,
    transportUse: "data-only",
    policy: { name: "wrr", weight: 1 },
    homeRegistrar: 77,
  });
  backend.peers = [
    { serverId: 77, address: "10.1.0.1:9901", state: "up" },
    { serverId: 78, address: "[fd00::1]:9901", state: "probing" },
  ];
  const status = await expectJson(
    await send(app, "GET", "/v1/registrar"),
    200,
    registrarStatusSchema,
  );
  const web = new TextEncoder().encode("web");
  assert.deepEqual(status, {
    serverId: FIXTURE_SERVER_ID,
    peers: backend.peers,
    // Only the PEs this registrar is home for count (RFC 5353 §3.6.2).
    checksum: computeChecksum([{ handle: web, identifier: 1 }, { handle: web, identifier: 2 }]),
    pools: 1,
    poolElements: 3,
  });
});

Deno.test("GET /healthz answers 200 whatever the backend says", async () => {
  const { backend, app } = setUp();
  backend.setReady("registrar", false);
  assert.deepEqual(await expectJson(await send(app, "GET", "/healthz"), 200, healthSchema), {
    status: "ok",
  });
});

Deno.test("GET /readyz answers 200 when every check is ready, else 503 naming them", async () => {
  const { backend, app } = setUp();
  const ready = await expectJson(await send(app, "GET", "/readyz"), 200, readinessSchema);
  assert.deepEqual([ready.ready, ready.notReady], [true, []]);
  backend.setReady("enrp-sync", false, "waiting for the first handle table from 2 peers");
  backend.setReady("listeners", false);
  const notReady = await expectJson(await send(app, "GET", "/readyz"), 503, readinessSchema);
  assert.equal(notReady.ready, false);
  assert.deepEqual(notReady.notReady, ["listeners", "enrp-sync"]);
  assert.equal(
    notReady.checks.find((check) => check.name === "enrp-sync")?.detail,
    "waiting for the first handle table from 2 peers",
  );
});

// ─── Routing and errors ────────────────────────────────────────────────────────────────────

Deno.test("createAdminApp() answers a wrong method with 405 and Allow", async () => {
  const { app } = setUp();
  const cases = [
    ["PUT", "/v1/pools/web", "GET, HEAD, PATCH, OPTIONS"],
    ["DELETE", "/v1/pools", "GET, HEAD, OPTIONS"],
    ["POST", "/v1/registrar", "GET, HEAD, OPTIONS"],
    ["GET", "/v1/sessions/1/failover", "POST, OPTIONS"],
    ["PUT", "/v1/listeners", "GET, HEAD, POST, OPTIONS"],
    ["POST", "/metrics", "GET, HEAD, OPTIONS"],
  ] as const;
  for (const [method, path, allow] of cases) {
    const response = await send(app, method, path);
    assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
    await expectProblem(response, 405, { detail: new RegExp(`^${method} is not allowed`) });
  }
  const options = await send(app, "OPTIONS", "/v1/pools/web/members/1");
  assert.equal(options.status, 204);
  assert.equal(options.headers.get("allow"), "GET, HEAD, PATCH, DELETE, OPTIONS");
});

Deno.test("createAdminApp() answers unknown routes with a 404 problem", async () => {
  const { app } = setUp();
  for (
    const path of [
      "/index.html",
      "/v2/pools",
      "/v1/pools/",
      "/v1/pools/web/members/1/x",
      "/v1/nothing",
      "/metrics/x",
    ]
  ) {
    await expectProblem(await send(app, "GET", path), 404, { detail: /no route/ });
  }
});

Deno.test("createAdminApp() hides unexpected backend errors behind a 500 problem", async () => {
  const backend = new AdminBackendFixture();
  const failing: AdminBackend = Object.assign(Object.create(backend), {
    listPools: () => Promise.reject(new Error("database password is hunter2")),
  });
  const app = createAdminApp({ backend: failing });
  const problem = await expectProblem(await send(app, "GET", "/v1/pools"), 500);
  assert.doesNotMatch(JSON.stringify(problem), /hunter2/);
});

/** A seeded generator of hostile request bodies. */
function* garbageBodies(
  seed: number,
  count: number,
): Generator<string | Uint8Array<ArrayBuffer>> {
  yield* [
    "",
    " ",
    "null",
    "true",
    "0",
    "-1e400",
    '"text"',
    "[]",
    "{}",
    "{",
    "}",
    '{"a":1}{"b":2}',
    "[".repeat(10_000) + "]".repeat(10_000),
    '{"x":'.repeat(5_000) + "1" + "}".repeat(5_000),
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"hostname":"h","port":80,"policy":{"name":"rr","__proto__":{"weight":1}}}',
    '{"port":1e309}',
    '{"port":NaN}',
    '{"port":-0}',
    '{"peId":1.0000000000000002}',
    '{"policy":{"name":"wrr","weight":4294967296}}',
    '{"hostname":"\\ud800","port":1}',
    '{"kind":"tcp","id":"a","hostname":"h","port":0,"pool":"\\u0000"}',
    JSON.stringify({ hostname: "h".repeat(60_000) }),
    "\uFEFF{}",
  ];
  let state = seed;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const valid = JSON.stringify({ ...WRR_MEMBER, check: { kind: "connect" }, id: "x", kind: "tcp" });
  for (let i = 0; i < count; i++) {
    const bytes = new TextEncoder().encode(valid);
    // Flip, drop or insert a few bytes of a nearly valid body.
    const mutated = [...bytes];
    for (let edits = 1 + (next() % 4); edits > 0; edits--) {
      const at = next() % mutated.length;
      const kind = next() % 3;
      if (kind === 0) mutated[at] = next() % 256;
      else if (kind === 1) mutated.splice(at, 1);
      else mutated.splice(at, 0, next() % 256);
    }
    yield new Uint8Array(mutated);
  }
}

Deno.test("createAdminApp() answers garbage bodies and paths with 4xx, never 5xx", async () => {
  const { backend, app } = setUp();
  await seedWeb(backend);
  const targets = [
    ["POST", "/v1/pools/web/members"],
    ["PATCH", "/v1/pools/web/members/1"],
    ["PATCH", "/v1/pools/web"],
    ["POST", "/v1/listeners"],
    ["POST", "/v1/sessions/1/failover"],
  ] as const;
  let requests = 0;
  for (const body of garbageBodies(20250101, 300)) {
    for (const [method, path] of targets) {
      const response = await app.request(path, {
        method,
        body,
        headers: { "content-type": "application/json" },
      });
      await response.body?.cancel();
      assert.ok(response.status < 500, `${method} ${path} gave ${response.status}`);
      requests++;
    }
  }
  const paths = [
    "/v1/pools/%",
    "/v1/pools/%%",
    "/v1/pools/%u0041",
    "/v1/pools/%C0%AF",
    "/v1/pools/%ED%A0%80",
    "/v1/pools/web/members/%00",
    "/v1/sessions/%FF/failover",
    "/v1/listeners/%E2%82",
  ];
  for (const path of paths) {
    for (const method of ["GET", "POST", "PATCH", "DELETE"]) {
      const response = await app.request(path, { method });
      await response.body?.cancel();
      assert.ok(response.status < 500, `${method} ${path} gave ${response.status}`);
      requests++;
    }
  }
  assert.ok(requests > 1_500);
  assert.equal(Object.getPrototypeOf({}).polluted, undefined);
});
