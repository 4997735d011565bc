/** `main.ts decode HEX`: prints an ASAP or ENRP message as JSON, for operators reading captures. */
import { decodeAsapMessage, decodeEnrpMessage, messageToJson, WireError } from "../lib/wire/mod.ts";
import { errorCauseName } from "../lib/wire/code_names.ts";
import { CommandError, defineCommand } from "./command.ts";
import { option, UsageError } from "./flags.ts";
import { oneOf } from "./values.ts";

/** Reads hex text, ignoring white space, colons and a leading 0x. */
export function parseHex(text: string): Uint8Array {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) {
    throw new UsageError("Cannot read the message: expected an even number of hex digits");
  }
  return Uint8Array.from(clean.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** The `decode` command. */
export const decodeCommand = defineCommand({
  name: "decode",
  summary: "Print an ASAP or ENRP message given in hex as JSON",
  usage: "decode HEX|- [--protocol asap|enrp]",
  flags: {
    protocol: option(oneOf(["asap", "enrp"] as const), {
      description: "Message family",
      valueName: "asap|enrp",
      default: "asap",
    }),
  },
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }) {
    const text = positionals[0] === "-"
      ? await new Response(Deno.stdin.readable).text()
      : positionals[0] ?? "";
    const bytes = parseHex(text);
    try {
      const message = values.protocol === "enrp"
        ? decodeEnrpMessage(bytes)
        : decodeAsapMessage(bytes);
      console.log(JSON.stringify(messageToJson(message), null, 2));
      return 0;
    } catch (error) {
      if (error instanceof WireError) {
        const cause = `cause 0x${error.causeCode.toString(16)} ${errorCauseName(error.causeCode)}`;
        throw new CommandError(`${error.message} (${cause})`);
      }
      throw error;
    }
  },
});
