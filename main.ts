/**
 * Poolgate's command line: `serve` (the proxy with its embedded registrar), the standalone
 * registrar, the `pe` sidecar, and tools for operators. It parses flags, environment and config
 * file, wires components together and handles signals; the logic lives in `lib/` and `proxy/`.
 *
 * @module
 */
import { runCli } from "./cli/command.ts";
import { COMMANDS } from "./cli/commands.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, COMMANDS));
}
