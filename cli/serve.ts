/**
 * `main.ts serve`: the proxy with its embedded registrar and the admin API (what `deno task
 * start` runs). At start-up it opens the config store, merges what is stored over the flags'
 * members, pool settings and listeners (stored objects win), starts everything and prints the
 * effective addresses; with no listener configured it says how to add one.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  AdminServerError,
  checkAdminToken,
  DEFAULT_ADMIN_HOSTNAME,
  isLoopbackHostname,
} from "../proxy/admin/mod.ts";
import {
  type ConfigSnapshot,
  type ConfigStore,
  ConfigStoreError,
  defaultDataDir,
  type HealthCheckRecord,
  type ListenerRecord,
  mergeWithFlags,
  openConfigStore,
  type PoolSettingsRecord,
  type StaticMemberRecord,
} from "../proxy/config_store.ts";
import { defaultListenerId } from "../proxy/front_listener.ts";
import { type Poolgate, startPoolgate } from "../proxy/poolgate.ts";
import type { PoolTuning } from "../proxy/poolgate_admin_backend.ts";
import {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_DRAIN_MS,
  DEFAULT_FRONT_TIMEOUT_MS,
  DEFAULT_MAX_FRONT_BYTES,
  DEFAULT_MAX_SESSIONS,
} from "../proxy/proxy.ts";
import { stableMemberId } from "../proxy/static_members.ts";
import { CommandError, defineCommand } from "./command.ts";
import { HEALTH_CHECK_FLAGS, healthCheckSettings } from "./health_check_flags.ts";
import { runUntilSignal } from "./lifecycle.ts";
import { setUpLogging } from "./logging.ts";
import {
  type Flag,
  type FlagValues,
  option,
  optionalOption,
  repeatable,
  toggle,
  UsageError,
} from "./flags.ts";
import { bindFailure, REGISTRAR_FLAGS, registrarOptions } from "./registrar_command.ts";
import {
  parseHandleSuffix,
  parseHostListen,
  parseListen,
  parseMember,
  parsePool,
  type PoolSpec,
} from "./serve_values.ts";
import {
  formatDuration,
  formatHostPort,
  type HostPort,
  integerIn,
  parseDuration,
  parseHostPort,
} from "./values.ts";

/** The admin API's port unless `--admin` says otherwise. */
export const DEFAULT_ADMIN_PORT = 8080;

/**
 * Where `--admin` puts the admin API: an address (`given` false when it is the default), or
 * `off`.
 */
export type AdminAddress = (HostPort & { readonly given: boolean }) | "off";

/**
 * `--admin HOST:PORT|off`. Unlike other flags it tells its default from a value given, because
 * a default address that another program holds only costs the API, while one the operator
 * asked for stops start-up.
 */
function adminFlag(): Flag<AdminAddress> {
  const defaultText = formatHostPort({
    hostname: DEFAULT_ADMIN_HOSTNAME,
    port: DEFAULT_ADMIN_PORT,
  });
  return {
    kind: "value",
    description:
      "Address of the admin API (HTTP; port 0 picks a free one), or off; without a token it must be loopback",
    valueName: "HOST:PORT|off",
    defaultText,
    resolve(texts, name) {
      const text = texts.at(-1);
      if (text === undefined) return { ...parseHostPort(defaultText), given: false };
      if (text === "off") return "off";
      try {
        return { ...parseHostPort(text), given: true };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new UsageError(`Invalid value for --${name}: ${JSON.stringify(text)}: ${reason}`);
      }
    },
  };
}

/** `serve`'s flags of the admin API and the config store. */
const ADMIN_FLAGS = {
  admin: adminFlag(),
  "no-admin": toggle("Serve no admin API (the same as --admin off)"),
  "admin-token": optionalOption((text) => text, {
    description:
      "Bearer token the admin API requires (visible ASCII); prefer --admin-token-file, as a flag shows in the process list",
    valueName: "TOKEN",
  }),
  "admin-token-file": optionalOption((text) => text, {
    description:
      "File holding the admin API's bearer token; a trailing line feed is not part of it",
    valueName: "FILE",
  }),
  "data-dir": optionalOption((text) => text, {
    description:
      "Directory of the config store poolgate.sqlite (default: $XDG_STATE_HOME/poolgate, else ~/.local/state/poolgate)",
    valueName: "DIR",
  }),
  "no-store": toggle(
    "Open no config store: flags alone configure, and admin API changes last until the process ends",
  ),
};

/** `serve`'s flags: the registrar's, then the proxy's. */
export const SERVE_FLAGS = {
  ...REGISTRAR_FLAGS,
  listen: repeatable(parseListen, {
    description: "A front TCP listener bound to one pool (host default 127.0.0.1)",
    valueName: "[HOST:]PORT=HANDLE",
  }),
  "listen-tls": repeatable(parseHostListen, {
    description:
      "A front TLS listener that forwards each connection, TLS untouched, to the pool its SNI names: <handle><--handle-suffix> (host default 127.0.0.1)",
    valueName: "[HOST:]PORT",
  }),
  "listen-http": repeatable(parseHostListen, {
    description:
      "A front HTTP/1.x listener that forwards each connection to the pool the Host of its first request names: <handle><--handle-suffix> (host default 127.0.0.1)",
    valueName: "[HOST:]PORT",
  }),
  "handle-suffix": optionalOption(parseHandleSuffix, {
    description:
      "The domain under which --listen-tls and --listen-http host names name pools (echo.pool.example is pool echo with .pool.example)",
    valueName: ".DOMAIN",
  }),
  "front-timeout": option(parseDuration, {
    description:
      "Longest wait of --listen-tls/--listen-http for the ClientHello or request head (408 or a close after it)",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_FRONT_TIMEOUT_MS),
  }),
  "max-front-bytes": option(integerIn(256, 1_048_576), {
    description:
      "Most bytes of a ClientHello or request head on --listen-tls/--listen-http (TLS alert or 431 above it)",
    valueName: "N",
    default: String(DEFAULT_MAX_FRONT_BYTES),
  }),
  member: repeatable(parseMember, {
    description:
      "A static DATA ONLY member this registrar owns and health-checks; optional weight=N, priority=N, load=PCT, degradation=PCT",
    valueName: "HANDLE=IP:PORT[,key=value…]",
  }),
  pool: repeatable(parsePool, {
    description:
      "Per-pool settings: policy, failover=migrate|sever, max-failovers, replay-buffer, connect-timeout, idle-timeout, proxy-protocol=off|v1|v2, fin-probe",
    valueName: "HANDLE:key=value,…",
  }),
  "max-sessions": option(integerIn(1, 10_000_000), {
    description: "Most proxied sessions at once",
    valueName: "N",
    default: String(DEFAULT_MAX_SESSIONS),
  }),
  "buffer-size": option(integerIn(1024, 16 * 1024 * 1024), {
    description:
      "Bytes of each of a session's two read buffers (bulk streams move fewer, larger reads)",
    valueName: "BYTES",
    default: String(DEFAULT_BUFFER_SIZE),
  }),
  "drain-timeout": option(parseDuration, {
    description: "How long sessions may go on after SIGTERM before they are closed",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_DRAIN_MS),
  }),
  ...HEALTH_CHECK_FLAGS,
  ...ADMIN_FLAGS,
};

type ServeValues = FlagValues<typeof SERVE_FLAGS>;

function poolSpecs(values: ServeValues): Map<string, PoolSpec> {
  const pools = new Map<string, PoolSpec>();
  for (const spec of values.pool) {
    const earlier = pools.get(spec.pool);
    // Repeating --pool for one handle adds to its settings; later keys win.
    const policy = spec.policy ?? earlier?.policy;
    pools.set(spec.pool, {
      pool: spec.pool,
      ...(policy === undefined ? {} : { policy }),
      settings: { ...earlier?.settings, ...spec.settings },
    });
  }
  return pools;
}

/** Bytes as text with C escapes, as the config store keeps health check texts. */
function cEscaped(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) {
    if (byte === 0x5c) text += "\\\\";
    else if (byte === 0x0a) text += "\\n";
    else if (byte === 0x0d) text += "\\r";
    else if (byte === 0x09) text += "\\t";
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else text += `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return text;
}

/** The `--check-*` flags as the health check of a stored static member. */
function checkRecord(values: ServeValues): HealthCheckRecord {
  const { send, expect, intervalMs, timeoutMs, fall, rise } = healthCheckSettings(values);
  const timing = { intervalMs, timeoutMs, fall, rise };
  return send === undefined || expect === undefined
    ? { kind: "connect", ...timing }
    : { kind: "send-expect", send: cEscaped(send), expect: cEscaped(expect), ...timing };
}

/**
 * The `--member` flags as static member records. Each PE id is derived from the pool and the
 * address ({@linkcode stableMemberId}), so a stored change to a flag member finds it again after
 * a restart.
 */
function memberRecords(values: ServeValues, pools: Map<string, PoolSpec>): StaticMemberRecord[] {
  const check = checkRecord(values);
  const taken = new Set<string>();
  return values.member.map((member) => {
    let peId = stableMemberId(member.pool, member.hostname, member.port);
    // Two flag members of one pool whose ids collide: the later one takes the next free id.
    while (taken.has(`${member.pool}\u0000${peId}`)) peId = peId === 0xffff_ffff ? 1 : peId + 1;
    taken.add(`${member.pool}\u0000${peId}`);
    return {
      pool: member.pool,
      peId,
      hostname: member.hostname,
      port: member.port,
      transportUse: "data-only",
      policy: { name: pools.get(member.pool)?.policy ?? "rr", ...member.values },
      check,
      drain: false,
      maintenance: false,
    };
  });
}

/**
 * The `--pool` flags as pool settings records, and the settings a record has no field for
 * (`fin-probe`), by pool.
 */
function poolRecords(pools: Map<string, PoolSpec>): {
  records: PoolSettingsRecord[];
  tuning: Record<string, PoolTuning>;
} {
  const records: PoolSettingsRecord[] = [];
  const tuning: Record<string, PoolTuning> = {};
  for (const { pool, policy, settings } of pools.values()) {
    const { finProbe, finProbeSettleMs, ...stored } = settings;
    records.push({ pool, ...(policy === undefined ? {} : { policy }), ...stored });
    tuning[pool] = {
      ...(finProbe === undefined ? {} : { finProbe }),
      ...(finProbeSettleMs === undefined ? {} : { finProbeSettleMs }),
    };
  }
  return { records, tuning };
}

/**
 * The front listeners the flags ask for: `--listen`, then `--listen-tls`, then `--listen-http`,
 * as listener records whose id says the kind and the address asked for ("tcp-127.0.0.1-8000"),
 * so it stays the same across restarts.
 */
function listenerRecords(values: ServeValues): ListenerRecord[] {
  const hostListeners = [
    ...values["listen-tls"].map((address) => ({ ...address, kind: "tls" as const })),
    ...values["listen-http"].map((address) => ({ ...address, kind: "http" as const })),
  ];
  const handleSuffix = values["handle-suffix"];
  if (hostListeners.length > 0 && handleSuffix === undefined) {
    throw new UsageError(
      "--listen-tls and --listen-http need --handle-suffix, such as --handle-suffix .pool.example",
    );
  }
  if (hostListeners.length === 0 && handleSuffix !== undefined) {
    throw new UsageError("--handle-suffix applies to --listen-tls and --listen-http only");
  }
  const listeners = [
    ...values.listen.map(({ hostname, port, pool }) => ({
      kind: "tcp" as const,
      hostname,
      port,
      pool,
    })),
    ...hostListeners.map((listener) => ({
      ...listener,
      ...(handleSuffix ? { handleSuffix } : {}),
    })),
  ];
  const ids = new Set<string>();
  return listeners.map((listener) => {
    const base = defaultListenerId(listener.kind, listener.hostname, listener.port);
    let id = base;
    // Port 0 twice on one host: the later listener gets a numbered id.
    for (let n = 2; ids.has(id); n++) id = `${base}-${n}`;
    ids.add(id);
    return { id, ...listener, acceptProxyProtocol: false };
  });
}

/**
 * The admin token from `--admin-token-file` (its trailing line feed trimmed) or `--admin-token`
 * (also `POOLGATE_ADMIN_TOKEN`).
 *
 * @throws {UsageError} when both are given, the file cannot be read or the token is unusable.
 */
function adminToken(values: ServeValues): string | undefined {
  const file = values["admin-token-file"];
  if (file !== undefined && values["admin-token"] !== undefined) {
    throw new UsageError(
      "Give the admin token once: --admin-token-file or --admin-token (POOLGATE_ADMIN_TOKEN), not both",
    );
  }
  let token = values["admin-token"];
  if (file !== undefined) {
    try {
      token = Deno.readTextFileSync(file).replace(/\r?\n$/, "");
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new UsageError(`Cannot read --admin-token-file ${file}: ${reason}`);
    }
  }
  if (token === undefined) return undefined;
  try {
    checkAdminToken(token);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return token;
}

/**
 * Opens the config store of `--data-dir` (or the default data directory), unless `--no-store`.
 *
 * @throws {CommandError} naming the file and the problem when it cannot be opened (the file is
 *   left as it was); {@linkcode UsageError} when there is no data directory to default to.
 */
function openStore(values: ServeValues, logger: Logger): ConfigStore | undefined {
  if (values["no-store"]) {
    logger.warn(
      "No config store (--no-store): admin API changes last until the process ends",
    );
    return undefined;
  }
  try {
    return openConfigStore({ dataDir: values["data-dir"] ?? defaultDataDir() });
  } catch (error) {
    if (!(error instanceof ConfigStoreError)) throw error;
    if (error.problem === "no-data-dir") throw new UsageError(error.message);
    throw new CommandError(error.message);
  }
}

/**
 * The configuration to start with: what the store holds, then the flag objects it does not
 * replace.
 *
 * @throws {CommandError} when a stored and a flag listener claim one address with different
 *   routing, or a stored row cannot be read.
 */
function startConfig(store: ConfigStore | undefined, fromFlags: ConfigSnapshot, logger: Logger) {
  if (store === undefined) return fromFlags;
  try {
    const merged = mergeWithFlags(store.snapshot(), fromFlags);
    logger.info("Config store {path} (schema version {version})", {
      path: store.path,
      version: store.schemaVersion,
    });
    if (merged.overridden.length > 0) {
      logger.info("Stored configuration replaces flag {objects}", {
        objects: merged.overridden,
      });
    }
    return merged;
  } catch (error) {
    if (error instanceof ConfigStoreError) throw new CommandError(error.message);
    throw error;
  }
}

function announce(poolgate: Poolgate): void {
  const logger = getLogger(["poolgate", "serve"]);
  const asap = poolgate.registrar.addr;
  logger.info("Registrar {serverId} serving ASAP on {asap}", {
    serverId: `0x${poolgate.registrar.serverId.toString(16).padStart(8, "0")}`,
    asap: formatHostPort(asap),
  });
  const listeners = poolgate.proxy.listeners();
  if (listeners.length === 0) {
    logger.info(
      "No front listener configured: add one with --listen PORT=HANDLE (and servers with --member HANDLE=IP:PORT, or register them over ASAP)",
    );
  }
  for (const { kind, hostname, port, pool, handleSuffix } of listeners) {
    const listen = formatHostPort({ hostname, port });
    if (pool !== undefined) {
      logger.info("Proxy listening on {listen} for pool {pool}", { listen, pool, kind });
    } else {
      logger.info("Proxy listening on {listen} ({kind}) for pools named <handle>{handleSuffix}", {
        listen,
        kind,
        handleSuffix,
      });
    }
  }
}

/** The `serve` command. */
export const serveCommand = defineCommand({
  name: "serve",
  summary: "Run the proxy with its embedded registrar and the admin API",
  usage: "serve [flags]",
  flags: SERVE_FLAGS,
  positionals: { min: 0, max: 0 },
  async run({ values }) {
    const pools = poolSpecs(values);
    const { records: poolSettings, tuning } = poolRecords(pools);
    const fromFlags: ConfigSnapshot = {
      members: memberRecords(values, pools),
      poolSettings,
      listeners: listenerRecords(values),
    };
    const admin = values["no-admin"] ? "off" : values.admin;
    const token = admin === "off" ? undefined : adminToken(values);
    if (admin !== "off" && token === undefined && !isLoopbackHostname(admin.hostname)) {
      throw new UsageError(
        `Cannot serve the admin API on ${formatHostPort(admin)} without a token: give ` +
          `--admin-token-file (or --admin-token, POOLGATE_ADMIN_TOKEN), or a loopback --admin`,
      );
    }
    await setUpLogging({ level: values["log-level"], format: values["log-format"] });
    const logger = getLogger(["poolgate", "serve"]);
    const store = openStore(values, logger);
    try {
      const config = startConfig(store, fromFlags, logger);
      const poolgate = start(values, { config, tuning, store, admin, token });
      const running = runUntilSignal(poolgate, { logger, graceMs: values["shutdown-grace"] });
      // Logged once the signal handlers exist, so a supervisor may signal as soon as it sees it.
      announce(poolgate);
      return await running;
    } finally {
      store?.close();
    }
  },
});

/** What {@linkcode start} starts besides the flags. */
interface StartParts {
  readonly config: ConfigSnapshot;
  readonly tuning: Record<string, PoolTuning>;
  readonly store: ConfigStore | undefined;
  readonly admin: AdminAddress;
  readonly token: string | undefined;
}

/**
 * Starts Poolgate; when the admin API's default address is taken, it starts without the API
 * (the operator did not ask for that address) and says so.
 *
 * @throws {UsageError} for a refused member or a bad value; {@linkcode CommandError} when an
 *   address cannot be bound.
 */
function start(values: ServeValues, parts: StartParts): Poolgate {
  const { config, tuning, store, admin, token } = parts;
  try {
    return startPoolgate({
      registrar: registrarOptions(values),
      config,
      poolTuning: tuning,
      ...(store === undefined ? {} : { store }),
      ...(admin === "off" ? {} : {
        admin: {
          hostname: admin.hostname,
          port: admin.port,
          ...(token === undefined ? {} : { token }),
          optional: !admin.given,
        },
      }),
      maxSessions: values["max-sessions"],
      bufferSize: values["buffer-size"],
      drainMs: values["drain-timeout"],
      frontTimeoutMs: values["front-timeout"],
      maxFrontBytes: values["max-front-bytes"],
    });
  } catch (error) {
    if (error instanceof RangeError || error instanceof AdminServerError) {
      throw new UsageError(error.message);
    }
    throw bindFailure(error);
  }
}
