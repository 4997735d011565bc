import assert from "node:assert/strict";
import { huntRegistrar, type RegistrarAddress } from "../../../lib/asap/server_hunt.ts";
import type { ByteStream } from "../../../lib/transport/byte_stream.ts";
import type { MessageConnector } from "../../../lib/transport/connect_message.ts";
import { withDeadline } from "../../_support/deadline.ts";

const DEADLINE_MS = 5000;

/** A port nothing listens on: bound once, then closed. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

/** Settles only when `signal` aborts, as a connect to a black hole does. */
function never(signal: AbortSignal): Promise<ByteStream> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

Deno.test("huntRegistrar() takes the first registrar that accepts when earlier ones refuse", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const registrars = [
    { hostname: "127.0.0.1", port: closedPort() },
    { hostname: "127.0.0.1", port: closedPort() },
    { hostname: "127.0.0.1", port: listener.addr.port },
  ];
  const found = await withDeadline(huntRegistrar(registrars), DEADLINE_MS, "a registrar");
  using accepted = await listener.accept();
  await using _connection = found.connection;
  assert.equal(found.index, 2);
  assert.equal(found.registrar, registrars[2]);
  assert.equal(accepted.remoteAddr.port, (found.connection.localAddr as Deno.NetAddr).port);
});

Deno.test("huntRegistrar() runs at most three attempts at once and tries a different set when T5 expires", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // Ports 1-4 stand for registrars that never answer; the fifth listens.
  const registrars: RegistrarAddress[] = [1, 2, 3, 4, listener.addr.port].map((port) => ({
    hostname: "127.0.0.1",
    port,
  }));
  const attempted: number[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const connect: MessageConnector = async ({ hostname, port, signal }) => {
    attempted.push(port);
    running += 1;
    mostAtOnce = Math.max(mostAtOnce, running);
    try {
      return port < 5 ? await never(signal) : await Deno.connect({ hostname, port });
    } finally {
      running -= 1;
    }
  };
  const found = await withDeadline(
    huntRegistrar(registrars, { connect, serverHuntMs: 50 }),
    DEADLINE_MS,
    "a registrar",
  );
  using _accepted = await listener.accept();
  await using _connection = found.connection;
  assert.equal(found.index, 4);
  assert.equal(mostAtOnce, 3);
  // Round one: the first three (SH1); round two starts where it stopped (SH5.2).
  assert.deepEqual(attempted.slice(0, 5), [1, 2, 3, 4, listener.addr.port]);
});

Deno.test("huntRegistrar() doubles T5 after each failed round up to RETRAN-MAX", async () => {
  const controller = new AbortController();
  const roundStarts: number[] = [];
  const connect: MessageConnector = ({ port }) => {
    if (port === 1) roundStarts.push(performance.now());
    if (roundStarts.length === 6) controller.abort(new Error("enough rounds"));
    return Promise.reject(new Deno.errors.ConnectionRefused("refused"));
  };
  const registrars = [{ hostname: "127.0.0.1", port: 1 }, { hostname: "127.0.0.1", port: 2 }];
  const hunt = huntRegistrar(registrars, {
    connect,
    serverHuntMs: 20,
    retranMaxMs: 80,
    signal: controller.signal,
  });
  await assert.rejects(withDeadline(hunt, DEADLINE_MS, "the hunt to stop"), /enough rounds/);
  const gaps = roundStarts.slice(1).map((start, i) => start - roundStarts[i]!);
  // Timers fire no earlier than asked; allow 1 ms for clock rounding.
  for (const [i, least] of [20, 40, 80, 80, 80].entries()) {
    assert.ok(gaps[i]! >= least - 1, `round ${i + 2} began ${gaps[i]} ms after the last`);
  }
});

Deno.test("huntRegistrar() rejects with the abort reason while it backs off", async () => {
  const controller = new AbortController();
  const connect: MessageConnector = () => {
    queueMicrotask(() => controller.abort(new Error("shutting down")));
    return Promise.reject(new Deno.errors.ConnectionRefused("refused"));
  };
  const hunt = huntRegistrar([{ hostname: "127.0.0.1", port: 1 }], {
    connect,
    serverHuntMs: 60_000,
    signal: controller.signal,
  });
  await assert.rejects(withDeadline(hunt, 1000, "the hunt to stop"), /shutting down/);
});

Deno.test("huntRegistrar() checks its options", async () => {
  await assert.rejects(huntRegistrar([]), {
    name: "RangeError",
    message: "Cannot hunt for a registrar as 'registrars' is empty: give at least one",
  });
  await assert.rejects(
    huntRegistrar([{ hostname: "127.0.0.1", port: 1 }], { maxParallelHunt: 4 }),
    {
      name: "RangeError",
      message:
        "Cannot hunt for a registrar as 'maxParallelHunt' must be an integer from 1 to 3: current value is 4",
    },
  );
  await assert.rejects(
    huntRegistrar([{ hostname: "127.0.0.1", port: 1 }], { serverHuntMs: 100, retranMaxMs: 50 }),
    /'retranMaxMs' must not be below 'serverHuntMs': 50 < 100/,
  );
});
