/**
 * `main.ts hsdump HOST:PORT`: downloads a registrar's handle table over ENRP as a peer would
 * (Handle Table Request, paged by the M bit; RFC 5353 §3.2.3) and prints its pools and PEs, as
 * text or, with `--json`, as JSON.
 *
 * @module
 */
import {
  DEFAULT_FETCH_HANDLE_TABLE_TIMEOUT_MS,
  EnrpRequestError,
  fetchHandleTable,
  type HandleTable,
} from "../lib/registrar/mod.ts";
import {
  EnrpMessageType,
  messageToJson,
  policyName,
  type PoolElementParameter,
  transportName,
  type TransportParameter,
  WireError,
} from "../lib/wire/mod.ts";
import { CommandError, defineCommand } from "./command.ts";
import { option, toggle, UsageError } from "./flags.ts";
import { formatDuration, formatHostPort, parseDuration, parseHostPort } from "./values.ts";

/** `hsdump`'s flags. */
export const HSDUMP_FLAGS = {
  json: toggle("Print JSON: the pools and PEs as `decode` shows messages"),
  own: toggle("Only the PEs the registrar owns (the W bit)"),
  timeout: option(parseDuration, {
    description: "Longest wait for the connection and the whole download",
    valueName: "DURATION",
    default: formatDuration(DEFAULT_FETCH_HANDLE_TABLE_TIMEOUT_MS),
  }),
};

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function hex(id: number): string {
  return `0x${id.toString(16).padStart(8, "0")}`;
}

function transportText(transport: TransportParameter): string {
  if (!("addresses" in transport)) return transportName(transport.type);
  const host = transport.addresses.map((a) => a.includes(":") ? `[${a}]` : a).join(",");
  const use = "transportUse" in transport && transport.transportUse === 1 ? " data+control" : "";
  return `${transportName(transport.type)} ${host}:${transport.port}${use}`;
}

function elementText(element: PoolElementParameter): string {
  const life = element.registrationLife < 0 ? "infinite" : formatDuration(element.registrationLife);
  const asap = element.asapTransport === undefined
    ? ""
    : `  asap ${transportText(element.asapTransport)}`;
  return `  ${hex(element.identifier)}  home ${hex(element.homeRegistrarId)}  ${
    transportText(element.userTransport)
  }  ${policyName(element.policy.type)}  life ${life}${asap}`;
}

/** The handle table as text: a summary line, then each pool and its PEs. */
export function formatHandleTable(table: HandleTable, where: string): string {
  const count = table.pools.reduce((sum, pool) => sum + pool.poolElements.length, 0);
  const lines = [
    `Registrar ${hex(table.serverId)} at ${where}: ${table.pools.length} pools, ${count} PEs`,
  ];
  const decoder = new TextDecoder();
  for (const pool of table.pools) {
    lines.push(`pool ${JSON.stringify(decoder.decode(pool.poolHandle))}`);
    for (const element of pool.poolElements) lines.push(elementText(element));
  }
  return lines.join("\n");
}

/** The handle table as JSON: the registrar's ID, the page count and the pools. */
export function handleTableJson(table: HandleTable): Record<string, unknown> {
  const json = messageToJson({
    type: EnrpMessageType.handleTableResponse,
    senderServerId: table.serverId,
    receiverServerId: 0,
    reject: false,
    more: false,
    entries: table.pools,
  });
  return {
    serverId: json.senderServerId ?? hex(table.serverId),
    pages: table.pages,
    pools: json.entries ?? [],
  };
}

/** The `hsdump` command. */
export const hsdumpCommand = defineCommand({
  name: "hsdump",
  summary: "Download a registrar's handle table over ENRP, as a peer would, and print it",
  usage: "hsdump HOST:PORT [--json] [--own] [--timeout DURATION]",
  flags: HSDUMP_FLAGS,
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }) {
    let address;
    try {
      address = parseHostPort(positionals[0] ?? "");
    } catch (error) {
      throw new UsageError(`Invalid registrar address: ${reasonOf(error)}`);
    }
    const where = formatHostPort(address);
    let table: HandleTable;
    try {
      table = await fetchHandleTable(address, {
        ownChildrenOnly: values.own,
        timeoutMs: Math.max(1, values.timeout),
      });
    } catch (error) {
      // Refused, timed out, rejected (R bit) or malformed: one line, exit 1.
      if (
        error instanceof EnrpRequestError || error instanceof WireError ||
        Object.values(Deno.errors).some((type) => error instanceof type)
      ) {
        throw new CommandError(`Cannot dump the handle table of ${where}: ${reasonOf(error)}`);
      }
      throw error;
    }
    console.log(
      values.json
        ? JSON.stringify(handleTableJson(table), null, 2)
        : formatHandleTable(table, where),
    );
    return 0;
  },
});
