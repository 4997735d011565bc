/**
 * `main.ts registrar`: a standalone registrar serving pool elements and pool users over ASAP on
 * TCP, with every timer and bound as a flag.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  DEFAULT_MAX_HOME_REGISTRARS,
  DEFAULT_MAX_POOL_ELEMENTS,
  DEFAULT_MAX_POOL_ELEMENTS_PER_POOL,
  DEFAULT_MAX_POOL_HANDLE_LENGTH,
  DEFAULT_MAX_POOLS,
} from "../lib/handlespace/mod.ts";
import {
  DEFAULT_ASAP_PORT,
  DEFAULT_HANDLE_RESOLUTION_ITEMS,
  DEFAULT_KEEP_ALIVE_INTERVAL_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_BAD_PE_REPORTS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REGISTRAR_HOSTNAME,
  DEFAULT_REGISTRAR_LOG_CATEGORY,
  MIN_KEEP_ALIVE_MS,
  type Registrar,
  type RegistrarOptions,
  startRegistrar,
} from "../lib/registrar/mod.ts";
import {
  DEFAULT_MAX_MESSAGE_LENGTH,
  DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS,
  ListenError,
} from "../lib/transport/mod.ts";
import { CommandError, defineCommand } from "./command.ts";
import { ENRP_FLAGS, enrpOptions } from "./enrp_flags.ts";
import { type FlagValues, option, optionalOption } from "./flags.ts";
import { LIFECYCLE_FLAGS, runUntilSignal } from "./lifecycle.ts";
import { LOGGING_FLAGS, setUpLogging } from "./logging.ts";
import {
  formatDuration,
  formatHostPort,
  integerIn,
  parseDuration,
  parseHostPort,
} from "./values.ts";

/** Parses a Server Identifier: decimal or 0x-prefixed hex, 1 to 0xffffffff. */
export function parseServerId(text: string): number {
  const value = /^0x[0-9a-f]{1,8}$/i.test(text)
    ? Number.parseInt(text.slice(2), 16)
    : /^\d{1,10}$/.test(text)
    ? Number(text)
    : NaN;
  if (!(value >= 1 && value <= 0xffffffff)) {
    throw new RangeError("expected a server ID from 1 to 0xffffffff (decimal or 0x hex)");
  }
  return value;
}

function durationAtLeast(min: number): (text: string) => number {
  return (text) => {
    const ms = parseDuration(text);
    if (ms < min) throw new RangeError(`expected at least ${formatDuration(min)}`);
    return ms;
  };
}

function count(description: string, min: number, max: number, fallback: number) {
  return option(integerIn(min, max), { description, valueName: "N", default: String(fallback) });
}

/** `registrar`'s flags. */
export const REGISTRAR_FLAGS = {
  asap: option((text) => parseHostPort(text), {
    description: "Address the ASAP server listens on (port 0 picks a free one)",
    valueName: "HOST:PORT",
    default: formatHostPort({ hostname: DEFAULT_REGISTRAR_HOSTNAME, port: DEFAULT_ASAP_PORT }),
  }),
  id: optionalOption(parseServerId, {
    description: "Server Identifier (default: a random non-zero one)",
    valueName: "ID",
  }),
  "keep-alive-interval": option(durationAtLeast(MIN_KEEP_ALIVE_MS), {
    description: "Silence on a PE's connection before an Endpoint Keep-Alive is sent",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_KEEP_ALIVE_INTERVAL_MS),
  }),
  "keep-alive-timeout": option(durationAtLeast(MIN_KEEP_ALIVE_MS), {
    description: "Wait for an answer to a Keep-Alive before the connection's PEs are removed",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_KEEP_ALIVE_TIMEOUT_MS),
  }),
  "max-bad-pe-reports": count(
    "MAX-BAD-PE-REPORT: Endpoint Unreachable reports that remove a PE",
    1,
    0xffff,
    DEFAULT_MAX_BAD_PE_REPORTS,
  ),
  "handle-resolution-items": count(
    "PEs in a Handle Resolution Response when the request does not say",
    1,
    0xffffffff,
    DEFAULT_HANDLE_RESOLUTION_ITEMS,
  ),
  "max-connections": count(
    "ASAP connections served at once",
    1,
    0x7fffffff,
    DEFAULT_MAX_CONNECTIONS,
  ),
  "max-message-length": count(
    "Largest ASAP message accepted, in bytes",
    4,
    65535,
    DEFAULT_MAX_MESSAGE_LENGTH,
  ),
  "partial-message-timeout": option(parseDuration, {
    description: "Longest time a message may take to arrive once begun (slow-drip defence)",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS),
  }),
  "max-pools": count("Most pools in the handlespace", 1, 0x7fffffff, DEFAULT_MAX_POOLS),
  "max-pool-elements-per-pool": count(
    "Most PEs in one pool",
    1,
    2 ** 21,
    DEFAULT_MAX_POOL_ELEMENTS_PER_POOL,
  ),
  "max-pool-elements": count(
    "Most PEs in all pools",
    1,
    0x7fffffff,
    DEFAULT_MAX_POOL_ELEMENTS,
  ),
  "max-pool-handle-length": count(
    "Longest pool handle, in bytes",
    1,
    0xffff,
    DEFAULT_MAX_POOL_HANDLE_LENGTH,
  ),
  "max-home-registrars": count(
    "Most registrars owning PEs in the handlespace at once",
    1,
    0xffff,
    DEFAULT_MAX_HOME_REGISTRARS,
  ),
  ...ENRP_FLAGS,
  ...LOGGING_FLAGS,
  ...LIFECYCLE_FLAGS,
};

/** The registrar's options as `registrar` and `serve` take them from their flags. */
export function registrarOptions(
  values: FlagValues<typeof REGISTRAR_FLAGS>,
): RegistrarOptions {
  const enrp = enrpOptions(values);
  return {
    hostname: values.asap.hostname,
    port: values.asap.port,
    ...(values.id === undefined ? {} : { serverId: values.id }),
    keepAliveIntervalMs: values["keep-alive-interval"],
    keepAliveTimeoutMs: values["keep-alive-timeout"],
    maxBadPeReports: values["max-bad-pe-reports"],
    handleResolutionItems: values["handle-resolution-items"],
    maxConnections: values["max-connections"],
    maxMessageLength: values["max-message-length"],
    partialMessageTimeoutMs: values["partial-message-timeout"],
    maxPools: values["max-pools"],
    maxPoolElementsPerPool: values["max-pool-elements-per-pool"],
    maxPoolElements: values["max-pool-elements"],
    maxPoolHandleLength: values["max-pool-handle-length"],
    maxHomeRegistrars: values["max-home-registrars"],
    ...(enrp === undefined ? {} : { enrp }),
  };
}

/**
 * Turns a socket that cannot bind into one CLI line, naming the one address and what it is for
 * (the error's own message); other errors pass through.
 */
export function bindFailure(error: unknown): unknown {
  return error instanceof ListenError ? new CommandError(error.message) : error;
}

/** The `registrar` command. */
export const registrarCommand = defineCommand({
  name: "registrar",
  summary: "Run a standalone registrar: PEs register and PUs resolve over ASAP on TCP",
  usage: "registrar [flags]",
  flags: REGISTRAR_FLAGS,
  positionals: { min: 0, max: 0 },
  async run({ values }) {
    await setUpLogging({ level: values["log-level"], format: values["log-format"] });
    const logger = getLogger([...DEFAULT_REGISTRAR_LOG_CATEGORY]);
    let registrar: Registrar;
    try {
      registrar = startRegistrar({ ...registrarOptions(values), logger });
    } catch (error) {
      throw bindFailure(error);
    }
    return await runUntilSignal(registrar, { logger, graceMs: values["shutdown-grace"] });
  },
});
