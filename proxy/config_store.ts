/**
 * The persistent config store: what operators set through the admin API (static pool members,
 * pool settings, front listeners) kept in one SQLite file, `poolgate.sqlite` in the data
 * directory, so that it survives restarts. Every change is one `BEGIN IMMEDIATE` transaction
 * committed with `synchronous=FULL` in WAL mode, so it is on disk before the call returns, and
 * several processes may write the same file. Records are checked with the zod schemas exported
 * here on write and again on read, so a hand-edited row fails with an error that names it.
 *
 * The file is inspected read-only before it is opened for writing: a corrupt file, a foreign
 * SQLite file, or one written by a newer Poolgate stops start-up with a
 * {@linkcode ConfigStoreError} and is left as it was. docs/config_store.md is the operator's
 * side of this module.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { isAbsolute, join } from "node:path";
import { z } from "zod";
import { POLICY_SHORT_NAMES } from "../lib/wire/policy_text.ts";
import { parseCEscapes } from "../lib/health/c_escapes.ts";
import { DEFAULT_MAX_POOL_HANDLE_LENGTH } from "../lib/wire/decode_options.ts";

/** Name of the SQLite file inside the data directory. */
export const CONFIG_STORE_FILE_NAME = "poolgate.sqlite";
/** Milliseconds a change waits for another writer's lock before it fails. */
export const DEFAULT_CONFIG_STORE_BUSY_TIMEOUT_MS = 5_000;
/** `PRAGMA application_id` of a Poolgate config store: "PGCS" in ASCII. */
export const CONFIG_STORE_APPLICATION_ID = 0x5047_4353;
/** Longest duration a stored record may carry: one week in milliseconds. */
export const MAX_STORED_DURATION_MS = 7 * 24 * 3_600_000;
/** Largest replay buffer a stored pool may ask for: 1 GiB. */
export const MAX_STORED_REPLAY_BUFFER_BYTES = 2 ** 30;
/** Most failovers per session a stored pool may allow. */
export const MAX_STORED_FAILOVERS = 100;
/** Most consecutive results a health check's fall or rise may count. */
export const MAX_STORED_HEALTH_CHECK_COUNT = 100;
/** Longest send or expect text of a send/expect health check, in characters. */
export const MAX_STORED_HEALTH_CHECK_TEXT = 1024;

/**
 * Forward migrations of the store's schema: entry N is the SQL that takes `PRAGMA user_version`
 * N to N+1, so the current version is the list's length. Steps are run inside the open's one
 * transaction and must not hold transaction statements of their own.
 */
export const CONFIG_STORE_MIGRATIONS: readonly string[] = [
  // 0 → 1. Each row is one JSON record; the key columns are generated from it, so a
  // hand edit cannot make them disagree, and SQLite rejects an edit that breaks the JSON.
  `CREATE TABLE static_member (
     record TEXT NOT NULL,
     pool TEXT NOT NULL GENERATED ALWAYS AS (json_extract(record, '$.pool')) STORED,
     pe_id INTEGER NOT NULL GENERATED ALWAYS AS (json_extract(record, '$.peId')) STORED,
     UNIQUE (pool, pe_id)
   ) STRICT;
   CREATE TABLE pool_settings (
     record TEXT NOT NULL,
     pool TEXT NOT NULL GENERATED ALWAYS AS (json_extract(record, '$.pool')) STORED,
     UNIQUE (pool)
   ) STRICT;
   CREATE TABLE listener (
     record TEXT NOT NULL,
     id TEXT NOT NULL GENERATED ALWAYS AS (json_extract(record, '$.id')) STORED,
     UNIQUE (id)
   ) STRICT;`,
];

// ─── Records ───────────────────────────────────────────────────────────────────────────────

const utf8 = new TextEncoder();

/**
 * A pool handle as text: 1 to {@linkcode DEFAULT_MAX_POOL_HANDLE_LENGTH} UTF-8 bytes (what the
 * wire decoder accepts), no control characters.
 */
export const poolHandleSchema = z.string().min(1).refine(
  (handle) => utf8.encode(handle).length <= DEFAULT_MAX_POOL_HANDLE_LENGTH,
  { message: `must be at most ${DEFAULT_MAX_POOL_HANDLE_LENGTH} UTF-8 bytes` },
).refine(
  // deno-lint-ignore no-control-regex
  (handle) => !/[\u0000-\u001f\u007f]/.test(handle),
  { message: "must not contain control characters" },
);

/** An IP address (IPv6 without brackets) or a host name. */
export const hostnameSchema = z.string().regex(
  /^[0-9A-Za-z._:%-]{1,253}$/,
  "must be an IP address (IPv6 without brackets) or a host name",
);

/** The member selection policies Poolgate implements (RFC 5356 §4; `plu` and `rlu` from RSPLIB). */
export const selectionPolicyNameSchema = z.enum(POLICY_SHORT_NAMES);
/** A member selection policy name. */
export type SelectionPolicyName = z.infer<typeof selectionPolicyNameSchema>;

type PolicyValueField = "weight" | "priority" | "load" | "loadDegradation";

/** The policy values each policy reads (RFC 5356 §4); any other value is a mistake. */
const POLICY_VALUE_FIELDS: Readonly<Record<SelectionPolicyName, readonly PolicyValueField[]>> = {
  rr: [],
  rand: [],
  wrr: ["weight"],
  wrand: ["weight"],
  prio: ["priority"],
  lu: ["load"],
  rlu: ["load"],
  lud: ["load", "loadDegradation"],
  plu: ["load", "loadDegradation"],
};

const u32 = z.int().min(0).max(0xffff_ffff);
const percent = z.number().min(0).max(100);

/**
 * A pool element's policy and its values; a value the policy does not read is rejected, one it
 * reads may be left out (the registrar's default applies). Loads are percent.
 */
export const memberPolicySchema = z.strictObject({
  name: selectionPolicyNameSchema,
  weight: u32.exactOptional(),
  priority: u32.exactOptional(),
  load: percent.exactOptional(),
  loadDegradation: percent.exactOptional(),
}).superRefine((policy, context) => {
  const allowed = POLICY_VALUE_FIELDS[policy.name];
  for (const field of ["weight", "priority", "load", "loadDegradation"] as const) {
    if (policy[field] !== undefined && !allowed.includes(field)) {
      context.addIssue({
        code: "custom",
        path: [field],
        message: `policy "${policy.name}" has no ${field}`,
      });
    }
  }
});
/** A pool element's member selection policy. */
export type MemberPolicy = z.infer<typeof memberPolicySchema>;

const duration = z.int().min(1).max(MAX_STORED_DURATION_MS);
const checkCount = z.int().min(1).max(MAX_STORED_HEALTH_CHECK_COUNT);
const checkTiming = {
  intervalMs: duration.exactOptional(),
  timeoutMs: duration.exactOptional(),
  fall: checkCount.exactOptional(),
  rise: checkCount.exactOptional(),
};

/** Text with C escapes (`PING\r\n`), as {@linkcode parseCEscapes} reads it. */
const escapedText = z.string().max(MAX_STORED_HEALTH_CHECK_TEXT).superRefine((text, context) => {
  try {
    parseCEscapes(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: reasonOf(error) });
  }
});

/**
 * How a static member's health is checked: a TCP connect, or send/expect text with C escapes;
 * timings left out take the health check defaults (lib/health/health_check.ts).
 */
export const healthCheckSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("connect"), ...checkTiming }),
  z.strictObject({
    kind: z.literal("send-expect"),
    send: escapedText,
    expect: escapedText.refine((text) => text !== "", "must not be empty"),
    ...checkTiming,
  }),
]);
/** A static member's health check. */
export type HealthCheckRecord = z.infer<typeof healthCheckSchema>;

/** A pool element an operator added through the admin API (a legacy server: DATA ONLY). */
export const staticMemberSchema = z.strictObject({
  pool: poolHandleSchema,
  peId: u32.min(1),
  hostname: hostnameSchema,
  port: z.int().min(1).max(65535),
  transportUse: z.literal("data-only"),
  policy: memberPolicySchema,
  check: healthCheckSchema,
  drain: z.boolean(),
  maintenance: z.boolean(),
});
/** A stored static member. */
export type StaticMemberRecord = z.infer<typeof staticMemberSchema>;

/** Per-pool proxy behaviour; a field left out takes the proxy's default. */
export const poolSettingsSchema = z.strictObject({
  pool: poolHandleSchema,
  policy: selectionPolicyNameSchema.exactOptional(),
  failover: z.enum(["migrate", "sever"]).exactOptional(),
  maxFailovers: z.int().min(0).max(MAX_STORED_FAILOVERS).exactOptional(),
  replayBufferBytes: z.int().min(1).max(MAX_STORED_REPLAY_BUFFER_BYTES).exactOptional(),
  connectTimeoutMs: duration.exactOptional(),
  /** 0 turns the idle timeout off. */
  idleTimeoutMs: z.int().min(0).max(MAX_STORED_DURATION_MS).exactOptional(),
  proxyProtocol: z.enum(["off", "v1", "v2"]).exactOptional(),
});
/** Stored settings of one pool. */
export type PoolSettingsRecord = z.infer<typeof poolSettingsSchema>;

/**
 * A front listener: `tcp` forwards to one pool; `tls` (by SNI) and `http` (by Host) take the pool
 * handle from the name the client asks for, less `handleSuffix`. Port 0 binds a free port on
 * every start.
 */
export const listenerSchema = z.strictObject({
  id: z.string().regex(
    /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/,
    "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  ),
  kind: z.enum(["tcp", "tls", "http"]),
  hostname: hostnameSchema,
  port: z.int().min(0).max(65535),
  pool: poolHandleSchema.exactOptional(),
  handleSuffix: z.string().regex(
    /^[0-9A-Za-z.-]{1,253}$/,
    "must be a DNS name suffix such as .pools.example",
  ).exactOptional(),
  acceptProxyProtocol: z.boolean(),
}).superRefine((listener, context) => {
  if (listener.kind === "tcp" && listener.pool === undefined) {
    context.addIssue({ code: "custom", path: ["pool"], message: "a tcp listener needs a pool" });
  }
  if (listener.kind !== "tcp" && listener.pool !== undefined) {
    context.addIssue({
      code: "custom",
      path: ["pool"],
      message: `a ${listener.kind} listener takes the pool from the name the client asks for`,
    });
  }
  if (listener.kind === "tcp" && listener.handleSuffix !== undefined) {
    context.addIssue({
      code: "custom",
      path: ["handleSuffix"],
      message: "only tls and http listeners take a handle suffix",
    });
  }
});
/** A stored front listener. */
export type ListenerRecord = z.infer<typeof listenerSchema>;

/** Everything the store holds (or the flags give), as {@linkcode mergeWithFlags} takes it. */
export interface ConfigSnapshot {
  /** Static pool members, by pool then PE id. */
  readonly members: readonly StaticMemberRecord[];
  /** Pool settings, by pool. */
  readonly poolSettings: readonly PoolSettingsRecord[];
  /** Front listeners, by id. */
  readonly listeners: readonly ListenerRecord[];
}

// ─── Errors ────────────────────────────────────────────────────────────────────────────────

/**
 * What went wrong: the file is `corrupt`, has a `newer-schema`, is a `foreign-file` (SQLite but
 * not Poolgate's), a `migration-failed`, an `invalid-record` was given or an `invalid-row` read,
 * another writer kept it `busy`, an `io` error, a `conflict` between stored and flag config, or
 * there is `no-data-dir` to default to.
 */
export type ConfigStoreProblem =
  | "corrupt"
  | "newer-schema"
  | "foreign-file"
  | "migration-failed"
  | "invalid-record"
  | "invalid-row"
  | "busy"
  | "io"
  | "conflict"
  | "no-data-dir";

/** What a {@linkcode ConfigStoreError} carries besides its message. */
export interface ConfigStoreErrorOptions {
  /** The kind of problem, for callers that treat them differently. */
  readonly problem: ConfigStoreProblem;
  /** The store file concerned, when there is one. */
  readonly path?: string;
  /** The underlying SQLite, zod or file system error. */
  readonly cause?: unknown;
}

/** A config store problem; its message names the file and says what the operator can do. */
export class ConfigStoreError extends Error {
  /** The kind of problem. */
  readonly problem: ConfigStoreProblem;
  /** The store file concerned, when there is one. */
  readonly path: string | undefined;

  /** Builds the error; `message` follows the Deno style ("Cannot open config store …: …"). */
  constructor(message: string, options: ConfigStoreErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConfigStoreError";
    this.problem = options.problem;
    this.path = options.path;
  }
}

// https://sqlite.org/rescode.html: primary result codes (the low byte of extended ones).
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

function sqliteCode(error: unknown): number | undefined {
  if (error instanceof Error && "errcode" in error && typeof error.errcode === "number") {
    return error.errcode & 0xff;
  }
  return undefined;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function corruptError(path: string, detail: string, cause?: unknown): ConfigStoreError {
  return new ConfigStoreError(
    `Cannot open config store ${path}: the file is corrupt (${detail}). Poolgate has not ` +
      `changed it. Stop every Poolgate that uses it, move ${path} and its -wal and -shm files ` +
      `aside, and start again with an empty store or a backup (docs/config_store.md, "Recovery").`,
    { problem: "corrupt", path, cause },
  );
}

function newerSchemaError(path: string, version: number, known: number): ConfigStoreError {
  return new ConfigStoreError(
    `Cannot open config store ${path}: its schema version ${version} is newer than the ` +
      `version ${known} this Poolgate knows. Poolgate has not changed it. Run the newer ` +
      `Poolgate that wrote it, or point --data-dir at a store made by this version.`,
    { problem: "newer-schema", path },
  );
}

/** Turns a SQLite error met while doing `action` into a ConfigStoreError. */
function storeError(
  path: string,
  action: string,
  error: unknown,
  busyTimeoutMs: number,
): ConfigStoreError {
  if (error instanceof ConfigStoreError) return error;
  const code = sqliteCode(error);
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
    return new ConfigStoreError(
      `Cannot ${action} in config store ${path}: another connection held its lock for more ` +
        `than ${busyTimeoutMs} ms. Try again; if it persists, look for a stuck process using it.`,
      { problem: "busy", path, cause: error },
    );
  }
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
    return corruptError(path, reasonOf(error), error);
  }
  return new ConfigStoreError(
    `Cannot ${action} in config store ${path}: ${reasonOf(error)}`,
    { problem: "io", path, cause: error },
  );
}

/** "policy.weight: Too big…; port: …" from zod issues. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    const where = issue.path.map(String).join(".");
    return where === "" ? issue.message : `${where}: ${issue.message}`;
  }).join("; ");
}

// ─── Data directory ────────────────────────────────────────────────────────────────────────

/**
 * The default data directory: `$XDG_STATE_HOME/poolgate`, or `$HOME/.local/state/poolgate` when
 * XDG_STATE_HOME is unset, empty or relative (XDG Base Directory spec).
 *
 * @throws {ConfigStoreError} `no-data-dir` when neither variable holds an absolute path.
 */
export function defaultDataDir(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string {
  const state = env("XDG_STATE_HOME");
  if (state !== undefined && isAbsolute(state)) return join(state, "poolgate");
  const home = env("HOME");
  if (home !== undefined && isAbsolute(home)) return join(home, ".local", "state", "poolgate");
  throw new ConfigStoreError(
    "Cannot choose a data directory: neither XDG_STATE_HOME nor HOME is an absolute path; " +
      "give one with --data-dir",
    { problem: "no-data-dir" },
  );
}

// ─── Opening ───────────────────────────────────────────────────────────────────────────────

/** Options of {@linkcode openConfigStore}. */
export interface ConfigStoreOptions {
  /**
   * Directory holding {@linkcode CONFIG_STORE_FILE_NAME}; created with mode 0700 when missing.
   * {@linkcode defaultDataDir} gives the usual one.
   */
  readonly dataDir: string;
  /**
   * Milliseconds a change waits for another writer before it fails with `busy`. The wait blocks
   * the calling thread, as every `node:sqlite` call does.
   * @default {DEFAULT_CONFIG_STORE_BUSY_TIMEOUT_MS}
   */
  readonly busyTimeoutMs?: number;
  /**
   * The forward migrations; only tests give their own, to exercise versions this build does not
   * have yet. @default {CONFIG_STORE_MIGRATIONS}
   */
  readonly migrations?: readonly string[];
}

/** The open config store; every change is durable when the call returns. */
export interface ConfigStore extends Disposable {
  /** The SQLite file. */
  readonly path: string;
  /** `PRAGMA user_version` after the migrations of this open. */
  readonly schemaVersion: number;
  /** Adds or replaces (same pool and PE id) a static member; returns it as stored. */
  putMember(member: StaticMemberRecord): StaticMemberRecord;
  /** Removes a static member; false when there was none. */
  deleteMember(pool: string, peId: number): boolean;
  /** Static members of `pool`, or of every pool, by pool then PE id. */
  listMembers(pool?: string): StaticMemberRecord[];
  /** Adds or replaces the settings of a pool; returns them as stored. */
  putPoolSettings(settings: PoolSettingsRecord): PoolSettingsRecord;
  /** Removes the settings of a pool; false when there were none. */
  deletePoolSettings(pool: string): boolean;
  /** Every pool's settings, by pool. */
  listPoolSettings(): PoolSettingsRecord[];
  /** Adds or replaces (same id) a listener; returns it as stored. */
  putListener(listener: ListenerRecord): ListenerRecord;
  /** Removes a listener; false when there was none. */
  deleteListener(id: string): boolean;
  /** Every listener, by id. */
  listListeners(): ListenerRecord[];
  /** All three lists read in one transaction, so they are consistent with each other. */
  snapshot(): ConfigSnapshot;
  /** Closes the database; idempotent. Later calls throw `Deno.errors.BadResource`. */
  close(): void;
}

/**
 * Opens (creating on first use) `poolgate.sqlite` in `options.dataDir`: inspects an existing
 * file read-only, then opens it for writing in WAL mode with `synchronous=FULL` and applies the
 * missing migrations in one transaction.
 *
 * @throws {ConfigStoreError} `corrupt`, `newer-schema` or `foreign-file` (the file is left
 * untouched), `migration-failed` (rolled back), `busy` or `io`.
 * @throws {RangeError} when `busyTimeoutMs` is not a non-negative integer.
 */
export function openConfigStore(options: ConfigStoreOptions): ConfigStore {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_CONFIG_STORE_BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError(
      `Cannot open config store as 'busyTimeoutMs' must be a non-negative integer: current value is ${busyTimeoutMs}`,
    );
  }
  const migrations = options.migrations ?? CONFIG_STORE_MIGRATIONS;
  const path = join(options.dataDir, CONFIG_STORE_FILE_NAME);
  try {
    Deno.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigStoreError(
      `Cannot create data directory ${options.dataDir}: ${reasonOf(error)}`,
      { problem: "io", path, cause: error },
    );
  }
  inspectReadOnly(path, migrations.length, busyTimeoutMs);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw storeError(path, "open the file", error, busyTimeoutMs);
  }
  try {
    useWal(db, path, busyTimeoutMs);
    // Per connection, not stored in the file: every commit is fsynced before it returns.
    db.exec("PRAGMA synchronous = FULL");
    const schemaVersion = migrate(db, path, migrations);
    return new SqliteConfigStore(db, path, schemaVersion, busyTimeoutMs);
  } catch (error) {
    db.close();
    throw storeError(path, "open the file", error, busyTimeoutMs);
  }
}

/** Shared memory for {@linkcode useWal}'s synchronous pause between two tries. */
const WAL_RETRY_PAUSE = new Int32Array(new SharedArrayBuffer(4));
/** Milliseconds between two tries of the switch to WAL mode. */
const WAL_RETRY_PAUSE_MS = 5;

/**
 * Puts the file in WAL mode. SQLite answers a switch that meets another connection's lock with
 * SQLITE_BUSY at once, without its busy handler: two processes opening a new store together
 * both try the switch, so the loser tries again (the file is then in WAL mode already) until
 * `busyTimeoutMs` is over.
 */
function useWal(db: DatabaseSync, path: string, busyTimeoutMs: number): void {
  const deadline = performance.now() + busyTimeoutMs;
  for (;;) {
    let mode: unknown;
    try {
      mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
    } catch (error) {
      const code = sqliteCode(error);
      if ((code !== SQLITE_BUSY && code !== SQLITE_LOCKED) || performance.now() >= deadline) {
        throw error;
      }
      Atomics.wait(WAL_RETRY_PAUSE, 0, 0, WAL_RETRY_PAUSE_MS);
      continue;
    }
    if (mode === "wal") return;
    throw new ConfigStoreError(
      `Cannot open config store ${path}: SQLite cannot use WAL mode there (it stays in ` +
        `${String(mode)} mode); put --data-dir on a local file system`,
      { problem: "io", path },
    );
  }
}

/** Refuses, without writing to it, a file that is corrupt, foreign or from a newer schema. */
function inspectReadOnly(path: string, knownVersion: number, busyTimeoutMs: number): void {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) {
      throw new ConfigStoreError(
        `Cannot open config store ${path}: it is not a regular file; move it aside`,
        { problem: "io", path },
      );
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw storeError(path, "inspect the file", error, busyTimeoutMs);
  }
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true, timeout: busyTimeoutMs });
    const problems = db.prepare("PRAGMA integrity_check").all()
      .map((row) => String(row.integrity_check));
    if (problems.length !== 1 || problems[0] !== "ok") {
      const shown = problems.slice(0, 3).join("; ");
      throw corruptError(path, `integrity check: ${shown}${problems.length > 3 ? "; …" : ""}`);
    }
    const version = Number(db.prepare("PRAGMA user_version").get()?.user_version);
    if (version > knownVersion) throw newerSchemaError(path, version, knownVersion);
    const applicationId = Number(db.prepare("PRAGMA application_id").get()?.application_id);
    const objects = Number(db.prepare("SELECT count(*) AS n FROM sqlite_schema").get()?.n);
    const foreignId = applicationId !== 0 && applicationId !== CONFIG_STORE_APPLICATION_ID;
    if (foreignId || (version === 0 && objects > 0)) {
      throw new ConfigStoreError(
        `Cannot open config store ${path}: it is a SQLite database of another program ` +
          `(application id ${applicationId}, schema version ${version}, ${objects} schema ` +
          `objects). Poolgate has not changed it. Point --data-dir at another directory or ` +
          `move the file aside.`,
        { problem: "foreign-file", path },
      );
    }
  } catch (error) {
    throw storeError(path, "inspect the file", error, busyTimeoutMs);
  } finally {
    db?.close();
  }
}

/**
 * Runs `work` in one transaction and commits it; rolls back when `work` throws. `BEGIN IMMEDIATE`
 * takes the write lock up front, waiting up to the busy timeout, so a writer never has to
 * upgrade a read lock (which fails at once in WAL mode).
 */
function inTransaction<R>(db: DatabaseSync, begin: "BEGIN" | "BEGIN IMMEDIATE", work: () => R): R {
  // Prepared statements, not exec(): Deno's DatabaseSync.exec() drops the SQLite result code
  // from its errors, and busy and corrupt are told apart by that code.
  db.prepare(begin).run();
  try {
    const result = work();
    db.prepare("COMMIT").run();
    return result;
  } finally {
    if (db.isTransaction) db.prepare("ROLLBACK").run();
  }
}

/** Applies the missing migrations in one write transaction; returns the resulting version. */
function migrate(db: DatabaseSync, path: string, migrations: readonly string[]): number {
  const target = migrations.length;
  return inTransaction(db, "BEGIN IMMEDIATE", () => {
    // Read again under the write lock: another process may have migrated since inspection.
    const from = Number(db.prepare("PRAGMA user_version").get()?.user_version);
    if (from > target) throw newerSchemaError(path, from, target);
    for (let version = from; version < target; version++) {
      try {
        db.exec(migrations[version] ?? "");
      } catch (error) {
        throw new ConfigStoreError(
          `Cannot migrate config store ${path} from schema version ${version} to ` +
            `${version + 1}: ${reasonOf(error)}. The change was rolled back and the store is ` +
            `still at version ${from}; report this with a copy of the file.`,
          { problem: "migration-failed", path, cause: error },
        );
      }
    }
    if (from < target) {
      // Integers only, so formatting them into the statement is safe.
      db.exec(`PRAGMA user_version = ${target}`);
      db.exec(`PRAGMA application_id = ${CONFIG_STORE_APPLICATION_ID}`);
    }
    return target;
  });
}

// ─── The store ─────────────────────────────────────────────────────────────────────────────

/** How one record kind maps onto its table. */
interface RecordTable<T> {
  /** What the operator calls it, for messages. */
  readonly noun: string;
  readonly table: string;
  readonly schema: z.ZodType<T>;
  /** The generated key columns, in sort order. */
  readonly keyColumns: readonly string[];
}

const MEMBER_TABLE: RecordTable<StaticMemberRecord> = {
  noun: "static member",
  table: "static_member",
  schema: staticMemberSchema,
  keyColumns: ["pool", "pe_id"],
};
const POOL_SETTINGS_TABLE: RecordTable<PoolSettingsRecord> = {
  noun: "pool settings",
  table: "pool_settings",
  schema: poolSettingsSchema,
  keyColumns: ["pool"],
};
const LISTENER_TABLE: RecordTable<ListenerRecord> = {
  noun: "listener",
  table: "listener",
  schema: listenerSchema,
  keyColumns: ["id"],
};

/** The prepared statements of one table. */
interface TableStatements {
  readonly put: StatementSync;
  readonly delete: StatementSync;
  readonly list: StatementSync;
}

function prepareTable<T>(db: DatabaseSync, table: RecordTable<T>): TableStatements {
  const keys = table.keyColumns.join(", ");
  const match = table.keyColumns.map((column) => `${column} = ?`).join(" AND ");
  return {
    put: db.prepare(
      `INSERT INTO ${table.table} (record) VALUES (?) ` +
        `ON CONFLICT (${keys}) DO UPDATE SET record = excluded.record`,
    ),
    delete: db.prepare(`DELETE FROM ${table.table} WHERE ${match}`),
    list: db.prepare(`SELECT rowid, record, ${keys} FROM ${table.table} ORDER BY ${keys}`),
  };
}

class SqliteConfigStore implements ConfigStore {
  readonly path: string;
  readonly schemaVersion: number;
  #db: DatabaseSync | undefined;
  readonly #busyTimeoutMs: number;
  readonly #members: TableStatements;
  readonly #membersOfPool: StatementSync;
  readonly #poolSettings: TableStatements;
  readonly #listeners: TableStatements;

  constructor(db: DatabaseSync, path: string, schemaVersion: number, busyTimeoutMs: number) {
    this.#db = db;
    this.path = path;
    this.schemaVersion = schemaVersion;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#members = prepareTable(db, MEMBER_TABLE);
    this.#membersOfPool = db.prepare(
      "SELECT rowid, record, pool, pe_id FROM static_member WHERE pool = ? ORDER BY pe_id",
    );
    this.#poolSettings = prepareTable(db, POOL_SETTINGS_TABLE);
    this.#listeners = prepareTable(db, LISTENER_TABLE);
  }

  putMember(member: StaticMemberRecord): StaticMemberRecord {
    return this.#put(MEMBER_TABLE, this.#members, member);
  }

  deleteMember(pool: string, peId: number): boolean {
    return this.#delete(MEMBER_TABLE, this.#members, [pool, peId]);
  }

  listMembers(pool?: string): StaticMemberRecord[] {
    return this.#transaction(
      "BEGIN",
      `list ${MEMBER_TABLE.noun}s`,
      () =>
        pool === undefined
          ? this.#readRows(MEMBER_TABLE, this.#members.list)
          : this.#readRows(MEMBER_TABLE, this.#membersOfPool, [pool]),
    );
  }

  putPoolSettings(settings: PoolSettingsRecord): PoolSettingsRecord {
    return this.#put(POOL_SETTINGS_TABLE, this.#poolSettings, settings);
  }

  deletePoolSettings(pool: string): boolean {
    return this.#delete(POOL_SETTINGS_TABLE, this.#poolSettings, [pool]);
  }

  listPoolSettings(): PoolSettingsRecord[] {
    return this.#list(POOL_SETTINGS_TABLE, this.#poolSettings);
  }

  putListener(listener: ListenerRecord): ListenerRecord {
    return this.#put(LISTENER_TABLE, this.#listeners, listener);
  }

  deleteListener(id: string): boolean {
    return this.#delete(LISTENER_TABLE, this.#listeners, [id]);
  }

  listListeners(): ListenerRecord[] {
    return this.#list(LISTENER_TABLE, this.#listeners);
  }

  snapshot(): ConfigSnapshot {
    return this.#transaction("BEGIN", "read the whole store", () => ({
      members: this.#readRows(MEMBER_TABLE, this.#members.list),
      poolSettings: this.#readRows(POOL_SETTINGS_TABLE, this.#poolSettings.list),
      listeners: this.#readRows(LISTENER_TABLE, this.#listeners.list),
    }));
  }

  close(): void {
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #put<T>(table: RecordTable<T>, statements: TableStatements, record: T): T {
    const parsed = table.schema.safeParse(record);
    if (!parsed.success) {
      throw new ConfigStoreError(
        `Cannot put ${table.noun} in config store ${this.path}: ${describeIssues(parsed.error)}`,
        { problem: "invalid-record", path: this.path, cause: parsed.error },
      );
    }
    const json = JSON.stringify(parsed.data);
    this.#transaction("BEGIN IMMEDIATE", `put ${table.noun}`, () => statements.put.run(json));
    return parsed.data;
  }

  #delete<T>(table: RecordTable<T>, statements: TableStatements, key: SQLInputValue[]): boolean {
    const result = this.#transaction(
      "BEGIN IMMEDIATE",
      `delete ${table.noun}`,
      () => statements.delete.run(...key),
    );
    return Number(result.changes) > 0;
  }

  #list<T>(table: RecordTable<T>, statements: TableStatements): T[] {
    return this.#transaction(
      "BEGIN",
      `list ${table.noun}`,
      () => this.#readRows(table, statements.list),
    );
  }

  /** Reads and checks every row `statement` selects (rowid, record, then the key columns). */
  #readRows<T>(table: RecordTable<T>, statement: StatementSync, params: SQLInputValue[] = []): T[] {
    return statement.all(...params).map((row) => {
      const key = table.keyColumns.map((column) => `${column} ${JSON.stringify(row[column])}`);
      const where = `${table.noun} row ${String(row.rowid)} (${key.join(", ")}) in table ` +
        `${table.table} of config store ${this.path}`;
      let value: unknown;
      try {
        value = JSON.parse(String(row.record));
      } catch (error) {
        throw this.#invalidRow(where, `its record is not JSON: ${reasonOf(error)}`, error);
      }
      const parsed = table.schema.safeParse(value);
      if (!parsed.success) {
        throw this.#invalidRow(where, describeIssues(parsed.error), parsed.error);
      }
      return parsed.data;
    });
  }

  #invalidRow(where: string, reason: string, cause: unknown): ConfigStoreError {
    return new ConfigStoreError(
      `Cannot read ${where}: ${reason}. Put the record again or delete it through the admin ` +
        `API, or correct the row with the sqlite3 shell.`,
      { problem: "invalid-row", path: this.path, cause },
    );
  }

  /** Runs `work` in one transaction of this store, as `action` for error messages. */
  #transaction<R>(begin: "BEGIN" | "BEGIN IMMEDIATE", action: string, work: () => R): R {
    const db = this.#db;
    if (db === undefined) {
      throw new Deno.errors.BadResource(`Cannot ${action}: the config store is closed`);
    }
    try {
      return inTransaction(db, begin, work);
    } catch (error) {
      throw storeError(this.path, action, error, this.#busyTimeoutMs);
    }
  }
}

// ─── Stored config over start-up flags ─────────────────────────────────────────────────────

/** A merge of stored and flag config; `overridden` names the flag objects the store replaced. */
export interface MergedConfig extends ConfigSnapshot {
  /** One entry per flag object dropped for a stored one, e.g. `listener "front"`, for logs. */
  readonly overridden: readonly string[];
}

/**
 * Merges stored config over start-up flags: for the same object (static member by pool and PE
 * id, pool settings by pool, listener by id) the stored record wins whole. A flag listener on a
 * stored listener's address (wildcard addresses overlap every other) is dropped when both route
 * alike (kind, pool, handle suffix) and is a conflict otherwise. Stored records come first.
 *
 * @throws {ConfigStoreError} `conflict`, naming both listeners.
 */
export function mergeWithFlags(stored: ConfigSnapshot, fromFlags: ConfigSnapshot): MergedConfig {
  const overridden: string[] = [];
  const members = mergeByKey(
    stored.members,
    fromFlags.members,
    (member) => `static member ${JSON.stringify(member.pool)}/${member.peId}`,
    overridden,
  );
  const poolSettings = mergeByKey(
    stored.poolSettings,
    fromFlags.poolSettings,
    (settings) => `pool settings ${JSON.stringify(settings.pool)}`,
    overridden,
  );
  const listeners = mergeByKey(
    stored.listeners,
    fromFlags.listeners.filter((flag) =>
      !takenByStoredListener(flag, stored.listeners, overridden)
    ),
    (listener) => `listener ${JSON.stringify(listener.id)}`,
    overridden,
  );
  return { members, poolSettings, listeners, overridden };
}

/** Stored records, then the flag records whose key no stored record has. */
function mergeByKey<T>(
  stored: readonly T[],
  fromFlags: readonly T[],
  keyOf: (record: T) => string,
  overridden: string[],
): T[] {
  const storedKeys = new Set(stored.map(keyOf));
  const merged = [...stored];
  for (const record of fromFlags) {
    const key = keyOf(record);
    if (storedKeys.has(key)) overridden.push(key);
    else merged.push(record);
  }
  return merged;
}

/**
 * True when a stored listener with another id already serves `flag`'s address the same way;
 * throws when one serves it differently.
 */
function takenByStoredListener(
  flag: ListenerRecord,
  stored: readonly ListenerRecord[],
  overridden: string[],
): boolean {
  if (stored.some((listener) => listener.id === flag.id)) return false;
  for (const listener of stored) {
    if (!sameAddress(listener, flag)) continue;
    if (
      listener.kind === flag.kind && listener.pool === flag.pool &&
      listener.handleSuffix === flag.handleSuffix
    ) {
      overridden.push(`listener ${JSON.stringify(flag.id)}`);
      return true;
    }
    throw new ConfigStoreError(
      `Cannot merge stored config with flags: stored listener ${describeListener(listener)} ` +
        `and flag listener ${describeListener(flag)} claim the same address. Delete or move ` +
        `the stored listener through the admin API, or change the flag.`,
      { problem: "conflict" },
    );
  }
  return false;
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "0:0:0:0:0:0:0:0"]);

/** Whether binding both would collide: same port (0 never does), same or wildcard host. */
function sameAddress(a: ListenerRecord, b: ListenerRecord): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  const hostA = a.hostname.toLowerCase();
  const hostB = b.hostname.toLowerCase();
  return hostA === hostB || WILDCARD_HOSTS.has(hostA) || WILDCARD_HOSTS.has(hostB);
}

function describeListener(listener: ListenerRecord): string {
  const host = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
  const target = listener.pool !== undefined
    ? `pool ${JSON.stringify(listener.pool)}`
    : `handle suffix ${JSON.stringify(listener.handleSuffix ?? "")}`;
  return `${JSON.stringify(listener.id)} (${listener.kind} ${host}:${listener.port} → ${target})`;
}
