import assert from "node:assert/strict";
import { registerPoolElement } from "../../lib/asap/mod.ts";
import { ListenError } from "../../lib/transport/listen_error.ts";
import { ErrorCauseCode } from "../../lib/wire/codes.ts";
import {
  AdminConflictError,
  AdminNotFoundError,
  type NewStaticMember,
} from "../../proxy/admin/admin_backend.ts";
import {
  listenerViewSchema,
  memberViewSchema,
  poolDetailSchema,
  readinessCheckSchema,
} from "../../proxy/admin/admin_schemas.ts";
import { AdminInputError } from "../../proxy/admin/validation.ts";
import { type ConfigStore, openConfigStore } from "../../proxy/config_store.ts";
import { type Poolgate, type PoolgateOptions, startPoolgate } from "../../proxy/poolgate.ts";
import {
  INFINITE_REGISTRATION_LIFE_MS,
  type PoolgateAdminBackend,
} from "../../proxy/poolgate_admin_backend.ts";
import { tempDataDir } from "../_support/config_store_fixtures.ts";
import { capturePoolgateLogs } from "../_support/log_capture.ts";
import { nextEvent } from "../_support/deadline.ts";
import { closedWithin } from "../_support/own_sockets.ts";
import {
  echoHandler,
  readExactly,
  readToEnd,
  startTestServer,
  type TestServer,
  waitForProxyEvent,
  writeAll,
} from "../_support/proxy_harness.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A Poolgate with a config store in a temporary data directory, torn down on dispose. */
interface Instance extends AsyncDisposable {
  readonly poolgate: Poolgate;
  readonly backend: PoolgateAdminBackend;
  readonly store: ConfigStore;
}

function startInstance(options: PoolgateOptions = {}): Instance {
  const dir = tempDataDir();
  const store = openConfigStore({ dataDir: dir.dataDir });
  const poolgate = startPoolgate({
    registrar: { hostname: "127.0.0.1", port: 0 },
    store,
    drainMs: 0,
    ...options,
  });
  return {
    poolgate,
    backend: poolgate.backend,
    store,
    async [Symbol.asyncDispose]() {
      await poolgate.shutdown();
      store.close();
      dir[Symbol.dispose]();
    },
  };
}

function member(server: TestServer, extra: Partial<NewStaticMember> = {}): NewStaticMember {
  return {
    hostname: "127.0.0.1",
    port: server.port,
    policy: { name: "rr" },
    check: { kind: "connect" },
    ...extra,
  };
}

/** Adds a tcp listener on a free loopback port for `pool`; resolves with its port. */
async function listen(backend: PoolgateAdminBackend, pool: string, id = "front"): Promise<number> {
  const view = await backend.addListener({
    id,
    kind: "tcp",
    hostname: "127.0.0.1",
    port: 0,
    pool,
    acceptProxyProtocol: false,
  });
  return Number(view.address?.split(":").at(-1));
}

/** Connects a client and waits until its session has a pool element; returns both. */
async function connectClient(poolgate: Poolgate, port: number) {
  const started = waitForProxyEvent(poolgate.proxy, "session-start", 5_000);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  return { conn, peId: (await started).peId };
}

async function roundTrip(conn: Deno.Conn, text: string): Promise<void> {
  await writeAll(conn, encoder.encode(text));
  assert.equal(decoder.decode(await readExactly(conn, text.length, 5_000)), text);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

async function conflictCause(promise: Promise<unknown>): Promise<number | undefined> {
  const error = await rejection(promise);
  assert.ok(error instanceof AdminConflictError, String(error));
  return error.causeCode;
}

Deno.test("PoolgateAdminBackend.addMember() registers a static member, stores it, and getPool() shows it", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store, poolgate } = instance;

  const added = await backend.addMember(
    "web",
    member(server, { policy: { name: "wrr", weight: 3 } }),
  );
  memberViewSchema.parse(added);
  assert.equal(added.static, true);
  assert.equal(added.state, "active");
  assert.deepEqual(added.addresses, ["127.0.0.1"]);
  assert.equal(added.port, server.port);
  assert.deepEqual(added.policy, { name: "wrr", weight: 3 });
  assert.equal(added.homeRegistrar, poolgate.registrar.serverId);
  assert.equal(added.registrationLifeMs, INFINITE_REGISTRATION_LIFE_MS);
  assert.deepEqual(added.check, { kind: "connect" });
  assert.deepEqual(store.listMembers().map((record) => [record.pool, record.peId]), [[
    "web",
    added.peId,
  ]]);

  const pool = poolDetailSchema.parse(await backend.getPool("web"));
  assert.equal(pool.policy, "wrr");
  assert.deepEqual(pool.members.map((m) => m.peId), [added.peId]);
  assert.equal(pool.settings.failover, "sever");
  assert.deepEqual(await backend.listPools(), [
    { handle: "web", policy: "wrr", members: 1, sessions: 0 },
  ]);
  const status = await backend.registrarStatus();
  assert.equal(status.serverId, poolgate.registrar.serverId);
  assert.deepEqual(status.peers, []);
  assert.equal(status.pools, 1);
  assert.equal(status.poolElements, 1);
  assert.equal(status.checksum, poolgate.registrar.handlespace.checksum(status.serverId));
  assert.ok(await rejection(backend.getPool("nope")) instanceof AdminNotFoundError);
});

Deno.test("PoolgateAdminBackend.addMember() answers refusals with the registrar's cause and stores nothing", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store } = instance;
  const first = await backend.addMember("web", member(server, { peId: 7 }));

  assert.equal(
    await conflictCause(backend.addMember("web", member(server, { policy: { name: "wrr" } }))),
    ErrorCauseCode.inconsistentPoolingPolicy,
  );
  assert.equal(
    await conflictCause(backend.addMember("web", member(server, { peId: 7 }))),
    ErrorCauseCode.nonUniquePoolElementIdentifier,
  );
  const badHost = await rejection(
    backend.addMember("web", member(server, { hostname: "server.example" })),
  );
  assert.ok(badHost instanceof AdminInputError);
  assert.equal(badHost.field, "hostname");
  assert.deepEqual(store.listMembers().map((record) => record.peId), [first.peId]);
  assert.equal((await backend.getPool("web")).members.length, 1);
});

Deno.test("PoolgateAdminBackend.patchMember() drain sends new sessions elsewhere while one stays; maintenance moves it", async () => {
  await using a = startTestServer(echoHandler);
  await using b = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store, poolgate } = instance;
  const first = await backend.addMember("web", member(a));
  const second = await backend.addMember("web", member(b));
  await backend.patchPoolSettings("web", { failover: "migrate" });
  const port = await listen(backend, "web");

  // Round robin: of two clients one lands on each member.
  const one = await connectClient(poolgate, port);
  const two = await connectClient(poolgate, port);
  assert.deepEqual(new Set([one.peId, two.peId]), new Set([first.peId, second.peId]));
  const kept = one.peId === first.peId ? one : two;
  const other = kept === one ? two : one;
  other.conn.close();
  await waitForProxyEvent(poolgate.proxy, "session-end", 5_000);

  const drained = await backend.patchMember("web", kept.peId, { drain: true });
  assert.equal(drained.state, "draining");
  assert.equal(store.listMembers().find((r) => r.peId === kept.peId)?.drain, true);
  for (let i = 0; i < 4; i++) {
    const next = await connectClient(poolgate, port);
    assert.notEqual(next.peId, kept.peId, "a drained member takes no new session");
    next.conn.close();
  }
  await roundTrip(kept.conn, "still here\n");
  const sessions = await backend.listSessions();
  assert.equal(sessions.find((s) => s.peId === kept.peId)?.bytesIn, "still here\n".length);

  const moved = waitForProxyEvent(poolgate.proxy, "failover", 5_000);
  const inMaintenance = await backend.patchMember("web", kept.peId, { maintenance: true });
  assert.equal(inMaintenance.state, "maintenance");
  const failover = await moved;
  assert.equal(failover.cause, "admin");
  assert.equal(failover.fromPeId, kept.peId);
  await roundTrip(kept.conn, "moved\n");
  const after = await backend.getPool("web");
  assert.equal(after.members.find((m) => m.peId === kept.peId)?.failovers, 1);
  assert.deepEqual(
    store.listMembers().filter((r) => r.peId === kept.peId).map((r) => [r.drain, r.maintenance]),
    [[true, true]],
  );
  const metrics = await backend.metrics();
  assert.equal(metrics.failoversTotal.admin, 1);
  assert.ok(metrics.poolElements.some((p) => p.state === "maintenance" && p.count === 1));
  kept.conn.close();
});

Deno.test("PoolgateAdminBackend.patchMember() changes a static member's policy values through the registrar", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store, poolgate } = instance;
  const added = await backend.addMember(
    "web",
    member(server, { policy: { name: "lu", load: 10 } }),
  );
  const changed = await backend.patchMember("web", added.peId, { load: 40 });
  assert.deepEqual(changed.policy, { name: "lu", load: 40 });
  assert.deepEqual(store.listMembers()[0]?.policy, { name: "lu", load: 40 });
  const view = poolgate.registrar.handlespace.find(encoder.encode("web"), added.peId);
  assert.ok(view !== undefined && "load" in view.policy && view.policy.load > 0);
  assert.ok(
    await rejection(backend.patchMember("web", 999, { drain: true })) instanceof
      AdminNotFoundError,
  );
});

Deno.test("PoolgateAdminBackend refuses policy changes and removal of a PE registered over ASAP with cause 0xa", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, poolgate, store } = instance;
  const pe = registerPoolElement({
    registrars: [{ hostname: "127.0.0.1", port: poolgate.registrar.addr.port }],
    poolHandle: "asap",
    transport: { port: server.port, address: "127.0.0.1" },
    poolElementId: 4242,
  });
  await nextEvent(pe, "registered", 10_000);

  const [view] = (await backend.getPool("asap")).members;
  assert.equal(view?.static, false);
  assert.equal(view?.peId, 4242);
  assert.equal(
    await conflictCause(backend.patchMember("asap", 4242, { weight: 2 })),
    ErrorCauseCode.rejectionDueToSecurityConsiderations,
  );
  assert.equal(
    await conflictCause(backend.deleteMember("asap", 4242)),
    ErrorCauseCode.rejectionDueToSecurityConsiderations,
  );
  // Drain is this instance's own decision: allowed, kept in memory only.
  assert.equal((await backend.patchMember("asap", 4242, { drain: true })).state, "draining");
  assert.deepEqual(store.listMembers(), []);

  const removed = nextEvent(poolgate.registrar, "pe-removed", 10_000);
  await pe[Symbol.asyncDispose]();
  await removed;
  assert.equal(poolgate.marks.get("asap", 4242), undefined, "the mark left with the PE");
  assert.equal((await backend.metrics()).registrationsTotal >= 1, true);
});

Deno.test("PoolgateAdminBackend.deleteMember() removes a static member from the handlespace and the store", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store } = instance;
  const added = await backend.addMember("web", member(server));
  await backend.deleteMember("web", added.peId);
  assert.deepEqual(store.listMembers(), []);
  assert.ok(await rejection(backend.getPool("web")) instanceof AdminNotFoundError);
  const again = await rejection(backend.deleteMember("web", added.peId));
  assert.ok(again instanceof AdminNotFoundError && again.resource === "pool");
  // The same PE id may be used again at once.
  assert.equal(
    (await backend.addMember("web", member(server, { peId: added.peId }))).peId,
    added.peId,
  );
});

Deno.test("PoolgateAdminBackend.patchPoolSettings() sets the proxy's settings and stores the whole record", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store, poolgate } = instance;
  assert.ok(
    await rejection(backend.patchPoolSettings("web", { failover: "migrate" })) instanceof
      AdminNotFoundError,
  );
  await backend.addMember("web", member(server));
  const settings = await backend.patchPoolSettings("web", { failover: "migrate" });
  assert.equal(settings.failover, "migrate");
  await backend.patchPoolSettings("web", { maxFailovers: 5, policy: "rr" });
  assert.equal(poolgate.proxy.poolSettings("web").failover, "migrate");
  assert.equal(poolgate.proxy.poolSettings("web").maxFailovers, 5);
  assert.deepEqual(store.listPoolSettings(), [
    { pool: "web", failover: "migrate", maxFailovers: 5, policy: "rr" },
  ]);
  assert.equal(
    await conflictCause(backend.patchPoolSettings("web", { policy: "lu" })),
    ErrorCauseCode.inconsistentPoolingPolicy,
  );
});

Deno.test("PoolgateAdminBackend.addListener() binds and stores; a taken id or address is a conflict; removeListener() closes it", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store, poolgate } = instance;
  await backend.addMember("web", member(server));
  const port = await listen(backend, "web", "front");
  const [view] = await backend.listListeners();
  listenerViewSchema.parse(view);
  assert.equal(view?.address, `127.0.0.1:${port}`);
  assert.equal(store.listListeners()[0]?.port, 0, "the store keeps the port asked for");
  const client = await connectClient(poolgate, port);
  await roundTrip(client.conn, "hello\n");
  client.conn.close();

  assert.equal(await conflictCause(listen(backend, "web", "front")), undefined);
  const taken = { id: "other", kind: "tcp", hostname: "127.0.0.1", port, pool: "web" } as const;
  const conflict = await rejection(backend.addListener({ ...taken, acceptProxyProtocol: false }));
  assert.ok(conflict instanceof AdminConflictError);
  assert.match(
    conflict.message,
    new RegExp(`^Cannot bind listener "other" to 127\\.0\\.0\\.1:${port}: \\w`),
  );
  assert.doesNotMatch(conflict.message, /Cannot listen/);
  const noSuffix = await rejection(backend.addListener({
    id: "sni",
    kind: "tls",
    hostname: "127.0.0.1",
    port: 0,
    acceptProxyProtocol: false,
  }));
  assert.ok(noSuffix instanceof AdminInputError && noSuffix.field === "handleSuffix");
  assert.deepEqual(store.listListeners().map((l) => l.id), ["front"]);

  await backend.removeListener("front");
  await closedWithin(port, 5_000);
  assert.deepEqual(store.listListeners(), []);
  assert.deepEqual(poolgate.proxy.listeners(), []);
  assert.ok(await rejection(backend.removeListener("front")) instanceof AdminNotFoundError);
});

Deno.test("PoolgateAdminBackend sessions: list, fail over and close act on the proxy's sessions", async () => {
  await using a = startTestServer(echoHandler);
  await using b = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, poolgate } = instance;
  await backend.addMember("web", member(a));
  await backend.addMember("web", member(b));
  await backend.patchPoolSettings("web", { failover: "migrate" });
  const port = await listen(backend, "web");
  const client = await connectClient(poolgate, port);
  await roundTrip(client.conn, "abc\n");
  const [session] = await backend.listSessions();
  assert.equal(session?.pool, "web");
  assert.equal(session?.peId, client.peId);
  assert.equal(session?.bytesOut, 4);

  const moved = waitForProxyEvent(poolgate.proxy, "failover", 5_000);
  await backend.failoverSession(session!.id);
  assert.deepEqual(await moved, {
    sessionId: session!.id,
    pool: "web",
    fromPeId: client.peId,
    toPeId: (await backend.getPool("web")).members.find((m) => m.peId !== client.peId)?.peId,
    cause: "admin",
  });
  await roundTrip(client.conn, "def\n");
  const [recent] = await backend.recentFailovers();
  assert.equal(recent?.sessionId, session!.id);
  assert.equal(recent?.cause, "admin");

  assert.ok(await rejection(backend.failoverSession(999)) instanceof AdminNotFoundError);
  assert.ok(await rejection(backend.closeSession(999)) instanceof AdminNotFoundError);
  const ended = waitForProxyEvent(poolgate.proxy, "session-end", 5_000);
  await backend.closeSession(session!.id);
  assert.equal((await ended).reason, "closed");
  assert.equal((await readToEnd(client.conn, 5_000)).bytes.length, 0);
  client.conn.close();
});

Deno.test("PoolgateAdminBackend.metrics() counts sessions and bytes; readiness() follows shutdown and the ENRP seam", async () => {
  await using server = startTestServer(echoHandler);
  let synchronized = false;
  await using instance = startInstance({
    enrpStatus: () => ({
      peers: [{ serverId: 77, address: "127.0.0.1:9901", state: "probing" }],
      synchronized,
      ...(synchronized ? {} : { detail: "waiting for 127.0.0.1:9901" }),
      messagesReceived: { ENRP_PRESENCE: 3 },
    }),
  });
  const { backend, poolgate } = instance;
  await backend.addMember("web", member(server));
  const port = await listen(backend, "web");
  const client = await connectClient(poolgate, port);
  await roundTrip(client.conn, "12345\n");
  let metrics = await backend.metrics();
  assert.equal(metrics.sessions, 1);
  assert.equal(metrics.sessionsTotal, 1);
  assert.deepEqual(metrics.bytesTotal, { in: 6, out: 6 });
  assert.deepEqual(metrics.poolElements, [{ pool: "web", state: "active", count: 1 }]);
  assert.deepEqual(metrics.enrpMessagesTotal, { ENRP_PRESENCE: 3 });
  assert.ok(metrics.handleResolutionsTotal >= 1);
  const ended = waitForProxyEvent(poolgate.proxy, "session-end", 5_000);
  client.conn.close();
  await ended;
  metrics = await backend.metrics();
  assert.equal(metrics.sessions, 0);
  assert.equal(metrics.sessionsTotal, 1);
  assert.deepEqual(metrics.bytesTotal, { in: 6, out: 6 });

  assert.deepEqual((await backend.registrarStatus()).peers.map((p) => p.serverId), [77]);
  let checks = (await backend.readiness()).map((check) => readinessCheckSchema.parse(check));
  assert.deepEqual(checks.filter((c) => !c.ready).map((c) => [c.name, c.detail]), [
    ["enrp-sync", "waiting for 127.0.0.1:9901"],
  ]);
  synchronized = true;
  assert.ok((await backend.readiness()).every((check) => check.ready));

  const stopping = poolgate.shutdown();
  checks = await backend.readiness();
  assert.equal(checks.find((c) => c.name === "listeners")?.ready, false);
  await stopping;
});

Deno.test("PoolgateAdminBackend leaves the running state unchanged when the store cannot take a change", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance();
  const { backend, store } = instance;
  const added = await backend.addMember("web", member(server));
  store.close();
  await assert.rejects(() => backend.addMember("web", member(server)), Deno.errors.BadResource);
  await assert.rejects(() => listen(backend, "web"), Deno.errors.BadResource);
  await assert.rejects(
    () => backend.patchMember("web", added.peId, { drain: true }),
    Deno.errors.BadResource,
  );
  const pool = await backend.getPool("web");
  assert.deepEqual(pool.members.map((m) => [m.peId, m.state]), [[added.peId, "active"]]);
  assert.deepEqual(await backend.listListeners(), []);
  assert.equal((await backend.metrics()).errorsTotal["config-store"], 3);
});

Deno.test("startPoolgate() starts with stored members and their marks, pool settings and listeners", async () => {
  await using server = startTestServer(echoHandler);
  await using instance = startInstance({
    config: {
      members: [{
        pool: "web",
        peId: 11,
        hostname: "127.0.0.1",
        port: server.port,
        transportUse: "data-only",
        policy: { name: "rr" },
        check: { kind: "send-expect", send: "x\\n", expect: "x" },
        drain: true,
        maintenance: false,
      }],
      poolSettings: [{ pool: "web", failover: "migrate" }],
      listeners: [{
        id: "front",
        kind: "tcp",
        hostname: "127.0.0.1",
        port: 0,
        pool: "web",
        acceptProxyProtocol: false,
      }],
    },
  });
  const { backend, store } = instance;
  const pool = await backend.getPool("web");
  assert.deepEqual(pool.members.map((m) => [m.peId, m.state, m.check?.kind]), [
    [11, "draining", "send-expect"],
  ]);
  assert.equal(pool.settings.failover, "migrate");
  assert.match((await backend.listListeners())[0]?.address ?? "", /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(store.snapshot(), { members: [], poolSettings: [], listeners: [] });
});

Deno.test("startPoolgate() serves the admin API, goes on without an optional one whose address is taken, and fails for a required one", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const admin = { hostname: "127.0.0.1", port: taken.addr.port };
  await using logs = await capturePoolgateLogs("warning");
  {
    await using instance = startInstance({ admin: { ...admin, optional: true } });
    assert.equal(instance.poolgate.admin, undefined);
  }
  const warning = logs.records.find((record) =>
    String(record.rawMessage).startsWith("No admin API")
  );
  assert.equal(warning?.properties.address, `127.0.0.1:${taken.addr.port}`);
  // Deno's reason alone: the address is in the line already.
  assert.match(String(warning?.properties.error), /in use/);
  assert.doesNotMatch(String(warning?.properties.error), /Cannot listen/);
  // The parts already started stop again in the background; the rest of the test outlasts that.
  assert.throws(
    () => startPoolgate({ registrar: { hostname: "127.0.0.1", port: 0 }, admin }),
    (error: unknown) =>
      error instanceof ListenError && error.role === "admin API" &&
      error.address.port === taken.addr.port && error.cause instanceof Deno.errors.AddrInUse,
  );
  await using instance = startInstance({ admin: { hostname: "127.0.0.1", port: 0 } });
  const response = await fetch(`http://127.0.0.1:${instance.poolgate.admin?.addr.port}/readyz`);
  assert.equal(response.status, 200, await response.text());
});
