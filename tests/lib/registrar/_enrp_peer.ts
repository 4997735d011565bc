/**
 * A scripted ENRP peer for registrar tests: a real ENRP listener and connections on 127.0.0.1
 * that record every message they get, answer probes and audits from a handlespace of their own
 * unless told not to, and send whatever a test scripts. `kill()` makes it vanish as a crashed
 * process would.
 *
 * @module
 */
import { Handlespace } from "../../../lib/handlespace/mod.ts";
import {
  connectMessage,
  type MessageConnection,
  type MessageServer,
  startMessageServer,
} from "../../../lib/transport/mod.ts";
import {
  decodeEnrpMessage,
  encodeEnrpMessage,
  type EnrpMessage,
  EnrpMessageType,
  ParameterType,
  type PoolElementParameter,
  TransportUse,
} from "../../../lib/wire/mod.ts";
import { withDeadline } from "../../_support/deadline.ts";

/** A message the scripted peer received, and the connection it came on. */
export interface Received {
  readonly message: EnrpMessage;
  readonly connection: MessageConnection;
}

/** An ENRP message without the sender ID, which the scripted peer fills in. */
export type Outgoing = EnrpMessage extends infer T
  ? T extends EnrpMessage ? Omit<T, "senderServerId"> : never
  : never;

/** A fake registrar speaking ENRP from a script. */
export class ScriptedPeer implements AsyncDisposable {
  readonly serverId: number;
  /** The PEs it owns: what its Presence checksum and its W=1 answers are made of. */
  readonly handlespace = new Handlespace();
  /** Answer Presence R=1 with a Presence (stays "up" at the registrar). */
  answerProbes = true;
  /** Answer Handle Table Requests with its own PEs in one page. */
  answerTables = true;
  readonly #server: MessageServer;
  readonly #connections = new Set<MessageConnection>();
  readonly #readers = new Set<Promise<void>>();
  readonly #inbox: Received[] = [];
  readonly #waiters = new Set<() => void>();

  /** Listens on 127.0.0.1 port 0. */
  constructor(serverId: number) {
    this.serverId = serverId;
    this.#server = startMessageServer({
      hostname: "127.0.0.1",
      port: 0,
      onConnection: (connection) => this.#read(connection),
    });
  }

  /** Its ENRP listener's port (in its Server Information). */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Connects to a registrar's ENRP port; messages arriving there are recorded too. */
  async connect(port: number): Promise<MessageConnection> {
    const connection = await connectMessage({ hostname: "127.0.0.1", port });
    const reader = this.#read(connection).finally(() => this.#readers.delete(reader));
    this.#readers.add(reader);
    return connection;
  }

  /** Sends `message` with this peer's ID as sender. */
  send(connection: MessageConnection, message: Outgoing): Promise<void> {
    return connection.send(this.encode(message));
  }

  /** Encodes `message` with this peer's ID as sender. */
  encode(message: Outgoing): Uint8Array {
    return encodeEnrpMessage({ ...message, senderServerId: this.serverId });
  }

  /** A Presence with its checksum and Server Information. */
  presence(replyRequired = false): Outgoing {
    return {
      type: EnrpMessageType.presence,
      receiverServerId: 0,
      replyRequired,
      checksum: this.handlespace.checksum(this.serverId),
      serverInformation: {
        serverId: this.serverId,
        transport: {
          type: ParameterType.tcpTransport,
          port: this.port,
          transportUse: TransportUse.dataOnly,
          addresses: ["127.0.0.1"],
        },
      },
    };
  }

  /** Adds a PE it owns and returns the ADD_PE announcing it. */
  own(handle: Uint8Array, element: PoolElementParameter): Outgoing {
    const owned = { ...element, homeRegistrarId: this.serverId };
    const result = this.handlespace.register(handle, owned, this.serverId, 0);
    if (!result.ok) throw new Error(`cannot own the PE: cause ${result.cause}`);
    return {
      type: EnrpMessageType.handleUpdate,
      receiverServerId: 0,
      takeoverSuggested: false,
      action: 0,
      poolHandle: handle,
      poolElement: owned,
    };
  }

  /**
   * Resolves with the first recorded message (past or future) of `type` that `match` accepts
   * (with the connection it came on), and consumes it; rejects after `ms`.
   */
  next(
    type: number,
    ms = 2000,
    match: (message: EnrpMessage, connection: MessageConnection) => boolean = () => true,
  ): Promise<Received> {
    const find = () => {
      const index = this.#inbox.findIndex((r) =>
        r.message.type === type && match(r.message, r.connection)
      );
      return index < 0 ? undefined : this.#inbox.splice(index, 1)[0];
    };
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    let waiter: (() => void) | undefined;
    const arrived = new Promise<Received>((resolve) => {
      waiter = () => {
        const hit = find();
        if (hit !== undefined) resolve(hit);
      };
      this.#waiters.add(waiter);
    });
    const name = `ENRP message type ${type} at scripted peer ${this.serverId}`;
    return withDeadline(arrived, ms, name).finally(() => {
      if (waiter !== undefined) this.#waiters.delete(waiter);
    });
  }

  /**
   * Sends a List Request on `connection` and waits for the List Response. A registrar answers it
   * after handling everything this peer sent there before, and on the same byte stream after
   * everything it sent there before: once it resolves, none of those messages is in flight.
   */
  async flush(connection: MessageConnection, ms = 2000): Promise<void> {
    await this.send(connection, { type: EnrpMessageType.listRequest, receiverServerId: 0 });
    await this.next(EnrpMessageType.listResponse, ms, (m) => m.receiverServerId === this.serverId);
  }

  /** Drops every recorded message of `type` that was not consumed; returns how many. */
  discard(type: number): number {
    const before = this.#inbox.length;
    const kept = this.#inbox.filter((r) => r.message.type !== type);
    this.#inbox.splice(0, before, ...kept);
    return before - kept.length;
  }

  /** True when a message of `type` that `match` accepts has been recorded and not consumed. */
  has(type: number, match: (message: EnrpMessage) => boolean = () => true): boolean {
    return this.#inbox.some((r) => r.message.type === type && match(r.message));
  }

  /** Vanishes as a crashed process: every connection and the listener close at once. */
  async kill(): Promise<void> {
    for (const connection of this.#connections) connection.close();
    await this.#server.shutdown();
    await Promise.all(this.#readers);
  }

  /** Same as {@linkcode ScriptedPeer.kill}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.kill();
  }

  async #read(connection: MessageConnection): Promise<void> {
    this.#connections.add(connection);
    try {
      for await (const bytes of connection) {
        const message = decodeEnrpMessage(bytes);
        this.#answer(connection, message);
        this.#inbox.push({ message, connection });
        for (const waiter of [...this.#waiters]) waiter();
      }
    } catch {
      // Closed by kill() or by the registrar.
    } finally {
      this.#connections.delete(connection);
      connection.close();
    }
  }

  #answer(connection: MessageConnection, message: EnrpMessage): void {
    const reply = (outgoing: Outgoing) => void this.send(connection, outgoing).catch(() => {});
    if (message.type === EnrpMessageType.presence && message.replyRequired && this.answerProbes) {
      reply(this.presence(false));
    }
    if (message.type === EnrpMessageType.handleTableRequest && this.answerTables) {
      const entries = [...this.handlespace.pools()].map((pool) => ({
        poolHandle: pool.handle,
        poolElements: [...pool.elements()].map((view) => view.toParameter()),
      }));
      reply({
        type: EnrpMessageType.handleTableResponse,
        receiverServerId: message.senderServerId,
        reject: false,
        more: false,
        entries,
      });
    }
  }
}
