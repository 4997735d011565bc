import assert from "node:assert/strict";
import {
  memberViewSchema,
  poolDetailSchema,
  problemSchema,
  readinessSchema,
  registrarStatusSchema,
  sessionListSchema,
} from "../../proxy/admin/admin_schemas.ts";
import { startEchoProcess } from "../_support/echo_process.ts";
import {
  addMember,
  listenerPort,
  makeDataDir,
  roundTrip,
  sessionPeId,
  spawnServe,
  startServe,
} from "./_serve_admin.ts";

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

Deno.test("main.ts serve: a member added through the admin API serves; drained, it keeps its session and new ones go elsewhere; metrics follow", async () => {
  await using a = await startEchoProcess();
  await using b = await startEchoProcess();
  using dataDir = makeDataDir();
  await using serve = await startServe([
    "--listen",
    "127.0.0.1:0=web",
    "--pool",
    "web:failover=migrate",
  ], { dataDir: dataDir.path });
  const port = await listenerPort(serve, "tcp-127.0.0.1-0");

  assert.equal((await addMember(serve, "web", 101, a.port)).state, "active");
  using first = await connect(port);
  await roundTrip(first, "first\n");
  assert.equal(await sessionPeId(serve, first), 101);

  await addMember(serve, "web", 102, b.port);
  const drained = await serve.request("PATCH", "/v1/pools/web/members/101", { drain: true });
  assert.equal(drained.status, 200, JSON.stringify(drained.body));
  assert.equal(memberViewSchema.parse(drained.body).state, "draining");

  const later: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const conn = await connect(port);
      later.push(conn);
      await roundTrip(conn, `later ${i}\n`);
      assert.equal(await sessionPeId(serve, conn), 102, "a new session avoids the drained member");
    }
    await roundTrip(first, "still on the drained member\n");
    assert.equal(await sessionPeId(serve, first), 101);

    const pool = poolDetailSchema.parse((await serve.request("GET", "/v1/pools/web")).body);
    assert.deepEqual(pool.members.map((m) => [m.peId, m.state, m.sessions]), [
      [101, "draining", 1],
      [102, "active", 3],
    ]);
    let metrics = await serve.metrics();
    assert.equal(metrics.get("poolgate_sessions"), 4);
    assert.equal(metrics.get("poolgate_sessions_total"), 4);
    assert.equal(metrics.get('poolgate_pool_elements{pool="web",state="draining"}'), 1);
    assert.equal(metrics.get('poolgate_pool_elements{pool="web",state="active"}'), 1);
    const bytesIn = metrics.get('poolgate_bytes_total{direction="in"}') ?? 0;
    assert.ok(bytesIn >= "first\nstill on the drained member\n".length + 3 * 8, String(bytesIn));
    assert.equal(metrics.get('poolgate_bytes_total{direction="out"}'), bytesIn);
    assert.equal(metrics.get('poolgate_failovers_total{cause="admin"}'), undefined);

    // The operator moves the drained member's last session over (migrate: the client stays).
    const { sessions } = sessionListSchema.parse((await serve.request("GET", "/v1/sessions")).body);
    const session = sessions.find((s) => s.peId === 101);
    const moved = await serve.request("POST", `/v1/sessions/${session?.id}/failover`);
    assert.equal(moved.status, 202, JSON.stringify(moved.body));
    await roundTrip(first, "moved\n");
    assert.equal(await sessionPeId(serve, first), 102);
    metrics = await serve.metrics();
    assert.equal(metrics.get('poolgate_failovers_total{cause="admin"}'), 1);
    assert.ok((metrics.get("poolgate_handle_resolutions_total") ?? 0) >= 5);
  } finally {
    for (const conn of later) conn.close();
  }
});

Deno.test("main.ts serve with --admin-token-file answers 401 without the token and 200 with it; probes stay open", async () => {
  using dataDir = makeDataDir();
  const tokenFile = `${dataDir.path}/token`;
  Deno.writeTextFileSync(tokenFile, "s3cret-token\n");
  await using serve = await startServe(["--admin-token-file", tokenFile], {
    dataDir: dataDir.path,
  });
  await serve.proc.waitForLine(/bearer token required/);

  const without = await serve.request("GET", "/v1/pools");
  assert.equal(without.status, 401);
  assert.equal(problemSchema.parse(without.body).status, 401);
  assert.equal((await serve.request("GET", "/v1/pools", undefined, "s3cret-tokeN")).status, 401);
  const withToken = await serve.request("GET", "/v1/pools", undefined, "s3cret-token");
  assert.equal(withToken.status, 200);
  assert.deepEqual(withToken.body, { pools: [] });

  const ready = await serve.request("GET", "/readyz");
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.deepEqual(readinessSchema.parse(ready.body).notReady, []);
  assert.equal((await serve.request("GET", "/healthz")).status, 200);
  const registrar = await serve.request("GET", "/v1/registrar", undefined, "s3cret-token");
  assert.deepEqual(registrarStatusSchema.parse(registrar.body).peers, []);
  assert.ok(
    serve.proc.stderrLines.every((line) => !line.includes("s3cret")),
    "the token is never logged",
  );
});

Deno.test("main.ts serve takes the admin token from POOLGATE_ADMIN_TOKEN", async () => {
  await using serve = await startServe([], { env: { POOLGATE_ADMIN_TOKEN: "from-env" } });
  assert.equal((await serve.request("GET", "/v1/pools")).status, 401);
  assert.equal((await serve.request("GET", "/v1/pools", undefined, "from-env")).status, 200);
});

Deno.test("main.ts serve without a token binds the admin API to loopback and says so", async () => {
  await using serve = await startServe([]);
  const line = await serve.proc.waitForLine(/Admin API listening on/);
  assert.equal(JSON.parse(line).level, "WARN");
  assert.match(line, /without a token: bound to loopback only/);
  assert.equal((await serve.request("GET", "/v1/pools")).status, 200);
});

Deno.test("main.ts serve refuses an admin address off loopback without a token: one line, exit 2", async () => {
  await using proc = spawnServe([
    "--no-store",
    "--admin",
    "0.0.0.0:0",
  ]);
  const status = await proc.waitForExit(20_000);
  assert.equal(status.code, 2, proc.stderrLines.join("\n"));
  const lines = proc.stderrLines.filter((line) => line !== "");
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0] ?? "", /^Cannot serve the admin API on 0\.0\.0\.0:0 without a token/);
});

Deno.test("main.ts serve stops with one line and exit 1 when the --admin address it was given is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using proc = spawnServe([
    "--no-store",
    "--admin",
    `127.0.0.1:${taken.addr.port}`,
  ]);
  const status = await proc.waitForExit(20_000);
  assert.equal(status.code, 1, proc.stderrLines.join("\n"));
  const last = proc.stderrLines.filter((line) => line !== "").at(-1) ?? "";
  assert.match(
    last,
    new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port} \\(admin API\\): `),
  );
});

Deno.test("main.ts serve --admin off serves no admin API", async () => {
  await using proc = spawnServe([
    "--no-store",
    "--admin",
    "off",
    "--log-format",
    "json",
  ]);
  await proc.waitForLine(/serving ASAP on/, 20_000);
  assert.ok(proc.stderrLines.every((line) => !/Admin API/.test(line)), proc.stderrLines.join("\n"));
});
