/**
 * A child process for lifecycle tests: runs a component whose shutdown never finishes under
 * `runUntilSignal`, so the grace timeout and the second signal can be observed from outside.
 */
import { getLogger } from "@logtape/logtape";
import { runUntilSignal } from "../../cli/lifecycle.ts";
import { setUpLogging } from "../../cli/logging.ts";

await setUpLogging({ level: "info", format: "json" });
const graceMs = Number(Deno.args[0] ?? "60000");
const logger = getLogger(["poolgate", "test"]);
const running = runUntilSignal({
  finished: new Promise(() => {}),
  shutdown: () => new Promise(() => {}),
}, { logger, graceMs });
// runUntilSignal installs its signal handlers before its first await.
logger.info("ready");
Deno.exit(await running);
