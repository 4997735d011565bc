/** `main.ts serve`: the proxy with its embedded registrar (what `deno task start` runs). */
import { getLogger } from "@logtape/logtape";
import { defineCommand } from "./command.ts";
import { LIFECYCLE_FLAGS, runUntilSignal } from "./lifecycle.ts";
import { LOGGING_FLAGS, setUpLogging } from "./logging.ts";

/** `serve`'s flags. */
export const SERVE_FLAGS = { ...LOGGING_FLAGS, ...LIFECYCLE_FLAGS };

/** The `serve` command. */
export const serveCommand = defineCommand({
  name: "serve",
  summary: "Run the proxy with its embedded registrar",
  usage: "serve [flags]",
  flags: SERVE_FLAGS,
  positionals: { min: 0, max: 0 },
  async run({ values }) {
    await setUpLogging({ level: values["log-level"], format: values["log-format"] });
    const logger = getLogger(["poolgate", "serve"]);
    const { promise: finished, resolve } = Promise.withResolvers<void>();
    const running = runUntilSignal({ finished, shutdown: () => Promise.resolve(resolve()) }, {
      logger,
      graceMs: values["shutdown-grace"],
    });
    // Logged once the signal handlers exist, so a supervisor may signal as soon as it sees it.
    logger.info("Poolgate is running; nothing is configured yet");
    return await running;
  },
});
