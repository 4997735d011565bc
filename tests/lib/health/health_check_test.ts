import assert from "node:assert/strict";
import {
  DEFAULT_HEALTH_CHECK_FALL,
  DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  HealthChangeEvent,
  type HealthCheck,
  type HealthCheckConn,
  startHealthCheck,
} from "../../../lib/health/health_check.ts";
import { startEchoProcess } from "../../_support/echo_process.ts";
import { nextEvent } from "../../_support/deadline.ts";

const PING = new TextEncoder().encode("ping\n");
/** Room for a loaded, shared CI machine on top of each bound the check promises. */
const SCHEDULING_SLACK_MS = 400;
/** Bound for a dead (refusing) server: the brief's fall × interval + timeout. */
const DEAD_DOWN_MS = DEFAULT_HEALTH_CHECK_FALL * DEFAULT_HEALTH_CHECK_INTERVAL_MS +
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS;
/** Bound for a hung server: interval + fall × max(interval, timeout), 500 ms by default. */
const HUNG_DOWN_MS = DEFAULT_HEALTH_CHECK_INTERVAL_MS +
  DEFAULT_HEALTH_CHECK_FALL *
    Math.max(DEFAULT_HEALTH_CHECK_INTERVAL_MS, DEFAULT_HEALTH_CHECK_TIMEOUT_MS);
/** A first verdict needs the first check and possibly its timeout. */
const FIRST_VERDICT_MS = 2000;

async function nextChange(
  target: EventTarget,
  type: "up" | "down",
  ms: number,
): Promise<HealthChangeEvent> {
  const event = await nextEvent(target, type, ms);
  assert.ok(event instanceof HealthChangeEvent);
  return event;
}

/** A send/expect check with the default timing that sends "ping\n" and expects it back. */
function startPingCheck(port: number): HealthCheck {
  return startHealthCheck({ hostname: "127.0.0.1", port, send: PING, expect: PING });
}

/** A port nothing listens on: bound once, then released. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

Deno.test("startHealthCheck() reports up for a server that echoes the expected bytes", async () => {
  await using server = await startEchoProcess();
  await using check = startPingCheck(server.port);
  assert.equal(check.state, "unknown");
  await nextChange(check, "up", FIRST_VERDICT_MS);
  assert.equal(check.healthy, true);
});

Deno.test("startHealthCheck() reports down within fall × interval + timeout after SIGKILL", async () => {
  await using server = await startEchoProcess();
  await using check = startPingCheck(server.port);
  await nextChange(check, "up", FIRST_VERDICT_MS);
  const down = nextChange(check, "down", DEAD_DOWN_MS + SCHEDULING_SLACK_MS);
  server.kill("SIGKILL");
  const event = await down;
  assert.equal(check.healthy, false);
  assert.match(event.reason, /connecting|waiting for the reply|sending/);
});

Deno.test("startHealthCheck() send/expect goes down on SIGSTOP while a connect check stays up, and up on SIGCONT", async () => {
  await using server = await startEchoProcess();
  await using exchange = startPingCheck(server.port);
  await using connectOnly = startHealthCheck({ hostname: "127.0.0.1", port: server.port });
  await Promise.all([
    nextChange(exchange, "up", FIRST_VERDICT_MS),
    nextChange(connectOnly, "up", FIRST_VERDICT_MS),
  ]);
  const down = nextChange(exchange, "down", HUNG_DOWN_MS + SCHEDULING_SLACK_MS);
  server.kill("SIGSTOP");
  const event = await down;
  assert.match(event.reason, /timed out after 200 ms while waiting for the reply/);
  // The kernel still completes handshakes for the stopped process: only send/expect notices.
  assert.equal(connectOnly.healthy, true);
  const up = nextChange(exchange, "up", FIRST_VERDICT_MS);
  server.kill("SIGCONT");
  await up;
  assert.equal(exchange.healthy, true);
});

Deno.test("startHealthCheck() reports down when the connection is refused", async () => {
  await using check = startHealthCheck({ hostname: "127.0.0.1", port: closedPort() });
  const event = await nextChange(check, "down", FIRST_VERDICT_MS);
  assert.match(event.reason, /failed while connecting: .*refused/i);
  assert.equal(check.state, "down");
});

Deno.test("startHealthCheck() reports down for a server slower than the timeout", async () => {
  await using server = await startEchoProcess({ delayMs: 4 * DEFAULT_HEALTH_CHECK_TIMEOUT_MS });
  await using check = startPingCheck(server.port);
  const event = await nextChange(check, "down", FIRST_VERDICT_MS);
  assert.match(event.reason, /timed out after 200 ms while waiting for the reply/);
});

Deno.test("startHealthCheck() counts rise passes before up and fall failures before down", async () => {
  // Scripted connections: the peer answers "pong" on passes and closes at once on failures.
  const script = [true, false, true, true, false, false];
  const connect = () => {
    const pass = script.shift() ?? true;
    let replied = false;
    const conn: HealthCheckConn = {
      read(buffer) {
        if (!pass || replied) return Promise.resolve(null);
        replied = true;
        buffer.set(new TextEncoder().encode("pong"));
        return Promise.resolve(4);
      },
      write: (data) => Promise.resolve(data.length),
      close() {},
    };
    return Promise.resolve(conn);
  };
  const changes: string[] = [];
  const check = startHealthCheck({
    hostname: "pe.invalid",
    port: 7,
    send: PING,
    expect: new TextEncoder().encode("pong"),
    intervalMs: 1,
    rise: 2,
    fall: 2,
    connect,
  });
  const down = nextChange(check, "down", FIRST_VERDICT_MS);
  check.addEventListener("up", () => changes.push("up"));
  check.addEventListener("down", (event) => changes.push(`down: ${event.reason}`));
  await down;
  await check.close();
  assert.deepEqual(changes, [
    "up",
    "down: connection closed after 0 reply byte(s) without the expected bytes",
  ]);
});

Deno.test("startHealthCheck() stops when its signal aborts", async () => {
  const controller = new AbortController();
  const check = startHealthCheck({
    hostname: "127.0.0.1",
    port: closedPort(),
    signal: controller.signal,
  });
  controller.abort();
  await check.finished;
  await check.close();
  assert.equal(check.state, "unknown");
});

Deno.test("startHealthCheck() rejects out-of-range options with RangeError", () => {
  assert.throws(() => startHealthCheck({ hostname: "127.0.0.1", port: 7, intervalMs: 0 }), {
    name: "RangeError",
    message:
      "Cannot start health check as 'intervalMs' must be a positive integer: current value is 0",
  });
  assert.throws(() => startHealthCheck({ hostname: "127.0.0.1", port: 0 }), RangeError);
  assert.throws(
    () => startHealthCheck({ hostname: "h", port: 7, expect: new Uint8Array(9), maxReplyBytes: 8 }),
    { name: "RangeError", message: /'expect' is longer than 'maxReplyBytes'/ },
  );
});
