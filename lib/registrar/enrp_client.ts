/**
 * Downloads a registrar's handle table over ENRP as a peer would (RFC 5353 §3.2.3: Handle Table
 * Request, then one more for each response with the M bit), for operators (`main.ts hsdump`),
 * tests and benchmarks.
 *
 * @module
 */
import { connectMessage, type MessageConnector, type MessageLimits } from "../transport/mod.ts";
import {
  decodeEnrpMessage,
  encodeEnrpMessage,
  type EnrpHandleTableResponse,
  EnrpMessageType,
  type HandleTableEntry,
  type PoolElementParameter,
} from "../wire/mod.ts";
import type { EnrpPeerAddress } from "./enrp_options.ts";
import { EnrpRequestError } from "./enrp_request_error.ts";

/** Milliseconds {@linkcode fetchHandleTable} may take, connection included, unless told. */
export const DEFAULT_FETCH_HANDLE_TABLE_TIMEOUT_MS = 5000;

/** Options of {@linkcode fetchHandleTable}; the message bounds apply to the connection. */
export interface FetchHandleTableOptions extends MessageLimits {
  /** Only the PEs the registrar owns (the W bit). @default {false} */
  ownChildrenOnly?: boolean;
  /**
   * The Sending Server's ID the requests carry. 0, "no server", keeps the registrar from taking
   * the asker for a new peer (Poolgate answers it and nothing else).
   * @default {0}
   */
  senderServerId?: number;
  /** Milliseconds the whole download may take. @default {DEFAULT_FETCH_HANDLE_TABLE_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Cancels the download. */
  signal?: AbortSignal;
  /** Opens the connection (tests). @default {Deno.connect with TCP_NODELAY} */
  connect?: MessageConnector;
}

/** A downloaded handle table. */
export interface HandleTable {
  /** The answering registrar's Server Identifier. */
  readonly serverId: number;
  /** Every pool with its PEs, in the order the registrar sent them (one entry per pool). */
  readonly pools: readonly HandleTableEntry[];
  /** Handle Table Responses it took. */
  readonly pages: number;
}

/**
 * Downloads the handle table of the registrar whose ENRP server is at `address`.
 *
 * @example
 * ```ts
 * const table = await fetchHandleTable({ hostname: "127.0.0.1", port: 9901 });
 * for (const pool of table.pools) console.log(pool.poolHandle, pool.poolElements.length);
 * ```
 * @throws {EnrpRequestError} "rejected" when the registrar sets the R bit, "timeout" after
 * `timeoutMs`, "closed" when it closes the connection first.
 * @throws {WireError} when an answer is malformed.
 */
export async function fetchHandleTable(
  address: EnrpPeerAddress,
  options: FetchHandleTableOptions = {},
): Promise<HandleTable> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_HANDLE_TABLE_TIMEOUT_MS;
  const where = `${address.hostname}:${address.port}`;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined
    ? deadline
    : AbortSignal.any([deadline, options.signal]);
  const { ownChildrenOnly = false, senderServerId = 0, connect, ...limits } = options;
  let connection;
  try {
    connection = await connectMessage({
      ...limits,
      hostname: address.hostname,
      port: address.port,
      timeoutMs,
      signal,
      ...(connect === undefined ? {} : { connect }),
    });
  } catch (error) {
    throw deadline.aborted ? timedOut(where, timeoutMs) : error;
  }
  const request = encodeEnrpMessage({
    type: EnrpMessageType.handleTableRequest,
    senderServerId,
    receiverServerId: 0,
    ownChildrenOnly,
  });
  const pools = new Map<string, { poolHandle: Uint8Array; poolElements: PoolElementParameter[] }>();
  let serverId = 0;
  let pages = 0;
  try {
    for (let more = true; more;) {
      await connection.send(request);
      const response = await nextTableResponse(connection.readMessage.bind(connection), where);
      if (response.reject) {
        throw new EnrpRequestError(
          `Cannot download the handle table of ${where}: it rejected the request (R bit)`,
          "rejected",
        );
      }
      serverId = response.senderServerId;
      for (const entry of response.entries) {
        const key = Array.from(entry.poolHandle, (b) => String.fromCharCode(b)).join("");
        let pool = pools.get(key);
        if (pool === undefined) {
          pool = { poolHandle: entry.poolHandle.slice(), poolElements: [] };
          pools.set(key, pool);
        }
        pool.poolElements.push(...entry.poolElements);
      }
      more = response.more;
      pages++;
    }
  } catch (error) {
    throw deadline.aborted ? timedOut(where, timeoutMs) : error;
  } finally {
    connection.close();
    await connection.finished;
  }
  return { serverId, pools: [...pools.values()], pages };
}

/** The next Handle Table Response; other messages (a Presence, an Error) are skipped. */
async function nextTableResponse(
  read: () => Promise<Uint8Array | null>,
  where: string,
): Promise<EnrpHandleTableResponse> {
  for (let bytes = await read(); bytes !== null; bytes = await read()) {
    const message = decodeEnrpMessage(bytes);
    if (message.type === EnrpMessageType.handleTableResponse) return message;
  }
  throw new EnrpRequestError(
    `Cannot download the handle table of ${where}: it closed the connection`,
    "closed",
  );
}

function timedOut(where: string, timeoutMs: number): EnrpRequestError {
  return new EnrpRequestError(
    `Cannot download the handle table of ${where} within ${timeoutMs} ms`,
    "timeout",
  );
}
