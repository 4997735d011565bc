/**
 * Folder-private: one ENRP connection, incoming or outgoing, as ENRP peering uses it: which
 * server speaks on it, the responses awaited on it, and the handle table download it serves.
 *
 * Over TCP a connection carries one server's identity: the first non-zero sender ID seen binds
 * it, and a message claiming another ID on it is refused (RFC 5355 §2: a peer must not speak for
 * another). Requests are answered on the connection they arrive on, so a response always
 * follows the request on the same byte stream.
 */
import type { MessageConnection } from "../transport/mod.ts";
import type { EnrpHandleTableResponse, EnrpListResponse } from "../wire/mod.ts";
import { EnrpRequestError } from "./enrp_request_error.ts";

/** A response one request awaits on a link. */
class Awaited<T> {
  readonly #what: string;
  #pending:
    | {
      resolve(message: T): void;
      reject(error: Error): void;
      timer: ReturnType<typeof setTimeout>;
    }
    | undefined;

  constructor(what: string) {
    this.#what = what;
  }

  /** Starts waiting; rejects after `timeoutMs`. */
  wait(peer: string, timeoutMs: number): Promise<T> {
    if (this.#pending !== undefined) {
      return Promise.reject(new TypeError(`Cannot send a second ${this.#what} to ${peer}`));
    }
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const timer = setTimeout(() => {
      this.#pending = undefined;
      reject(
        new EnrpRequestError(
          `Cannot get an answer to a ${this.#what} from ${peer} within ${timeoutMs} ms`,
          "timeout",
        ),
      );
    }, timeoutMs);
    this.#pending = { resolve, reject, timer };
    return promise;
  }

  /** Resolves the wait with `message`; false when nobody waits. */
  deliver(message: T): boolean {
    const pending = this.#pending;
    if (pending === undefined) return false;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve(message);
    return true;
  }

  /** Rejects the wait, if any, with `error`. */
  fail(error: Error): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    pending.reject(error);
  }
}

/** A handle table download being served on a link (RFC 5353 §3.2.3: the mentor's cursor). */
export interface HandleTableSession {
  /** Only the PEs this registrar owns (W bit). */
  readonly ownChildrenOnly: boolean;
  /** The pool handle of each PE to send, in order (shared per pool). */
  readonly handles: Uint8Array[];
  /** The PE identifier of each PE to send. */
  readonly ids: number[];
  /** Index of the next PE to send. */
  next: number;
  /** Drops the session when the requester stops asking. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** An ENRP connection and what ENRP peering keeps about it. */
export class EnrpLink {
  readonly connection: MessageConnection;
  /** True when this registrar opened it (to a peer's ENRP address). */
  readonly outgoing: boolean;
  /** The server ID an outgoing link was opened for; 0 when unknown (a configured address). */
  expectedServerId: number;
  /** The sender ID this link is bound to; 0 until a non-zero one arrives. */
  serverId = 0;
  /** The download served on this link, if any. */
  session: HandleTableSession | undefined;
  readonly #list = new Awaited<EnrpListResponse>("List Request");
  readonly #table = new Awaited<EnrpHandleTableResponse>("Handle Table Request");

  /** Wraps `connection`. */
  constructor(connection: MessageConnection, outgoing: boolean, expectedServerId = 0) {
    this.connection = connection;
    this.outgoing = outgoing;
    this.expectedServerId = expectedServerId;
  }

  /** The peer's address as "HOST:PORT", for logs. */
  get peer(): string {
    return this.connection.peer;
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.connection.closed;
  }

  /** Queues `message`; a failed send closes the connection, which its reader then reports. */
  send(message: Uint8Array): void {
    if (this.connection.closed) return;
    this.connection.send(message).catch(() => {});
  }

  /** Sends a List Request and resolves with the List Response that follows on this link. */
  requestList(request: Uint8Array, timeoutMs: number): Promise<EnrpListResponse> {
    return this.#request(this.#list, request, timeoutMs);
  }

  /** Sends a Handle Table Request and resolves with the next Handle Table Response. */
  requestTable(request: Uint8Array, timeoutMs: number): Promise<EnrpHandleTableResponse> {
    return this.#request(this.#table, request, timeoutMs);
  }

  /** Hands a List Response to its request; false when none awaits one. */
  deliverList(message: EnrpListResponse): boolean {
    return this.#list.deliver(message);
  }

  /** Hands a Handle Table Response to its request; false when none awaits one. */
  deliverTable(message: EnrpHandleTableResponse): boolean {
    return this.#table.deliver(message);
  }

  /** Closes the connection, fails the requests and drops the session; idempotent. */
  close(): void {
    this.connection.close();
    const error = new EnrpRequestError(
      `Cannot get an answer from ${this.peer}: the link closed`,
      "closed",
    );
    this.#list.fail(error);
    this.#table.fail(error);
    if (this.session !== undefined) clearTimeout(this.session.timer);
    this.session = undefined;
  }

  #request<T>(awaited: Awaited<T>, request: Uint8Array, timeoutMs: number): Promise<T> {
    if (this.connection.closed) {
      return Promise.reject(
        new EnrpRequestError(`Cannot send a request to ${this.peer}: the link is closed`, "closed"),
      );
    }
    const answer = awaited.wait(this.peer, timeoutMs);
    this.send(request);
    return answer;
  }
}
