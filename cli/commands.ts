/** The list of subcommands `main.ts` offers, in the order `--help` shows them. */
import type { Command } from "./command.ts";
import { decodeCommand } from "./decode_command.ts";
import { examplePeCommand } from "./example_pe_command.ts";
import { hsdumpCommand } from "./hsdump_command.ts";
import { peCommand } from "./pe_command.ts";
import { registrarCommand } from "./registrar_command.ts";
import { resolveCommand } from "./resolve_command.ts";
import { serveCommand } from "./serve.ts";

/** Every subcommand. */
export const COMMANDS: readonly Command[] = [
  serveCommand,
  registrarCommand,
  resolveCommand,
  hsdumpCommand,
  peCommand,
  examplePeCommand,
  decodeCommand,
];
