/**
 * `main.ts resolve HANDLE`: asks a registrar for a pool's elements, as a pool user would (ASAP
 * Handle Resolution, RFC 5352 §3.3), and prints the answer as JSON.
 *
 * @module
 */
import { connectMessage, type MessageConnection, TransportError } from "../lib/transport/mod.ts";
import {
  type AsapMessage,
  AsapMessageType,
  decodeAsapMessage,
  encodeAsapMessage,
  ErrorCauseCode,
  errorCauseName,
  messageToJson,
  WireError,
} from "../lib/wire/mod.ts";
import { CommandError, defineCommand } from "./command.ts";
import { option, optionalOption } from "./flags.ts";
import { formatDuration, formatHostPort, parseDuration, parseHostPort } from "./values.ts";

/** How long `resolve` waits for the connection and the answer together, unless told. */
export const DEFAULT_RESOLVE_TIMEOUT_MS = 2000;
/** HROPT Items asking for every PE that fits in one message. */
const ALL_ITEMS = 0xffffffff;

/** Parses `--items`: a count from 1 to 4294967295, or `all`. */
export function parseItems(text: string): number {
  if (text === "all") return ALL_ITEMS;
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1 || Number(text) > ALL_ITEMS) {
    throw new RangeError("expected a count from 1 to 4294967295, or all");
  }
  return Number(text);
}

/** `resolve`'s flags. */
export const RESOLVE_FLAGS = {
  registrar: option((text) => parseHostPort(text), {
    description: "The registrar to ask",
    valueName: "HOST:PORT",
    default: "127.0.0.1:3863",
  }),
  items: optionalOption(parseItems, {
    description: "PEs wanted, sent as Handle Resolution Option (default: the registrar's choice)",
    valueName: "N|all",
  }),
  timeout: option(parseDuration, {
    description: "Longest wait for the connection and the answer",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_RESOLVE_TIMEOUT_MS),
  }),
};

/** The registrar's answer: the first Handle Resolution Response or Error; undefined at the end. */
async function nextResponse(connection: MessageConnection): Promise<AsapMessage | undefined> {
  for (let bytes = await connection.readMessage(); bytes !== null;) {
    const message = decodeAsapMessage(bytes);
    if (message.type === AsapMessageType.handleResolutionResponse) return message;
    if (message.type === AsapMessageType.error) return message;
    bytes = await connection.readMessage();
  }
  return undefined;
}

/** The `resolve` command. */
export const resolveCommand = defineCommand({
  name: "resolve",
  summary: "Ask a registrar for a pool's elements (ASAP Handle Resolution) and print them as JSON",
  usage: "resolve HANDLE [--registrar HOST:PORT] [--items N|all] [--timeout DURATION]",
  flags: RESOLVE_FLAGS,
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }) {
    const text = positionals[0] ?? "";
    const poolHandle = new TextEncoder().encode(text);
    const where = formatHostPort(values.registrar);
    const timeoutMs = Math.max(1, values.timeout);
    const deadline = AbortSignal.timeout(timeoutMs);
    let connection: MessageConnection;
    try {
      connection = await connectMessage({ ...values.registrar, timeoutMs, signal: deadline });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CommandError(`Cannot reach registrar at ${where}: ${reason}`);
    }
    try {
      await connection.send(encodeAsapMessage(
        values.items === undefined
          ? { type: AsapMessageType.handleResolution, poolHandle }
          : { type: AsapMessageType.handleResolution, poolHandle, items: values.items },
      ));
      const answer = await nextResponse(connection);
      if (answer === undefined) {
        throw new CommandError(
          deadline.aborted
            ? `No answer from registrar at ${where} within ${formatDuration(timeoutMs)}`
            : `Registrar at ${where} closed the connection without answering`,
        );
      }
      const causes = answer.type === AsapMessageType.error ||
          answer.type === AsapMessageType.handleResolutionResponse
        ? answer.errorCauses ?? []
        : [];
      if (causes.some((cause) => cause.code === ErrorCauseCode.unknownPoolHandle)) {
        throw new CommandError(`Unknown pool handle ${JSON.stringify(text)} at registrar ${where}`);
      }
      if (causes.length > 0) {
        const names = causes.map((cause) => errorCauseName(cause.code)).join(", ");
        throw new CommandError(`Registrar at ${where} refused the resolution: ${names}`);
      }
      console.log(JSON.stringify(messageToJson(answer), null, 2));
      return 0;
    } catch (error) {
      if (error instanceof WireError || error instanceof TransportError) {
        throw new CommandError(`Cannot resolve at registrar ${where}: ${error.message}`);
      }
      throw error;
    } finally {
      connection.close();
      await connection.finished;
    }
  },
});
