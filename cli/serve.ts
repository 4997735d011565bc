/**
 * `main.ts serve`: the proxy with its embedded registrar (what `deno task start` runs). It
 * prints the effective addresses at start-up and, with no listener configured, how to add one.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { policyFromSettings, type PolicyShortName } from "../lib/wire/policy_text.ts";
import { type Poolgate, startPoolgate } from "../proxy/poolgate.ts";
import {
  DEFAULT_DRAIN_MS,
  DEFAULT_FRONT_TIMEOUT_MS,
  DEFAULT_MAX_FRONT_BYTES,
  DEFAULT_MAX_SESSIONS,
  type FrontListenerSpec,
} from "../proxy/proxy.ts";
import type { PoolSettings } from "../proxy/settings.ts";
import type { StaticMemberCheck, StaticMemberSpec } from "../proxy/static_members.ts";
import { defineCommand } from "./command.ts";
import { HEALTH_CHECK_FLAGS, healthCheckSettings } from "./health_check_flags.ts";
import { runUntilSignal } from "./lifecycle.ts";
import { setUpLogging } from "./logging.ts";
import { type FlagValues, option, optionalOption, repeatable, UsageError } from "./flags.ts";
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
} from "./values.ts";

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
  "drain-timeout": option(parseDuration, {
    description: "How long sessions may go on after SIGTERM before they are closed",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_DRAIN_MS),
  }),
  ...HEALTH_CHECK_FLAGS,
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

function memberSpecs(values: ServeValues, pools: Map<string, PoolSpec>): StaticMemberSpec[] {
  const check: StaticMemberCheck = healthCheckSettings(values);
  return values.member.map((member) => {
    const name: PolicyShortName = pools.get(member.pool)?.policy ?? "rr";
    return {
      pool: member.pool,
      hostname: member.hostname,
      port: member.port,
      policy: policyFromSettings({ name, ...member.values }),
      check,
    };
  });
}

/** The front listeners the flags ask for: `--listen`, then `--listen-tls`, then `--listen-http`. */
function listenerSpecs(values: ServeValues): (FrontListenerSpec & HostPort)[] {
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
  return [
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
  summary: "Run the proxy with its embedded registrar",
  usage: "serve [flags]",
  flags: SERVE_FLAGS,
  positionals: { min: 0, max: 0 },
  async run({ values }) {
    const pools = poolSpecs(values);
    const members = memberSpecs(values, pools);
    const listeners = listenerSpecs(values);
    await setUpLogging({ level: values["log-level"], format: values["log-format"] });
    const logger = getLogger(["poolgate", "serve"]);
    const poolSettings: Record<string, PoolSettings> = {};
    for (const [pool, spec] of pools) poolSettings[pool] = spec.settings;
    let poolgate: Poolgate;
    try {
      poolgate = startPoolgate({
        registrar: registrarOptions(values),
        listeners,
        pools: poolSettings,
        members,
        maxSessions: values["max-sessions"],
        drainMs: values["drain-timeout"],
        frontTimeoutMs: values["front-timeout"],
        maxFrontBytes: values["max-front-bytes"],
      });
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message);
      const addresses = [values.asap, ...listeners].map(formatHostPort).join(", ");
      throw bindFailure(error, addresses);
    }
    const running = runUntilSignal(poolgate, { logger, graceMs: values["shutdown-grace"] });
    // Logged once the signal handlers exist, so a supervisor may signal as soon as it sees it.
    announce(poolgate);
    return await running;
  },
});
