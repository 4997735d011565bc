/**
 * A scripted ASAP peer for registrar tests: sends encoded messages over a real TCP connection
 * and awaits decoded answers with a deadline; plus builders of Pool Element parameters.
 *
 * @module
 */
import type {
  PoolElementChangeDetail,
  Registrar,
  RegistrarEventDetails,
} from "../../../lib/registrar/mod.ts";
import { connectMessage, type MessageConnection } from "../../../lib/transport/mod.ts";
import {
  type AsapMessage,
  AsapMessageType,
  decodeAsapMessage,
  encodeAsapMessage,
  ParameterType,
  PolicyType,
  type PoolElementParameter,
  type SelectionPolicy,
  type TransportParameter,
  TransportUse,
} from "../../../lib/wire/mod.ts";
import { withDeadline } from "../../_support/deadline.ts";

/** How long a test waits for an answer that must come. */
export const ANSWER_MS = 2000;

/** One ASAP connection to a registrar. */
export interface AsapClient extends AsyncDisposable {
  readonly connection: MessageConnection;
  /** Sends a message. */
  send(message: AsapMessage): Promise<void>;
  /** Sends raw bytes as they are. */
  sendBytes(bytes: Uint8Array): Promise<void>;
  /** The next message from the registrar, decoded; rejects after `ms` or at end of stream. */
  receive(ms?: number): Promise<AsapMessage>;
  /** Sends `message` and returns the next message received. */
  request(message: AsapMessage, ms?: number): Promise<AsapMessage>;
  /** Resolves once the registrar has closed the connection (end of stream). */
  closedByPeer(ms?: number): Promise<void>;
}

/** Connects to a registrar on 127.0.0.1:`port`. */
export async function connectAsap(port: number): Promise<AsapClient> {
  const connection = await connectMessage({ hostname: "127.0.0.1", port });
  async function next(): Promise<AsapMessage> {
    const bytes = await connection.readMessage();
    if (bytes === null) throw new Error("The registrar closed the connection");
    return decodeAsapMessage(bytes);
  }
  return {
    connection,
    send: (message) => connection.send(encodeAsapMessage(message)),
    sendBytes: (bytes) => connection.send(bytes),
    receive: (ms = ANSWER_MS) => withDeadline(next(), ms, "an ASAP message from the registrar"),
    async request(message, ms = ANSWER_MS) {
      await connection.send(encodeAsapMessage(message));
      return await withDeadline(next(), ms, "the registrar's answer");
    },
    async closedByPeer(ms = ANSWER_MS) {
      const end = (async () => {
        try {
          while (await connection.readMessage() !== null) {
            // Messages still in flight are not what this waits for.
          }
        } catch {
          // Reset or cut mid-message: closed as well.
        }
      })();
      await withDeadline(end, ms, "the registrar to close the connection");
    },
    [Symbol.asyncDispose]() {
      connection.close();
      return connection.finished;
    },
  };
}

/** A pool handle from text. */
export function handle(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A TCP user transport on 127.0.0.1. */
export function tcpTransport(
  port: number,
  transportUse: TransportUse = TransportUse.dataOnly,
  address = "127.0.0.1",
): TransportParameter {
  return { type: ParameterType.tcpTransport, port, transportUse, addresses: [address] };
}

/** A Pool Element parameter with sensible defaults: round robin, TCP, life 30 s. */
export function poolElement(
  identifier: number,
  fields: {
    policy?: SelectionPolicy;
    userTransport?: TransportParameter;
    registrationLife?: number;
  } = {},
): PoolElementParameter {
  return {
    identifier,
    homeRegistrarId: 0,
    registrationLife: fields.registrationLife ?? 30_000,
    userTransport: fields.userTransport ?? tcpTransport(10_000 + (identifier % 50_000)),
    policy: fields.policy ?? { type: PolicyType.roundRobin },
  };
}

/** An ASAP Registration. */
export function registration(pool: string, element: PoolElementParameter): AsapMessage {
  return { type: AsapMessageType.registration, poolHandle: handle(pool), poolElement: element };
}

/** An ASAP Handle Resolution, with the Handle Resolution Option when `items` is given. */
export function resolution(pool: string, items?: number): AsapMessage {
  return items === undefined
    ? { type: AsapMessageType.handleResolution, poolHandle: handle(pool) }
    : { type: AsapMessageType.handleResolution, poolHandle: handle(pool), items };
}

/** Narrows `message` to `type` or throws with what came instead. */
export function expectType<T extends AsapMessage["type"]>(
  message: AsapMessage,
  type: T,
): Extract<AsapMessage, { type: T }> {
  if (message.type !== type) {
    throw new Error(`Expected ASAP message type ${type}, got ${message.type}`);
  }
  return message as Extract<AsapMessage, { type: T }>;
}

/** The detail of the next `type` event of `registrar`; rejects after `ms`. */
export function nextChange(
  registrar: Registrar,
  type: keyof RegistrarEventDetails,
  ms = ANSWER_MS,
): Promise<PoolElementChangeDetail> {
  let listener: ((event: CustomEvent<PoolElementChangeDetail>) => void) | undefined;
  const change = new Promise<PoolElementChangeDetail>((resolve) => {
    listener = (event) => resolve(event.detail);
    registrar.addEventListener(type, listener, { once: true });
  });
  return withDeadline(change, ms, `a "${type}" event`).finally(() => {
    if (listener !== undefined) registrar.removeEventListener(type, listener);
  });
}
