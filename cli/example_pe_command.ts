/**
 * `main.ts example-pe echo|sum`: a pool element built with the PE library that serves the
 * DATA PLUS CONTROL data channel (`docs/data_channel.md`): the echo service or the running-sum
 * service of `lib/asap/examples/`, registered over ASAP with transport use DATA PLUS CONTROL.
 * It logs the port it serves on (also with `--port 0`). SIGTERM deregisters it, then closes its
 * channels without an end frame, so that the proxy moves their sessions to other pool
 * elements from their last cookies.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  createPoolUser,
  DEFAULT_REGISTRATION_LIFE_MS,
  type PoolElementRegistration,
  type PoolUser,
  registerPoolElement,
} from "../lib/asap/mod.ts";
import {
  type PeSession,
  type PeSessionServer,
  type PeSessionServerOptions,
  servePeSessions,
} from "../lib/asap/pe_session.ts";
import { DEFAULT_ECHO_COOKIE_EVERY_BYTES, echoService } from "../lib/asap/examples/echo_service.ts";
import { sumService } from "../lib/asap/examples/sum_service.ts";
import { REGISTRATION_LIFE_INFINITE, type SelectionPolicy, TransportUse } from "../lib/wire/mod.ts";
import { defineCommand } from "./command.ts";
import { type FlagValues, option, optionalOption, repeatable, UsageError } from "./flags.ts";
import { LIFECYCLE_FLAGS, runUntilSignal, type Stoppable } from "./lifecycle.ts";
import { LOGGING_FLAGS, setUpLogging } from "./logging.ts";
import { parseServerId } from "./registrar_command.ts";
import {
  DEFAULT_PE_POLICY,
  DEFAULT_PE_REGISTRAR,
  parsePolicy,
  parsePoolHandle,
  parseRegistrationLife,
  parseServerAddress,
} from "./pe_command.ts";
import { formatDuration, formatHostPort, integerIn, oneOf } from "./values.ts";

/** The services `example-pe` runs. */
export const EXAMPLE_SERVICES = ["echo", "sum"] as const;
/** One of {@linkcode EXAMPLE_SERVICES}. */
export type ExampleService = typeof EXAMPLE_SERVICES[number];
/** Example pool elements serve on loopback unless told otherwise. */
export const DEFAULT_EXAMPLE_PE_HOSTNAME = "127.0.0.1";
/** The LogTape category of `example-pe`'s lines. */
export const EXAMPLE_PE_LOG_CATEGORY: readonly string[] = ["poolgate", "example-pe"];

/** Parses a PE identifier as a Server Identifier is written: decimal or 0x hex, 1 to 0xffffffff. */
function parsePeId(text: string): number {
  try {
    return parseServerId(text);
  } catch {
    throw new RangeError("expected a PE identifier from 1 to 0xffffffff (decimal or 0x hex)");
  }
}

/** `example-pe`'s flags. */
export const EXAMPLE_PE_FLAGS = {
  pool: optionalOption(parsePoolHandle, {
    description: "Pool handle to join (required)",
    valueName: "HANDLE",
  }),
  registrar: repeatable(parseServerAddress, {
    description: "Registrar to register with; repeat for a list to hunt among, in order",
    valueName: "HOST:PORT",
    default: [formatHostPort(DEFAULT_PE_REGISTRAR)],
  }),
  hostname: option((text) => text, {
    description: "Address to serve the data channel on",
    valueName: "HOST",
    default: DEFAULT_EXAMPLE_PE_HOSTNAME,
  }),
  port: option(integerIn(0, 65535), {
    description: "TCP port of the data channel (0 picks a free one, logged at start-up)",
    valueName: "PORT",
    default: "0",
  }),
  "cookie-every": option(integerIn(1, 1 << 30), {
    description: "Client bytes between two state cookies",
    valueName: "BYTES",
    default: String(DEFAULT_ECHO_COOKIE_EVERY_BYTES),
  }),
  "pe-id": optionalOption(parsePeId, {
    description: "PE identifier (default: a random non-zero one)",
    valueName: "ID",
  }),
  prefer: repeatable(parsePeId, {
    description:
      "A PE of the pool the proxy should fail over to first: sent in a Business Card at each session start",
    valueName: "ID",
  }),
  policy: option(parsePolicy, {
    description: "Member selection policy, as for the pe command",
    valueName: "NAME[:key=value,…]",
    default: DEFAULT_PE_POLICY,
  }),
  "registration-life": option(parseRegistrationLife, {
    description: "Registration Life sent to the registrar (renewed before it ends), or infinite",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_REGISTRATION_LIFE_MS),
  }),
  ...LOGGING_FLAGS,
  ...LIFECYCLE_FLAGS,
};

type ExamplePeValues = FlagValues<typeof EXAMPLE_PE_FLAGS>;

/** The service's hooks, with a Business Card sent first when `prefer` names pool elements. */
function serviceHooks(
  service: ExampleService,
  values: ExamplePeValues,
  cards: BusinessCards | undefined,
): Pick<PeSessionServerOptions<unknown>, "restore" | "serve"> {
  const options = { cookieEveryBytes: values["cookie-every"] };
  const hooks: Pick<PeSessionServerOptions<unknown>, "restore" | "serve"> = service === "echo"
    ? echoService(options)
    : sumService(options);
  if (cards === undefined) return hooks;
  return {
    restore: hooks.restore,
    async serve(session, state) {
      await cards.send(session);
      await hooks.serve(session, state);
    },
  };
}

/** Business Cards naming `--prefer` PEs, with their parameters as the registrar lists them. */
class BusinessCards implements AsyncDisposable {
  readonly #pool: string;
  readonly #prefer: readonly number[];
  readonly #user: PoolUser;
  readonly #logger: Logger;

  constructor(pool: string, prefer: readonly number[], user: PoolUser, logger: Logger) {
    this.#pool = pool;
    this.#prefer = prefer;
    this.#user = user;
    this.#logger = logger;
  }

  /** Sends the card to `session` when the registrar lists any preferred PE. */
  async send(session: PeSession): Promise<void> {
    let listed;
    try {
      listed = (await this.#user.resolve(this.#pool)).poolElements;
    } catch (error) {
      this.#logger.warn("Cannot resolve pool {pool} for a Business Card: {error}", {
        pool: this.#pool,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const targets = this.#prefer.flatMap((id) => listed.filter((pe) => pe.identifier === id));
    if (targets.length > 0) await session.sendBusinessCard(this.#pool, targets);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#user.close();
  }
}

/** The running example: the session server and its registration. */
class ExamplePe implements Stoppable {
  readonly #server: PeSessionServer;
  readonly #registration: PoolElementRegistration;
  readonly #cards: BusinessCards | undefined;
  readonly #logger: Logger;
  #stopping: Promise<void> | undefined;

  constructor(service: ExampleService, values: ExamplePeValues, logger: Logger) {
    const pool = values.pool ?? "";
    const registrars = values.registrar;
    this.#logger = logger;
    this.#cards = values.prefer.length === 0 ? undefined : new BusinessCards(
      pool,
      values.prefer,
      createPoolUser({ registrars, staleCacheMs: 1_000 }),
      logger,
    );
    this.#server = servePeSessions({
      hostname: values.hostname,
      port: values.port,
      ...serviceHooks(service, values, this.#cards),
      logger: logger.getChild("session"),
    });
    const policy: SelectionPolicy = values.policy;
    this.#registration = registerPoolElement({
      registrars,
      poolHandle: pool,
      transport: { port: this.#server.addr.port, transportUse: TransportUse.dataPlusControl },
      policy,
      registrationLifeMs: values["registration-life"],
      ...(values["pe-id"] === undefined ? {} : { poolElementId: values["pe-id"] }),
    });
    const peId = `0x${this.#registration.poolElementId.toString(16).padStart(8, "0")}`;
    logger.info("Serving {service} sessions on {address} as PE {peId} of pool {pool}", {
      service,
      address: formatHostPort(this.#server.addr),
      peId,
      pool,
    });
    this.#registration.addEventListener("registered", (event) => {
      logger.info("PE {peId} registered in pool {pool} with home registrar {registrar}", {
        peId,
        pool,
        registrar: event.detail.registrar,
      });
    });
    this.#registration.addEventListener("refused", (event) => {
      logger.error("Registrar {registrar} refused PE {peId}: {error}", {
        peId,
        registrar: event.detail.registrar,
        error: event.detail.error.message,
      });
    });
  }

  get finished(): Promise<void> {
    return this.#server.finished;
  }

  shutdown(): Promise<void> {
    this.#stopping ??= (async () => {
      // Out of the pool first, so that the proxy picks another pool element for the sessions
      // the server closes next.
      await this.#registration.close();
      await this.#server.shutdown();
      await this.#cards?.[Symbol.asyncDispose]();
    })();
    return this.#stopping;
  }
}

/** The `example-pe` command. */
export const examplePeCommand = defineCommand({
  name: "example-pe",
  summary: "Run an example DATA PLUS CONTROL pool element (echo or running sum) with state cookies",
  usage: "example-pe echo|sum --pool HANDLE [--registrar HOST:PORT]... [--port PORT] [flags]",
  flags: EXAMPLE_PE_FLAGS,
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }) {
    let service: ExampleService;
    try {
      service = oneOf(EXAMPLE_SERVICES)(positionals[0] ?? "");
    } catch {
      throw new UsageError(
        `Unknown service ${JSON.stringify(positionals[0])}; use ${EXAMPLE_SERVICES.join(" or ")}`,
      );
    }
    if (values.pool === undefined) throw new UsageError("Missing --pool HANDLE; see --help");
    const life = values["registration-life"];
    if (life !== REGISTRATION_LIFE_INFINITE && life < 2) {
      throw new UsageError("--registration-life must be at least 2ms, so that it can be renewed");
    }
    await setUpLogging({ level: values["log-level"], format: values["log-format"] });
    const logger = getLogger([...EXAMPLE_PE_LOG_CATEGORY]);
    const pe = new ExamplePe(service, values, logger);
    return await runUntilSignal(pe, { logger, graceMs: values["shutdown-grace"] });
  },
});
