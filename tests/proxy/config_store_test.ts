import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  CONFIG_STORE_APPLICATION_ID,
  CONFIG_STORE_MIGRATIONS,
  type ConfigSnapshot,
  ConfigStoreError,
  type ConfigStoreProblem,
  defaultDataDir,
  type ListenerRecord,
  mergeWithFlags,
  openConfigStore,
  type PoolSettingsRecord,
  type StaticMemberRecord,
} from "../../proxy/config_store.ts";
import {
  sampleListener,
  sampleMember,
  samplePoolSettings,
  tempDataDir,
} from "../_support/config_store_fixtures.ts";
import { startConfigStoreWriter } from "../_support/config_store_process.ts";
import { Random } from "../lib/wire/generator.ts";

const WEIGHTED_MEMBER: StaticMemberRecord = {
  pool: "web",
  peId: 0xffff_ffff,
  hostname: "::1",
  port: 65535,
  transportUse: "data-only",
  policy: { name: "wrr", weight: 5 },
  check: {
    kind: "send-expect",
    send: "PING\\r\\n",
    expect: "PONG",
    intervalMs: 500,
    timeoutMs: 250,
    fall: 3,
    rise: 2,
  },
  drain: true,
  maintenance: false,
};
const LOAD_MEMBER: StaticMemberRecord = {
  ...sampleMember("mail", 7),
  policy: { name: "lud", load: 12.5, loadDegradation: 3 },
  maintenance: true,
};
const FULL_SETTINGS: PoolSettingsRecord = {
  pool: "web",
  policy: "wrr",
  failover: "migrate",
  maxFailovers: 5,
  replayBufferBytes: 1 << 20,
  connectTimeoutMs: 750,
  idleTimeoutMs: 0,
  proxyProtocol: "v2",
};
const TLS_LISTENER: ListenerRecord = {
  id: "front-tls",
  kind: "tls",
  hostname: "0.0.0.0",
  port: 8443,
  handleSuffix: ".pools.example",
  acceptProxyProtocol: true,
};
const HTTP_LISTENER: ListenerRecord = {
  id: "front-http",
  kind: "http",
  hostname: "::",
  port: 8000,
  acceptProxyProtocol: false,
};

/** Asserts that `action` throws a ConfigStoreError of `problem` whose message matches all `texts`. */
function assertStoreError(
  action: () => unknown,
  problem: ConfigStoreProblem,
  ...texts: (string | RegExp)[]
): ConfigStoreError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigStoreError, `expected ConfigStoreError, got ${caught}`);
  assert.equal(caught.problem, problem, caught.message);
  for (const text of texts) {
    if (typeof text === "string") assert.ok(caught.message.includes(text), caught.message);
    else assert.match(caught.message, text);
  }
  return caught;
}

function pragma(file: string, name: string): unknown {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(`PRAGMA ${name}`).get()?.[name];
  } finally {
    db.close();
  }
}

Deno.test("openConfigStore() creates the data directory 0700 and a WAL-mode file at the current version", () => {
  using dir = tempDataDir();
  using store = openConfigStore({ dataDir: dir.dataDir });
  assert.equal((Deno.statSync(dir.dataDir).mode ?? 0) & 0o777, 0o700);
  assert.equal(store.path, dir.file);
  assert.equal(store.schemaVersion, CONFIG_STORE_MIGRATIONS.length);
  assert.equal(pragma(dir.file, "journal_mode"), "wal");
  assert.equal(pragma(dir.file, "user_version"), CONFIG_STORE_MIGRATIONS.length);
  assert.equal(pragma(dir.file, "application_id"), CONFIG_STORE_APPLICATION_ID);
});

Deno.test("ConfigStore keeps every record kind across close and reopen", () => {
  using dir = tempDataDir();
  const members = [WEIGHTED_MEMBER, LOAD_MEMBER, sampleMember("web", 1)];
  const settings = [FULL_SETTINGS, { pool: "mail" }];
  const listeners = [sampleListener("front-tcp", "web"), TLS_LISTENER, HTTP_LISTENER];
  {
    using store = openConfigStore({ dataDir: dir.dataDir });
    for (const member of members) assert.deepEqual(store.putMember(member), member);
    for (const setting of settings) assert.deepEqual(store.putPoolSettings(setting), setting);
    for (const listener of listeners) assert.deepEqual(store.putListener(listener), listener);
  }
  using store = openConfigStore({ dataDir: dir.dataDir });
  const expected: ConfigSnapshot = {
    members: [LOAD_MEMBER, sampleMember("web", 1), WEIGHTED_MEMBER],
    poolSettings: [{ pool: "mail" }, FULL_SETTINGS],
    listeners: [HTTP_LISTENER, sampleListener("front-tcp", "web"), TLS_LISTENER],
  };
  assert.deepEqual(store.listMembers(), expected.members);
  assert.deepEqual(store.listMembers("web"), [sampleMember("web", 1), WEIGHTED_MEMBER]);
  assert.deepEqual(store.listMembers("none"), []);
  assert.deepEqual(store.listPoolSettings(), expected.poolSettings);
  assert.deepEqual(store.listListeners(), expected.listeners);
  assert.deepEqual(store.snapshot(), expected);
});

Deno.test("ConfigStore put*() replaces the record with the same key and delete*() reports what it removed", () => {
  using dir = tempDataDir();
  using store = openConfigStore({ dataDir: dir.dataDir });
  store.putMember(sampleMember("web", 1));
  store.putMember({ ...sampleMember("web", 1), drain: true });
  assert.deepEqual(store.listMembers(), [{ ...sampleMember("web", 1), drain: true }]);
  store.putPoolSettings(samplePoolSettings("web"));
  store.putPoolSettings({ pool: "web", proxyProtocol: "v1" });
  assert.deepEqual(store.listPoolSettings(), [{ pool: "web", proxyProtocol: "v1" }]);
  store.putListener(sampleListener("a", "web", 1));
  store.putListener(sampleListener("a", "mail", 2));
  assert.deepEqual(store.listListeners(), [sampleListener("a", "mail", 2)]);

  assert.equal(store.deleteMember("web", 1), true);
  assert.equal(store.deleteMember("web", 1), false);
  assert.equal(store.deletePoolSettings("web"), true);
  assert.equal(store.deletePoolSettings("web"), false);
  assert.equal(store.deleteListener("a"), true);
  assert.equal(store.deleteListener("a"), false);
  assert.deepEqual(store.snapshot(), { members: [], poolSettings: [], listeners: [] });
});

Deno.test("ConfigStore put*() rejects an invalid record naming the field, and stores nothing", () => {
  using dir = tempDataDir();
  using store = openConfigStore({ dataDir: dir.dataDir });
  const member = sampleMember("web", 1);
  const { pool: _pool, ...poolless } = sampleListener("a", "web");
  const cases: [put: () => unknown, expected: string][] = [
    [() => store.putMember({ ...member, peId: 0 }), "peId:"],
    [() => store.putMember({ ...member, pool: "" }), "pool:"],
    [() => store.putMember({ ...member, pool: "a\nb" }), "pool: must not contain control"],
    [() => store.putMember({ ...member, pool: "h".repeat(256) }), "pool: must be at most 255"],
    [
      () => store.putMember({ ...member, policy: { name: "rr", weight: 3 } }),
      'policy.weight: policy "rr" has no weight',
    ],
    [() => store.putMember({ ...member, policy: { name: "lu", load: 101 } }), "policy.load:"],
    [
      () => store.putMember({ ...member, check: { kind: "send-expect", send: "x", expect: "" } }),
      "check.expect: must not be empty",
    ],
    [
      () =>
        store.putMember({ ...member, check: { kind: "send-expect", send: "\\q", expect: "x" } }),
      "check.send:",
    ],
    [() => store.putPoolSettings({ pool: "web", maxFailovers: -1 }), "maxFailovers:"],
    [() => store.putPoolSettings({ pool: "web", ...{ colour: "blue" } }), 'key: "colour"'],
    [() => store.putListener(poolless), "pool: a tcp listener needs a pool"],
    [() => store.putListener({ ...TLS_LISTENER, pool: "web" }), "pool: a tls listener"],
    [() => store.putListener({ ...TLS_LISTENER, id: "-x" }), "id:"],
  ];
  for (const [put, expected] of cases) {
    assertStoreError(put, "invalid-record", "Cannot put", dir.file, expected);
  }
  assert.deepEqual(store.snapshot(), { members: [], poolSettings: [], listeners: [] });
});

Deno.test("ConfigStore list*() names a hand-edited row that fails validation, and delete*() still clears it", () => {
  using dir = tempDataDir();
  using store = openConfigStore({ dataDir: dir.dataDir });
  store.putMember(sampleMember("web", 1));
  store.putMember(sampleMember("web", 2));
  store.putListener(TLS_LISTENER);
  const raw = new DatabaseSync(dir.file);
  try {
    raw.exec("UPDATE static_member SET record = json_set(record, '$.port', 70000) WHERE pe_id = 2");
    raw.exec(`UPDATE listener SET record = json_set(record, '$.kind', 'udp')`);
  } finally {
    raw.close();
  }
  const error = assertStoreError(
    () => store.listMembers(),
    "invalid-row",
    'static member row 2 (pool "web", pe_id 2) in table static_member',
    dir.file,
    "port:",
    "admin API",
  );
  assert.equal(error.path, dir.file);
  assertStoreError(() => store.snapshot(), "invalid-row", "row 2");
  assertStoreError(
    () => store.listListeners(),
    "invalid-row",
    'listener row 1 (id "front-tls")',
    "kind:",
  );
  assert.equal(store.deleteMember("web", 2), true);
  assert.equal(store.deleteListener("front-tls"), true);
  assert.deepEqual(store.listMembers(), [sampleMember("web", 1)]);
});

Deno.test("openConfigStore() refuses a file of random bytes and leaves it unchanged", () => {
  using dir = tempDataDir();
  Deno.mkdirSync(dir.dataDir, { recursive: true });
  const bytes = new Random(0x5eed).bytes(8192);
  Deno.writeFileSync(dir.file, bytes);
  assertStoreError(
    () => openConfigStore({ dataDir: dir.dataDir }),
    "corrupt",
    `Cannot open config store ${dir.file}: the file is corrupt`,
    "has not changed it",
    "-wal and -shm",
  );
  assert.deepEqual(Deno.readFileSync(dir.file), bytes);
});

Deno.test("openConfigStore() refuses a truncated database and leaves it unchanged", () => {
  using dir = tempDataDir();
  {
    using store = openConfigStore({ dataDir: dir.dataDir });
    for (let peId = 1; peId <= 60; peId++) {
      store.putMember({ ...sampleMember("web", peId), hostname: `h${peId}.${"x".repeat(240)}` });
    }
  }
  const whole = Deno.readFileSync(dir.file);
  assert.ok(whole.length >= 8 * 4096, `only ${whole.length} bytes: the WAL was not checkpointed`);
  const truncated = whole.slice(0, whole.length / 2);
  Deno.writeFileSync(dir.file, truncated);
  assertStoreError(() => openConfigStore({ dataDir: dir.dataDir }), "corrupt", dir.file, "corrupt");
  assert.deepEqual(Deno.readFileSync(dir.file), truncated);
});

Deno.test("openConfigStore() refuses a newer schema version and leaves the file unchanged", () => {
  using dir = tempDataDir();
  openConfigStore({ dataDir: dir.dataDir }).close();
  const raw = new DatabaseSync(dir.file);
  raw.exec("PRAGMA user_version = 999");
  raw.close();
  const bytes = Deno.readFileSync(dir.file);
  assertStoreError(
    () => openConfigStore({ dataDir: dir.dataDir }),
    "newer-schema",
    dir.file,
    `schema version 999 is newer than the version ${CONFIG_STORE_MIGRATIONS.length}`,
    "has not changed it",
  );
  assert.deepEqual(Deno.readFileSync(dir.file), bytes);
});

Deno.test("openConfigStore() refuses another program's SQLite file and leaves it unchanged", () => {
  using dir = tempDataDir();
  Deno.mkdirSync(dir.dataDir, { recursive: true });
  const raw = new DatabaseSync(dir.file);
  raw.exec("CREATE TABLE notes (text TEXT)");
  raw.close();
  const bytes = Deno.readFileSync(dir.file);
  assertStoreError(
    () => openConfigStore({ dataDir: dir.dataDir }),
    "foreign-file",
    dir.file,
    "another program",
  );
  assert.deepEqual(Deno.readFileSync(dir.file), bytes);
});

// A second schema version this build does not have: an index and a data rewrite.
const TEST_MIGRATIONS = [
  ...CONFIG_STORE_MIGRATIONS,
  `CREATE INDEX static_member_by_host ON static_member (json_extract(record, '$.hostname'));
   UPDATE listener SET record = json_set(record, '$.acceptProxyProtocol', json('true'));`,
];

Deno.test("openConfigStore() migrates version 1 to a later version in one transaction and keeps the data", () => {
  using dir = tempDataDir();
  {
    using store = openConfigStore({ dataDir: dir.dataDir });
    assert.equal(store.schemaVersion, 1);
    store.putMember(WEIGHTED_MEMBER);
    store.putPoolSettings(FULL_SETTINGS);
    store.putListener(sampleListener("front", "web"));
  }
  {
    using store = openConfigStore({ dataDir: dir.dataDir, migrations: TEST_MIGRATIONS });
    assert.equal(store.schemaVersion, 2);
    assert.deepEqual(store.snapshot(), {
      members: [WEIGHTED_MEMBER],
      poolSettings: [FULL_SETTINGS],
      listeners: [{ ...sampleListener("front", "web"), acceptProxyProtocol: true }],
    });
  }
  assert.equal(pragma(dir.file, "user_version"), 2);
  const raw = new DatabaseSync(dir.file, { readOnly: true });
  assert.equal(
    raw.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'static_member_by_host'")
      .get()?.n,
    1,
  );
  raw.close();
  // This build knows only version 1 now.
  assertStoreError(() => openConfigStore({ dataDir: dir.dataDir }), "newer-schema", "version 2");
});

Deno.test("openConfigStore() applies several migrations to a new file at once", () => {
  using dir = tempDataDir();
  using store = openConfigStore({ dataDir: dir.dataDir, migrations: TEST_MIGRATIONS });
  assert.equal(store.schemaVersion, 2);
  assert.equal(pragma(dir.file, "user_version"), 2);
});

Deno.test("openConfigStore() rolls back every step of a failing migration", () => {
  using dir = tempDataDir();
  {
    using store = openConfigStore({ dataDir: dir.dataDir });
    store.putMember(WEIGHTED_MEMBER);
  }
  const failing = [
    ...CONFIG_STORE_MIGRATIONS,
    "CREATE TABLE added (x INTEGER); DELETE FROM static_member; SELECT no_such_function();",
  ];
  assertStoreError(
    () => openConfigStore({ dataDir: dir.dataDir, migrations: failing }),
    "migration-failed",
    "from schema version 1 to 2",
    "no_such_function",
    "still at version 1",
  );
  using store = openConfigStore({ dataDir: dir.dataDir });
  assert.equal(store.schemaVersion, 1);
  assert.deepEqual(store.listMembers(), [WEIGHTED_MEMBER]);
});

Deno.test("ConfigStore keeps every record a SIGKILLed writer reported written", async () => {
  using dir = tempDataDir();
  await using writer = startConfigStoreWriter({
    dataDir: dir.dataDir,
    prefix: "k",
    count: 1_000_000,
  });
  assert.deepEqual(await writer.waitFor("ready"), ["ready"]);
  const reported: string[] = [];
  while (reported.length < 45) {
    const line = await writer.nextLine();
    if (line === undefined || !line.startsWith("written ")) assert.fail(`unexpected line ${line}`);
    reported.push(line.slice("written ".length));
  }
  writer.kill("SIGKILL");
  assert.equal((await writer.status).signal, "SIGKILL");
  // Lines printed before the kill landed are reported writes too.
  for (let line = await writer.nextLine(); line !== undefined; line = await writer.nextLine()) {
    if (line.startsWith("written ")) reported.push(line.slice("written ".length));
  }

  using store = openConfigStore({ dataDir: dir.dataDir });
  const stored = new Set([
    ...store.listMembers().map((member) => `member ${member.pool}/${member.peId}`),
    ...store.listPoolSettings().map((settings) => `pool-settings ${settings.pool}`),
    ...store.listListeners().map((listener) => `listener ${listener.id}`),
  ]);
  for (const record of reported) assert.ok(stored.has(record), `lost ${record}`);
  assert.ok(stored.size >= reported.length);
});

Deno.test("ConfigStore stays consistent under two processes writing 200 records each at once", async () => {
  using dir = tempDataDir();
  await using first = startConfigStoreWriter({
    dataDir: dir.dataDir,
    prefix: "a",
    count: 200,
    waitGo: true,
  });
  await using second = startConfigStoreWriter({
    dataDir: dir.dataDir,
    prefix: "b",
    count: 200,
    waitGo: true,
  });
  await Promise.all([first.waitFor("ready"), second.waitFor("ready")]);
  await Promise.all([first.go(), second.go()]);
  const [linesA, linesB] = await Promise.all([first.waitFor("done"), second.waitFor("done")]);
  assert.equal(linesA.length, 201);
  assert.equal(linesB.length, 201);
  assert.equal((await first.status).code, 0);
  assert.equal((await second.status).code, 0);

  using store = openConfigStore({ dataDir: dir.dataDir });
  const { members, poolSettings, listeners } = store.snapshot();
  assert.equal(members.length + poolSettings.length + listeners.length, 400);
  for (const prefix of ["a", "b"]) {
    assert.equal(members.filter((member) => member.pool === prefix).length, 67);
    assert.equal(
      poolSettings.filter((settings) => settings.pool.startsWith(`${prefix}-`)).length,
      67,
    );
    assert.equal(listeners.filter((listener) => listener.pool === prefix).length, 66);
  }
  const raw = new DatabaseSync(dir.file, { readOnly: true });
  assert.deepEqual(raw.prepare("PRAGMA integrity_check").all().map((row) => row.integrity_check), [
    "ok",
  ]);
  raw.close();
});

Deno.test("ConfigStore objects on one file see each other's changes", () => {
  using dir = tempDataDir();
  using first = openConfigStore({ dataDir: dir.dataDir });
  using second = openConfigStore({ dataDir: dir.dataDir });
  first.putMember(sampleMember("web", 1));
  second.putMember(sampleMember("web", 2));
  first.deleteMember("web", 2);
  assert.deepEqual(second.listMembers(), [sampleMember("web", 1)]);
});

Deno.test("ConfigStore put*() fails with busy when another connection keeps the write lock", () => {
  using dir = tempDataDir();
  using store = openConfigStore({ dataDir: dir.dataDir, busyTimeoutMs: 0 });
  const raw = new DatabaseSync(dir.file);
  try {
    raw.exec("BEGIN IMMEDIATE");
    assertStoreError(
      () => store.putMember(sampleMember("web", 1)),
      "busy",
      "put static member",
      dir.file,
    );
    raw.exec("ROLLBACK");
  } finally {
    raw.close();
  }
  store.putMember(sampleMember("web", 1));
  assert.equal(store.listMembers().length, 1);
});

Deno.test("ConfigStore close() is idempotent and later calls throw BadResource", () => {
  using dir = tempDataDir();
  const store = openConfigStore({ dataDir: dir.dataDir });
  store.close();
  store.close();
  store[Symbol.dispose]();
  assert.throws(() => store.listListeners(), Deno.errors.BadResource);
  assert.throws(() => store.putMember(sampleMember("web", 1)), /config store is closed/);
});

Deno.test("openConfigStore() checks busyTimeoutMs", () => {
  assert.throws(
    () => openConfigStore({ dataDir: "/nonexistent", busyTimeoutMs: -1 }),
    RangeError,
  );
});

Deno.test("defaultDataDir() follows XDG_STATE_HOME, then HOME", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(defaultDataDir(env({ XDG_STATE_HOME: "/s", HOME: "/h" })), "/s/poolgate");
  assert.equal(defaultDataDir(env({ XDG_STATE_HOME: "", HOME: "/h" })), "/h/.local/state/poolgate");
  assert.equal(
    defaultDataDir(env({ XDG_STATE_HOME: "rel", HOME: "/h/" })),
    "/h/.local/state/poolgate",
  );
  assertStoreError(() => defaultDataDir(env({ HOME: "rel" })), "no-data-dir", "--data-dir");
});

const EMPTY: ConfigSnapshot = { members: [], poolSettings: [], listeners: [] };

Deno.test("mergeWithFlags() lets a stored record win over the flag one with the same key", () => {
  const stored: ConfigSnapshot = {
    members: [{ ...sampleMember("web", 1), drain: true }],
    poolSettings: [{ pool: "web", failover: "sever" }],
    listeners: [sampleListener("front", "web", 9000)],
  };
  const fromFlags: ConfigSnapshot = {
    members: [sampleMember("web", 1), sampleMember("web", 2)],
    poolSettings: [FULL_SETTINGS, samplePoolSettings("mail")],
    listeners: [sampleListener("front", "mail", 9001), sampleListener("other", "mail", 9002)],
  };
  assert.deepEqual(mergeWithFlags(stored, fromFlags), {
    members: [{ ...sampleMember("web", 1), drain: true }, sampleMember("web", 2)],
    poolSettings: [{ pool: "web", failover: "sever" }, samplePoolSettings("mail")],
    listeners: [sampleListener("front", "web", 9000), sampleListener("other", "mail", 9002)],
    overridden: ['static member "web"/1', 'pool settings "web"', 'listener "front"'],
  });
  assert.deepEqual(mergeWithFlags(EMPTY, fromFlags), { ...fromFlags, overridden: [] });
  assert.deepEqual(mergeWithFlags(stored, EMPTY), { ...stored, overridden: [] });
});

Deno.test("mergeWithFlags() drops a flag listener a stored one already serves the same way", () => {
  const stored = {
    ...EMPTY,
    listeners: [{ ...sampleListener("api-web", "web", 80), hostname: "0.0.0.0" }],
  };
  const fromFlags = { ...EMPTY, listeners: [sampleListener("flag-web", "web", 80)] };
  assert.deepEqual(mergeWithFlags(stored, fromFlags), {
    ...stored,
    overridden: ['listener "flag-web"'],
  });
});

Deno.test("mergeWithFlags() throws naming both listeners when they claim one address for different pools", () => {
  const stored = { ...EMPTY, listeners: [sampleListener("api-web", "web", 80)] };
  const fromFlags = {
    ...EMPTY,
    listeners: [{ ...sampleListener("flag-mail", "mail", 80), hostname: "::" }],
  };
  assertStoreError(
    () => mergeWithFlags(stored, fromFlags),
    "conflict",
    'stored listener "api-web" (tcp 127.0.0.1:80 → pool "web")',
    'flag listener "flag-mail" (tcp [::]:80 → pool "mail")',
  );
  assertStoreError(
    () =>
      mergeWithFlags(stored, { ...EMPTY, listeners: [{ ...HTTP_LISTENER, id: "h", port: 80 }] }),
    "conflict",
    '"h" (http [::]:80 → handle suffix "")',
  );
});

Deno.test("mergeWithFlags() sees no clash between other hosts, other ports or port 0", () => {
  const stored = {
    ...EMPTY,
    listeners: [sampleListener("a", "web", 80), sampleListener("z", "web", 0)],
  };
  const fromFlags = {
    ...EMPTY,
    listeners: [
      { ...sampleListener("b", "mail", 80), hostname: "127.0.0.2" },
      sampleListener("c", "mail", 81),
      sampleListener("d", "mail", 0),
    ],
  };
  const merged = mergeWithFlags(stored, fromFlags);
  assert.deepEqual(merged.listeners.map((listener) => listener.id), ["a", "z", "b", "c", "d"]);
});
