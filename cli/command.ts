/**
 * Subcommands and the dispatcher behind `main.ts`: `main.ts --help` lists the commands,
 * `main.ts CMD --help` lists a command's flags with their defaults, and every misuse prints one
 * line on stderr and exits 2.
 *
 * @module
 */
import { type FlagSet, formatHelp, type ParsedFlags, parseFlags, UsageError } from "./flags.ts";

/** An operational failure the user must see as one line (exit 1), never as a stack trace. */
export class CommandError extends Error {
  /** Builds a command error with the line to print. */
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

/** One subcommand: its flags and what it does with them; resolves with the exit code. */
export interface Command<S extends FlagSet = FlagSet> {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage after `main.ts`, e.g. `resolve HANDLE [flags]`. */
  readonly usage: string;
  readonly flags: S;
  /** Allowed number of positional arguments. */
  readonly positionals: { readonly min: number; readonly max: number };
  run(parsed: ParsedFlags<S>): Promise<number>;
}

/** Declares a command with its flag types inferred, as an entry of the command list. */
export function defineCommand<S extends FlagSet>(command: Command<S>): Command {
  // `run` takes the command's own flag values, which the dispatcher parses with the same
  // `flags`, so widening the parameter type here is sound although TypeScript cannot see it.
  return command as unknown as Command;
}

/** Where the dispatcher writes; tests substitute these. */
export interface CliIo {
  readonly env?: (name: string) => string | undefined;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
}

const encoder = new TextEncoder();

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/** Runs `argv` (without the program name) against `commands`; resolves with the exit code. */
export async function runCli(
  argv: readonly string[],
  commands: readonly Command[],
  io: CliIo = {},
): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => writeAll(Deno.stdout, text));
  const stderr = io.stderr ?? ((text: string) => writeAll(Deno.stderr, text));
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const width = Math.max(...commands.map((c) => c.name.length)) + 2;
    stdout(
      "Usage: main.ts COMMAND [flags]\n\nPoolgate: an RSerPool (RFC 5351-5356) session proxy with an embedded registrar.\n\nCommands:\n" +
        commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n") +
        "\n\nRun 'main.ts COMMAND --help' for a command's flags.\n",
    );
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    stderr(`Unknown command ${JSON.stringify(name)}; run 'main.ts --help' for the list\n`);
    return 2;
  }
  try {
    const parsed = parseFlags(command.flags, { args: rest, ...(io.env ? { env: io.env } : {}) });
    if (parsed.help) {
      stdout(formatHelp(`main.ts ${command.usage}`, command.summary, command.flags));
      return 0;
    }
    const { min, max } = command.positionals;
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw new UsageError(
        parsed.positionals.length > max
          ? `Unexpected argument ${
            JSON.stringify(parsed.positionals[max])
          }; usage: main.ts ${command.usage}`
          : `Missing argument; usage: main.ts ${command.usage}`,
      );
    }
    return await command.run(parsed);
  } catch (error) {
    if (error instanceof UsageError) {
      stderr(`${error.message}\n`);
      return 2;
    }
    if (error instanceof CommandError) {
      stderr(`${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    stderr(`poolgate ${name} failed: ${message.split("\n")[0]}\n`);
    return 1;
  }
}
