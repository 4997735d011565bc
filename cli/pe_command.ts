/**
 * `main.ts pe`: the sidecar that makes a legacy TCP server a pool element (`docs/pe_sidecar.md`).
 * It registers the backend's own IP address and port as a DATA ONLY user transport (RFC 5352
 * §3.1), health-checks the backend, deregisters it (§3.2) while the check fails and registers it
 * again, with the same PE identifier, once the check passes.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  DEFAULT_REGISTRATION_LIFE_MS,
  DEFAULT_RETRAN_MAX_MS,
  DEFAULT_SERVER_HUNT_MS,
  type PoolElementRegistration,
  registerPoolElement,
  type RegistrarAddress,
} from "../lib/asap/mod.ts";
import { type HealthChangeEvent, type HealthCheck, startHealthCheck } from "../lib/health/mod.ts";
import { DEFAULT_ASAP_PORT } from "../lib/registrar/mod.ts";
import type { MessageConnector } from "../lib/transport/mod.ts";
import {
  DEFAULT_MAX_POOL_HANDLE_LENGTH,
  parseIpAddress,
  REGISTRATION_LIFE_INFINITE,
  type SelectionPolicy,
  TransportUse,
} from "../lib/wire/mod.ts";
import { parsePolicyText, policyFromSettings } from "../lib/wire/policy_text.ts";
import { defineCommand } from "./command.ts";
import {
  durationOption,
  type FlagValues,
  option,
  optionalOption,
  repeatable,
  UsageError,
} from "./flags.ts";
import { HEALTH_CHECK_FLAGS, healthCheckSettings } from "./health_check_flags.ts";
import { LIFECYCLE_FLAGS, runUntilSignal, type Stoppable } from "./lifecycle.ts";
import { LOGGING_FLAGS, setUpLogging } from "./logging.ts";
import {
  formatDuration,
  formatHostPort,
  type HostPort,
  parseDuration,
  parseHostPort,
} from "./values.ts";

/** The registrar the sidecar registers with unless told otherwise: IANA's ASAP port on loopback. */
export const DEFAULT_PE_REGISTRAR: HostPort = { hostname: "127.0.0.1", port: DEFAULT_ASAP_PORT };
/** The policy registered unless told otherwise (RFC 5356 Round Robin, which every PU supports). */
export const DEFAULT_PE_POLICY = "rr";
/**
 * Milliseconds the sidecar waits for a registrar's answer to a registration (T2) or a
 * deregistration (T3): shorter than RFC 5352's 30 s, so that a withdrawal or a SIGTERM is not
 * held up by a hung registrar for longer than the default shutdown grace.
 */
export const DEFAULT_PE_REGISTRAR_TIMEOUT_MS = 5000;
/** The LogTape category the sidecar's own lines go to. */
export const PE_LOG_CATEGORY: readonly string[] = ["poolgate", "pe"];

/** The name `--backend` may carry instead of an IP address, and the address it stands for. */
const LOCALHOST = { name: "localhost", address: "127.0.0.1" } as const;

const encoder = new TextEncoder();

/** Parses a pool handle: 1 to {@linkcode DEFAULT_MAX_POOL_HANDLE_LENGTH} bytes of UTF-8. */
export function parsePoolHandle(text: string): string {
  const length = encoder.encode(text).length;
  if (length < 1 || length > DEFAULT_MAX_POOL_HANDLE_LENGTH) {
    throw new RangeError(`expected a pool handle of 1 to ${DEFAULT_MAX_POOL_HANDLE_LENGTH} bytes`);
  }
  return text;
}

/**
 * Parses the address of a server to connect to (`--backend`, `--registrar`): `HOST:PORT` with a
 * port from 1. Whether a backend's HOST may be a name is decided with `--advertise`.
 */
export function parseServerAddress(text: string): HostPort {
  const address = parseHostPort(text);
  if (address.port === 0) throw new RangeError("expected a port number from 1 to 65535");
  return address;
}

/** Parses an IPv4 or IPv6 address (no brackets). */
export function parseIp(text: string): string {
  if (parseIpAddress(text) === undefined) throw new RangeError("expected an IPv4 or IPv6 address");
  return text;
}

/** Parses `--policy NAME[:key=value,…]` into the wire policy (loads in percent). */
export function parsePolicy(text: string): SelectionPolicy {
  return policyFromSettings(parsePolicyText(text));
}

/** Parses a registration life: a duration up to 2^31 − 1 ms, or `infinite`. */
export function parseRegistrationLife(text: string): number {
  if (text === "infinite") return REGISTRATION_LIFE_INFINITE;
  const ms = parseDuration(text);
  if (ms < 1 || ms > 0x7fffffff) {
    throw new RangeError("expected a duration from 1ms to 2147483647ms, or infinite");
  }
  return ms;
}

/** `pe`'s flags. */
export const PE_FLAGS = {
  pool: optionalOption(parsePoolHandle, {
    description: "Pool handle the backend joins (required)",
    valueName: "HANDLE",
  }),
  backend: optionalOption(parseServerAddress, {
    description:
      "The legacy server: an IP address (or localhost, taken as 127.0.0.1) and port; registered as a DATA ONLY transport (required)",
    valueName: "IP:PORT",
  }),
  registrar: repeatable(parseServerAddress, {
    description: "Registrar to register with; repeat for a list to hunt among, in order",
    valueName: "HOST:PORT",
    default: [formatHostPort(DEFAULT_PE_REGISTRAR)],
  }),
  policy: option(parsePolicy, {
    description:
      "Member selection policy: rr wrr rand wrand prio lu lud plu rlu (or RSPLIB's long names), with weight=N, priority=N, load=PCT, degradation=PCT",
    valueName: "NAME[:key=value,…]",
    default: DEFAULT_PE_POLICY,
  }),
  ...HEALTH_CHECK_FLAGS,
  "registration-life": option(parseRegistrationLife, {
    description: "Registration Life sent to the registrar (renewed before it ends), or infinite",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_REGISTRATION_LIFE_MS),
  }),
  advertise: optionalOption(parseIp, {
    description:
      "IP address to register instead of the backend's (NAT, or a backend checked on another address)",
    valueName: "IP",
  }),
  "registrar-timeout": durationOption(
    "Longest wait for a registrar's answer to a registration (T2) or deregistration (T3)",
    DEFAULT_PE_REGISTRAR_TIMEOUT_MS,
  ),
  "server-hunt": durationOption(
    "T5-Serverhunt: first wait between rounds of connection attempts while no registrar answers",
    DEFAULT_SERVER_HUNT_MS,
  ),
  "retran-max": durationOption(
    "RETRAN-MAX: the most the doubling wait between hunt rounds grows to",
    DEFAULT_RETRAN_MAX_MS,
  ),
  ...LOGGING_FLAGS,
  ...LIFECYCLE_FLAGS,
};

/** Where the sidecar checks the backend and which address it registers. */
export interface BackendTarget {
  /** Host the health check connects to. */
  readonly checkHost: string;
  /** The IP address registered in the user transport. */
  readonly address: string;
  /** Set when `localhost` was taken as 127.0.0.1, for the start-up line. */
  readonly note?: string;
}

function isUnspecified(address: string): boolean {
  return parseIpAddress(address)?.every((byte) => byte === 0) ?? false;
}

/**
 * Decides what the sidecar checks and registers: a pool element registers an address, never a
 * name (RFC 5354 §3.5), so `--backend` must be an IP address, or `localhost`, which is taken as
 * 127.0.0.1 without asking a resolver; any other name, and the unspecified address, need
 * `--advertise`.
 *
 * @throws {UsageError} when no address to register follows from the flags.
 */
export function backendTarget(backend: HostPort, advertise: string | undefined): BackendTarget {
  const { hostname } = backend;
  if (hostname.toLowerCase() === LOCALHOST.name) {
    return {
      checkHost: LOCALHOST.address,
      address: advertise ?? LOCALHOST.address,
      note: `backend host ${hostname} taken as ${LOCALHOST.address}`,
    };
  }
  if (advertise !== undefined) return { checkHost: hostname, address: advertise };
  if (parseIpAddress(hostname) === undefined) {
    throw new UsageError(
      `--backend ${
        formatHostPort(backend)
      }: a pool element registers an IP address, not a name: give an IP address or localhost, or --advertise IP`,
    );
  }
  if (isUnspecified(hostname)) {
    throw new UsageError(
      `--backend ${
        formatHostPort(backend)
      }: the unspecified address cannot be registered: give the backend's own IP address, or --advertise IP`,
    );
  }
  return { checkHost: hostname, address: hostname };
}

/** How the sidecar checks the backend. */
interface CheckSettings {
  readonly send?: Uint8Array;
  readonly expect?: Uint8Array;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
}

/** Everything a {@linkcode PeSidecar} needs, from the flags. */
interface SidecarSettings {
  readonly poolHandle: string;
  readonly backend: HostPort;
  readonly target: BackendTarget;
  readonly registrars: readonly RegistrarAddress[];
  readonly policy: SelectionPolicy;
  readonly registrationLifeMs: number;
  readonly registrarTimeoutMs: number;
  readonly serverHuntMs: number;
  readonly retranMaxMs: number;
  readonly check: CheckSettings;
}

function sidecarSettings(values: FlagValues<typeof PE_FLAGS>): SidecarSettings {
  if (values.pool === undefined) throw new UsageError("Missing --pool HANDLE; see --help");
  if (values.backend === undefined) throw new UsageError("Missing --backend IP:PORT; see --help");
  if (values["retran-max"] < values["server-hunt"]) {
    throw new UsageError("--retran-max must not be below --server-hunt");
  }
  const life = values["registration-life"];
  if (life !== REGISTRATION_LIFE_INFINITE && life < 2) {
    throw new UsageError("--registration-life must be at least 2ms, so that it can be renewed");
  }
  return {
    poolHandle: values.pool,
    backend: values.backend,
    target: backendTarget(values.backend, values.advertise),
    registrars: values.registrar,
    policy: values.policy,
    registrationLifeMs: life,
    registrarTimeoutMs: values["registrar-timeout"],
    serverHuntMs: values["server-hunt"],
    retranMaxMs: values["retran-max"],
    check: healthCheckSettings(values),
  };
}

function drawPoolElementId(): number {
  const value = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  // RFC 5352 §3.1: 0 would mean "no identifier".
  return value === 0 ? 1 : value;
}

function formatPeId(id: number): string {
  return `0x${id.toString(16).padStart(8, "0")}`;
}

/**
 * Joins a health check to a pool element registration: registers while the backend is up,
 * deregisters while it is down, one transition at a time, with one PE identifier throughout.
 */
class PeSidecar implements Stoppable {
  readonly #settings: SidecarSettings;
  readonly #poolElementId = drawPoolElementId();
  readonly #logger: Logger;
  readonly #health: HealthCheck;
  readonly #finished = Promise.withResolvers<void>();
  #registration: PoolElementRegistration | undefined;
  /** The backend's last verdict: register while true. */
  #wanted = false;
  #reason = "";
  #everRegistered = false;
  /** The transitions, one after another: a withdrawal ends before the next registration. */
  #work: Promise<void> = Promise.resolve();
  /** Registrars reported unreachable since the PE last had a home: each is reported once. */
  readonly #unreachable = new Set<string>();
  /** Connections to registrars established so far, to tell an overtaken attempt. */
  #connected = 0;
  #stopping: Promise<void> | undefined;

  constructor(settings: SidecarSettings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger.with({
      peer: formatHostPort({ hostname: settings.target.checkHost, port: settings.backend.port }),
      pool: settings.poolHandle,
      peId: formatPeId(this.#poolElementId),
    });
    const { target, backend, check } = settings;
    this.#logger.info(
      "Checking backend {peer} every {interval}; PE {peId} joins pool {pool} as {transport} while it passes",
      {
        interval: formatDuration(check.intervalMs),
        transport: formatHostPort({ hostname: target.address, port: backend.port }),
        registrars: settings.registrars.map(formatHostPort),
        ...(target.note === undefined ? {} : { note: target.note }),
      },
    );
    this.#health = startHealthCheck({ hostname: target.checkHost, port: backend.port, ...check });
    this.#health.addEventListener("up", this.#onHealth);
    this.#health.addEventListener("down", this.#onHealth);
  }

  /** Resolves once the sidecar has stopped (only after {@linkcode PeSidecar.shutdown}). */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Stops checking and deregisters the PE; idempotent. */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  readonly #onHealth = (event: HealthChangeEvent): void => {
    this.#wanted = event.type === "up";
    this.#reason = event.reason;
    this.#logger.debug("Backend {peer} is {state}: {reason}", {
      state: event.type,
      reason: event.reason,
    });
    this.#work = this.#work.then(() => this.#apply()).catch((error: unknown) => {
      // A bug here must not stop later transitions from being applied.
      this.#logger.error("Cannot follow the backend's state {state}: {error}", {
        state: event.type,
        error: error instanceof Error ? error.message : String(error),
      });
    });
  };

  /** Brings the registration in line with the backend's last verdict. */
  async #apply(): Promise<void> {
    if (this.#stopping !== undefined) return;
    const reason = this.#reason;
    if (this.#wanted) {
      if (this.#registration === undefined) this.#register(reason);
      return;
    }
    const registration = this.#registration;
    if (registration === undefined) {
      this.#logger.warn(
        "Backend down ({reason}): PE {peId} stays out of pool {pool} until a check passes",
        { reason },
      );
      return;
    }
    this.#registration = undefined;
    await registration.close();
    this.#logger.warn("Backend down ({reason}): PE {peId} withdrawn from pool {pool}", { reason });
  }

  #register(reason: string): void {
    const settings = this.#settings;
    this.#unreachable.clear();
    const owner: { registration?: PoolElementRegistration } = {};
    const registration = registerPoolElement({
      registrars: settings.registrars,
      poolHandle: settings.poolHandle,
      transport: {
        port: settings.backend.port,
        address: settings.target.address,
        transportUse: TransportUse.dataOnly,
      },
      policy: settings.policy,
      registrationLifeMs: settings.registrationLifeMs,
      registrationTimeoutMs: settings.registrarTimeoutMs,
      deregistrationTimeoutMs: settings.registrarTimeoutMs,
      serverHuntMs: settings.serverHuntMs,
      retranMaxMs: settings.retranMaxMs,
      poolElementId: this.#poolElementId,
      connect: this.#connector(owner),
    });
    owner.registration = registration;
    const again = this.#everRegistered;
    registration.addEventListener("registered", (event) => {
      this.#everRegistered = true;
      this.#unreachable.clear();
      const { registrar } = event.detail;
      if (again) {
        this.#logger.info(
          "Backend up ({reason}): PE {peId} registered in pool {pool} again with home registrar {registrar}",
          { reason, registrar },
        );
      } else {
        this.#logger.info("PE {peId} registered in pool {pool} with home registrar {registrar}", {
          registrar,
        });
      }
    });
    registration.addEventListener("home-lost", (event) => {
      this.#logger.warn(
        "PE {peId} lost its home registrar {registrar} ({why}); hunting for a registrar",
        { registrar: event.detail.registrar, why: event.detail.reason },
      );
    });
    registration.addEventListener("rehomed", (event) => {
      this.#unreachable.clear();
      const { registrar, previousRegistrar, cause } = event.detail;
      this.#logger.info(
        "PE {peId} of pool {pool} has a new home registrar {registrar} ({cause})",
        { registrar, cause, ...(previousRegistrar === undefined ? {} : { previousRegistrar }) },
      );
    });
    registration.addEventListener("refused", (event) => {
      this.#logger.error(
        "Registrar {registrar} refused PE {peId} in pool {pool} ({error}): it stays out until the backend fails and passes again, or the sidecar restarts with other flags",
        { registrar: event.detail.registrar, error: event.detail.error.message },
      );
    });
    registration.addEventListener("error", (event) => {
      this.#logger.warn("PE {peId}: {error}", { error: event.detail.error.message });
    });
    this.#registration = registration;
  }

  /**
   * Connects to a registrar as the library does by default, and reports a registrar that cannot
   * be reached while `owner` is the current registration.
   */
  #connector(owner: { registration?: PoolElementRegistration }): MessageConnector {
    return async (options) => {
      const connectedBefore = this.#connected;
      try {
        const conn = await Deno.connect(options);
        this.#connected += 1;
        conn.setNoDelay(true);
        return conn;
      } catch (error) {
        // An attempt called off because another registrar answered in the meantime says nothing
        // about this one; a refusal, a connect timeout or the end of a T5 round without any
        // connection does. Attempts of a withdrawn registration are not reported.
        const overtaken = this.#connected !== connectedBefore;
        const current = owner.registration !== undefined &&
          owner.registration === this.#registration;
        if (!overtaken && current) {
          this.#reportUnreachable(options, options.signal.aborted ? options.signal.reason : error);
        }
        throw error;
      }
    };
  }

  #reportUnreachable(registrar: RegistrarAddress, error: unknown): void {
    const label = formatHostPort(registrar);
    if (this.#unreachable.has(label)) return;
    this.#unreachable.add(label);
    this.#logger.warn(
      "Cannot reach registrar {registrar} ({error}): PE {peId} keeps hunting, waiting {serverHunt} to {retranMax} between rounds",
      {
        registrar: label,
        error: error instanceof Error ? error.message : String(error),
        serverHunt: formatDuration(this.#settings.serverHuntMs),
        retranMax: formatDuration(this.#settings.retranMaxMs),
      },
    );
  }

  async #stop(): Promise<void> {
    await this.#health.close();
    await this.#work;
    const registration = this.#registration;
    this.#registration = undefined;
    if (registration !== undefined) {
      const wasRegistered = registration.registered;
      await registration.close();
      if (wasRegistered) this.#logger.info("PE {peId} deregistered from pool {pool}");
    }
    this.#finished.resolve();
  }
}

/** The `pe` command. */
export const peCommand = defineCommand({
  name: "pe",
  summary: "Register a legacy TCP server as a DATA ONLY pool element while its health check passes",
  usage:
    "pe --pool HANDLE --backend IP:PORT [--registrar HOST:PORT]... [--policy NAME[:key=value,…]] [flags]",
  flags: PE_FLAGS,
  positionals: { min: 0, max: 0 },
  async run({ values }) {
    const settings = sidecarSettings(values);
    await setUpLogging({ level: values["log-level"], format: values["log-format"] });
    const logger = getLogger([...PE_LOG_CATEGORY]);
    const sidecar = new PeSidecar(settings, logger);
    return await runUntilSignal(sidecar, { logger, graceMs: values["shutdown-grace"] });
  },
});
