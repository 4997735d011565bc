/**
 * A registrar played by the test, for what a real one does only in rare states (a takeover's
 * H-bit Keep-Alive, a registration life running out): it accepts every registration and
 * deregistration, then hands each message to the test's script.
 */
import type { RegistrarAddress } from "../../../lib/asap/server_hunt.ts";
import { type MessageServer, startMessageServer } from "../../../lib/transport/message_server.ts";
import { decodeAsapMessage, encodeAsapMessage } from "../../../lib/wire/asap_codec.ts";
import type { AsapMessage } from "../../../lib/wire/asap_messages.ts";
import { AsapMessageType } from "../../../lib/wire/codes.ts";

/** What the script gets: the message and a way to answer on its connection. */
export type RegistrarScript = (
  message: AsapMessage,
  send: (message: AsapMessage) => Promise<void>,
) => Promise<void> | void;

/** A running scripted registrar; disposal shuts it down. */
export interface ScriptedRegistrar extends AsyncDisposable {
  readonly address: RegistrarAddress;
  readonly server: MessageServer;
}

/** Starts a scripted registrar on 127.0.0.1, port 0. */
export function startScriptedRegistrar(script: RegistrarScript): ScriptedRegistrar {
  const server = startMessageServer({
    hostname: "127.0.0.1",
    port: 0,
    onConnection: async (conn) => {
      const send = (message: AsapMessage) => conn.send(encodeAsapMessage(message));
      for await (const bytes of conn) {
        const message = decodeAsapMessage(bytes);
        if (message.type === AsapMessageType.registration) {
          await send({
            type: AsapMessageType.registrationResponse,
            reject: false,
            poolHandle: message.poolHandle,
            poolElementId: message.poolElement.identifier,
          });
        } else if (message.type === AsapMessageType.deregistration) {
          await send({ ...message, type: AsapMessageType.deregistrationResponse });
        }
        await script(message, send);
      }
    },
  });
  return {
    address: { hostname: "127.0.0.1", port: server.addr.port },
    server,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
