import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  listenerListSchema,
  memberViewSchema,
  poolDetailSchema,
} from "../../proxy/admin/admin_schemas.ts";
import { CONFIG_STORE_MIGRATIONS, openConfigStore } from "../../proxy/config_store.ts";
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

/** Runs `serve` on `dataDir` and resolves with its exit code and non-empty stderr lines. */
async function failedStart(dataDir: string, args: readonly string[] = []) {
  await using proc = spawnServe([
    "--admin",
    "127.0.0.1:0",
    "--data-dir",
    dataDir,
    ...args,
  ]);
  const status = await proc.waitForExit(20_000);
  return { code: status.code, lines: proc.stderrLines.filter((line) => line !== "") };
}

Deno.test("main.ts serve keeps API changes across a SIGKILL: members, marks, pool settings and listeners come back", async () => {
  await using a = await startEchoProcess();
  await using b = await startEchoProcess();
  using dataDir = makeDataDir();
  {
    await using serve = await startServe([], { dataDir: dataDir.path });
    for (const [peId, port] of [[21, a.port], [22, b.port]] as const) {
      await addMember(serve, "web", peId, port, {
        policy: { name: "wrr", weight: 2 },
        check: { kind: "send-expect", send: "ping\\n", expect: "ping" },
      });
    }
    const drained = await serve.request("PATCH", "/v1/pools/web/members/22", { drain: true });
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    const settings = await serve.request("PATCH", "/v1/pools/web", {
      failover: "migrate",
      maxFailovers: 5,
    });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const listener = await serve.request("POST", "/v1/listeners", {
      id: "front",
      kind: "tcp",
      hostname: "127.0.0.1",
      port: 0,
      pool: "web",
    });
    assert.equal(listener.status, 201, JSON.stringify(listener.body));
    // No graceful stop: every answer above must already be on disk.
    serve.proc.child.kill("SIGKILL");
    assert.equal((await serve.proc.waitForExit()).signal, "SIGKILL");
  }

  await using serve = await startServe([], { dataDir: dataDir.path });
  const pool = poolDetailSchema.parse((await serve.request("GET", "/v1/pools/web")).body);
  assert.deepEqual(
    pool.members.map((m) => [m.peId, m.state, m.static, m.policy, m.check?.kind]),
    [
      [21, "active", true, { name: "wrr", weight: 2 }, "send-expect"],
      [22, "draining", true, { name: "wrr", weight: 2 }, "send-expect"],
    ],
  );
  assert.equal(pool.settings.failover, "migrate");
  assert.equal(pool.settings.maxFailovers, 5);
  const { listeners } = listenerListSchema.parse(
    (await serve.request("GET", "/v1/listeners")).body,
  );
  assert.deepEqual(listeners.map((l) => [l.id, l.port]), [["front", 0]]);
  using client = await Deno.connect({
    hostname: "127.0.0.1",
    port: await listenerPort(serve, "front"),
  });
  await roundTrip(client, "after the restart\n");
  assert.equal(await sessionPeId(serve, client), 21, "the drained member takes no new session");
});

Deno.test("main.ts serve stops on a corrupt store with one line and exit 1, and leaves the file as it was", async () => {
  using dataDir = makeDataDir();
  const garbage = new TextEncoder().encode("this is not a SQLite database\n".repeat(200));
  Deno.writeFileSync(dataDir.file, garbage);
  const { code, lines } = await failedStart(dataDir.path);
  assert.equal(code, 1, lines.join("\n"));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0] ?? "", /^Cannot open config store .*poolgate\.sqlite: the file is corrupt/);
  assert.deepEqual(Deno.readFileSync(dataDir.file), garbage);
});

Deno.test("main.ts serve stops on a store of a newer schema with one line and exit 1, and leaves the file as it was", async () => {
  using dataDir = makeDataDir();
  openConfigStore({ dataDir: dataDir.path }).close();
  const db = new DatabaseSync(dataDir.file);
  db.exec(`PRAGMA user_version = ${CONFIG_STORE_MIGRATIONS.length + 1}`);
  db.close();
  const before = Deno.readFileSync(dataDir.file);
  const { code, lines } = await failedStart(dataDir.path);
  assert.equal(code, 1, lines.join("\n"));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0] ?? "", /: its schema version \d+ is newer than the version \d+/);
  assert.deepEqual(Deno.readFileSync(dataDir.file), before);
});

/**
 * Stores the tcp listener "front" for pool "a" on a port free now, through the API of a serve
 * that then stops; resolves with the port.
 */
async function storeFrontListener(dataDir: string): Promise<number> {
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = free.addr.port;
  free.close();
  await using serve = await startServe([], { dataDir });
  const body = { id: "front", kind: "tcp", hostname: "127.0.0.1", port, pool: "a" };
  const listener = await serve.request("POST", "/v1/listeners", body);
  assert.equal(listener.status, 201, JSON.stringify(listener.body));
  return port;
}

Deno.test("main.ts serve stops naming both listeners when a flag listener clashes with a stored one", async () => {
  using dataDir = makeDataDir();
  const port = await storeFrontListener(dataDir.path);
  const { code, lines } = await failedStart(dataDir.path, ["--listen", `127.0.0.1:${port}=b`]);
  assert.equal(code, 1, lines.join("\n"));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0] ?? "", /stored listener "front" .*flag listener "tcp-127\.0\.0\.1-\d+"/);
});

Deno.test("main.ts serve names a stored listener by its id when its address is taken at start-up", async () => {
  using dataDir = makeDataDir();
  const port = await storeFrontListener(dataDir.path);
  using _taken = Deno.listen({ hostname: "127.0.0.1", port });
  const { code, lines } = await failedStart(dataDir.path, ["--log-level", "error"]);
  assert.equal(code, 1, lines.join("\n"));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0] ?? "",
    new RegExp(
      `^Cannot listen on 127\\.0\\.0\\.1:${port} \\(front listener "front" for pool a\\): `,
    ),
  );
});

Deno.test("main.ts serve: 50 parallel POST and DELETE leave a store that matches the API", async () => {
  await using echo = await startEchoProcess();
  using dataDir = makeDataDir();
  await using serve = await startServe([], { dataDir: dataDir.path });
  const add = (peId: number) =>
    addMember(serve, "web", peId, echo.port, {
      check: { kind: "connect", intervalMs: 1_000 },
      ...(peId % 3 === 0 ? { drain: true } : {}),
    });
  const remove = (peId: number) => serve.request("DELETE", `/v1/pools/web/members/${peId}`);
  // 30 additions and 20 removals of the first 20, all at once: a removal may come before or
  // after its addition, but whatever the order, the store must say what the API says.
  const answers: { status: number }[] = await Promise.all([
    ...Array.from({ length: 30 }, (_, i) => add(i + 1).then(() => ({ status: 201 }))),
    ...Array.from({ length: 20 }, (_, i) => remove(i + 1)),
  ]);
  for (const answer of answers.slice(30)) {
    assert.ok(answer.status === 204 || answer.status === 404, JSON.stringify(answer));
  }
  const pool = poolDetailSchema.parse((await serve.request("GET", "/v1/pools/web")).body);
  const fromApi = pool.members.map((m) => [m.peId, m.state === "draining"]);
  assert.ok(fromApi.length >= 10 && fromApi.length <= 30, JSON.stringify(fromApi));
  using store = openConfigStore({ dataDir: dataDir.path });
  const stored = store.listMembers("web").map((record) => [record.peId, record.drain]);
  assert.deepEqual(stored, fromApi);
  for (const member of pool.members) memberViewSchema.parse(member);
});

Deno.test("main.ts serve: a change to a flag member is stored and wins over the same flag after a restart", async () => {
  await using echo = await startEchoProcess();
  using dataDir = makeDataDir();
  const flags = ["--member", `web=127.0.0.1:${echo.port}`];
  let peId: number;
  {
    await using serve = await startServe(flags, { dataDir: dataDir.path });
    const pool = poolDetailSchema.parse((await serve.request("GET", "/v1/pools/web")).body);
    assert.equal(pool.members.length, 1);
    peId = pool.members[0]!.peId;
    const drained = await serve.request("PATCH", `/v1/pools/web/members/${peId}`, { drain: true });
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    serve.proc.child.kill("SIGKILL");
    await serve.proc.waitForExit();
  }
  await using serve = await startServe(flags, { dataDir: dataDir.path });
  await serve.proc.waitForLine(/Stored configuration replaces flag/);
  const pool = poolDetailSchema.parse((await serve.request("GET", "/v1/pools/web")).body);
  assert.deepEqual(pool.members.map((m) => [m.peId, m.state]), [[peId, "draining"]]);
});
