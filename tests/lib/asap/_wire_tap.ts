/**
 * A relay between ASAP endpoints and a registrar that counts the messages reaching the
 * registrar by type, as a capture would, and can stop passing them on to play a registrar that
 * accepts connections but never answers.
 */
import { startMessageServer } from "../../../lib/transport/message_server.ts";
import { connectMessage } from "../../../lib/transport/connect_message.ts";
import type { RegistrarAddress } from "../../../lib/asap/server_hunt.ts";
import type { MessageConnection } from "../../../lib/transport/message_connection.ts";

/** A running relay; see {@linkcode startWireTap}. */
export interface WireTap extends AsyncDisposable {
  /** Where endpoints connect instead of the registrar. */
  readonly address: RegistrarAddress;
  /** How many messages of an ASAP type reached the registrar (or would have, when silent). */
  count(type: number): number;
  /** Resolves once `count(type)` reaches `n`. */
  waitForCount(type: number, n: number): Promise<void>;
  /** While true, messages from endpoints are counted and dropped. */
  silent: boolean;
}

/** Relays each accepted connection to `upstream`, message by message. */
export function startWireTap(upstream: RegistrarAddress): WireTap {
  const counts = new Map<number, number>();
  const waiters = new Set<{ type: number; n: number; resolve: () => void }>();
  const tap = {
    silent: false,
    count: (type: number) => counts.get(type) ?? 0,
    waitForCount(type: number, n: number): Promise<void> {
      if (tap.count(type) >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.add({ type, n, resolve });
      return promise;
    },
  };
  const relay = async (from: MessageConnection, to: MessageConnection, counted: boolean) => {
    try {
      for await (const message of from) {
        if (counted) {
          const type = message[0]!;
          counts.set(type, tap.count(type) + 1);
          for (const waiter of waiters) {
            if (waiter.type === type && tap.count(type) >= waiter.n) {
              waiters.delete(waiter);
              waiter.resolve();
            }
          }
          if (tap.silent) continue;
        }
        await to.send(message);
      }
    } catch {
      // Either side went away: the finally below closes the other.
    } finally {
      from.close();
      to.close();
    }
  };
  const server = startMessageServer({
    hostname: "127.0.0.1",
    port: 0,
    onConnection: async (client) => {
      const registrar = await connectMessage({ ...upstream });
      await Promise.all([relay(client, registrar, true), relay(registrar, client, false)]);
    },
  });
  return Object.assign(tap, {
    address: { hostname: "127.0.0.1", port: server.addr.port },
    [Symbol.asyncDispose]: () => server.shutdown(),
  });
}
