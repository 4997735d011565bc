/**
 * `main.ts pe` as a real process between a real registrar process and real legacy servers: it
 * registers the backend's own address as a DATA ONLY PE, withdraws it when the backend dies,
 * hangs, refuses or answers too slowly, registers it again when the check passes, hunts for a
 * registrar that is not there yet, and leaves the pool on SIGTERM (deregistration) and on
 * SIGKILL (the registrar sees the connection close). Each step waits for a log line with a
 * deadline, then `main.ts resolve` confirms what the registrar holds.
 */
import assert from "node:assert/strict";
import { startEchoProcess } from "../_support/echo_process.ts";
import {
  assertUsageErrors,
  type PoolgateProcess,
  spawnPoolgate,
} from "../_support/poolgate_process.ts";

// Values in text log lines are quoted or bare depending on the formatter's version: `"?`.
const LISTENING = /Registrar .* listening on "?127\.0\.0\.1:(\d+)/;
const REGISTERED = /PE "?(0x[0-9a-f]{8})"? registered in pool \S+ with home registrar/;
const WITHDRAWN = /Backend down \((.*)\): PE \S+ withdrawn from pool/;
const REGISTERED_AGAIN = /Backend up \(.*\): PE "?(0x[0-9a-f]{8})"? registered in pool \S+ again/;
const STAYS_OUT = /Backend down \((.*)\): PE \S+ stays out of pool/;
/**
 * How long a transition may take to show in the log: the health check needs about
 * interval + fall × max(interval, timeout) = 500 ms with the defaults, a registration one round
 * trip on loopback; the rest is slack for a loaded machine.
 */
const TRANSITION_MS = 5000;
/** Start-up of a `main.ts` child, which compiles on a cold cache. */
const START_MS = 20_000;

/** A `main.ts registrar` child with 100 ms keep-alives, and the port it logged. */
interface RegistrarProcess extends AsyncDisposable {
  readonly process: PoolgateProcess;
  readonly port: number;
}

async function startRegistrar(asap = "127.0.0.1:0"): Promise<RegistrarProcess> {
  const process = spawnPoolgate([
    ...["registrar", "--asap", asap, "--log-format", "text"],
    ...["--keep-alive-interval", "100ms", "--keep-alive-timeout", "200ms"],
  ]);
  try {
    const line = await process.waitForLine(LISTENING, START_MS);
    const port = Number(LISTENING.exec(line)?.[1]);
    return { process, port, [Symbol.asyncDispose]: () => process[Symbol.asyncDispose]() };
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

/** Starts `main.ts pe` with text logs. */
function startSidecar(pool: string, registrarPort: number, flags: string[]): PoolgateProcess {
  return spawnPoolgate([
    ...["pe", "--pool", pool, "--registrar", `127.0.0.1:${registrarPort}`],
    ...["--log-format", "text", ...flags],
  ]);
}

/** The PEs a registrar lists for `pool` (`main.ts resolve --items all`), or undefined if unknown. */
async function resolvePool(pool: string, registrarPort: number) {
  await using proc = spawnPoolgate([
    ...["resolve", pool, "--registrar", `127.0.0.1:${registrarPort}`, "--items", "all"],
  ]);
  const status = await proc.waitForExit(START_MS);
  if (status.code === 1 && /^Unknown pool handle/.test(proc.stderrLines[0] ?? "")) return undefined;
  assert.equal(status.code, 0, proc.stderrLines.join("\n"));
  return JSON.parse(proc.stdoutLines.join("\n"));
}

/** A port nothing listens on (bound and released at once). */
function closedPort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** Lines of `process` matching `pattern` so far. */
function count(process: PoolgateProcess, pattern: RegExp): number {
  return [...process.stdoutLines, ...process.stderrLines].filter((line) => pattern.test(line))
    .length;
}

Deno.test("peCommand --help lists every flag with its default", async () => {
  await using proc = spawnPoolgate(["pe", "--help"]);
  const status = await proc.waitForExit(START_MS);
  assert.equal(status.code, 0);
  const text = proc.stdoutLines.join("\n");
  for (
    const expected of [
      /--pool HANDLE .*required/,
      /--backend IP:PORT .*required/,
      /--registrar HOST:PORT .*repeatable; default: 127\.0\.0\.1:3863/,
      /--policy NAME.*default: rr/,
      /--check-send TEXT/,
      /--check-expect TEXT/,
      /--check-interval DURATION .*default: 100ms/,
      /--check-timeout DURATION .*default: 200ms/,
      /--check-fall N .*default: 2/,
      /--check-rise N .*default: 1/,
      /--registration-life DURATION .*default: 5m/,
      /--advertise IP/,
      /--registrar-timeout DURATION .*default: 5s/,
      /--server-hunt DURATION .*default: 10s/,
      /--retran-max DURATION .*default: 1m/,
      /--shutdown-grace DURATION .*default: 10s/,
      /--log-level .*default: info/,
    ]
  ) {
    assert.match(text, expected);
  }
});

Deno.test("peCommand rejects bad flags in one line with exit 2", async () => {
  const base = ["pe", "--pool", "EchoPool", "--backend", "127.0.0.1:7"];
  const cases: [string[], RegExp][] = [
    [[...base, "--policy", "fastest"], /^Invalid value for --policy: "fastest": unknown policy/],
    [
      [...base, "--policy", "lu:weight=3"],
      /^Invalid value for --policy: .*takes load, not "weight"/,
    ],
    [[...base, "--policy", "lud:load=120"], /^Invalid value for --policy: .*percentage/],
    [[...base, "--check-send", "a\\q", "--check-expect", "a"], /unknown escape "\\q"/],
    [[...base, "--check-send", "\\x4", "--check-expect", "a"], /"\\x" at index 0 needs two hex/],
    [[...base, "--check-send", "ping\\n"], /^--check-send and --check-expect go together/],
    [["pe", "--backend", "127.0.0.1:7"], /^Missing --pool HANDLE/],
    [["pe", "--pool", "EchoPool"], /^Missing --backend IP:PORT/],
    [["pe", "--pool", "EchoPool", "--backend", "example.com:7"], /registers an IP address, not/],
    [["pe", "--pool", "EchoPool", "--backend", "0.0.0.0:7"], /unspecified address/],
    [["pe", "--pool", "EchoPool", "--backend", "127.0.0.1:0"], /^Invalid value for --backend/],
    [[...base, "--registrar", "127.0.0.1:0"], /^Invalid value for --registrar/],
  ];
  await assertUsageErrors(cases, START_MS);
});

Deno.test("peCommand registers the backend's address as a DATA ONLY PE and withdraws it when the backend is killed", async () => {
  await using registrar = await startRegistrar();
  await using backend = await startEchoProcess();
  const deadRegistrar = closedPort();
  // The list is hunted in order: the dead registrar first, reported once, then the live one.
  await using sidecar = spawnPoolgate([
    ...["pe", "--pool", "EchoPool", "--backend", `localhost:${backend.port}`],
    ...["--registrar", `127.0.0.1:${deadRegistrar}`, "--registrar", `127.0.0.1:${registrar.port}`],
    ...["--policy", "LeastUsed:load=25", "--log-format", "text"],
  ]);
  const registered = await sidecar.waitForLine(REGISTERED, START_MS);
  const peId = REGISTERED.exec(registered)?.[1];
  assert.match(registered, new RegExp(`home registrar "?127\\.0\\.0\\.1:${registrar.port}`));
  assert.match(registered, new RegExp(`peer=127\\.0\\.0\\.1:${backend.port}`));
  assert.match(
    await sidecar.waitForLine(/Cannot reach registrar/),
    new RegExp(`Cannot reach registrar "?127\\.0\\.0\\.1:${deadRegistrar}"? \\(.*refused`),
  );
  assert.ok(sidecar.stderrLines.some((line) => /localhost taken as 127\.0\.0\.1/.test(line)));

  const answer = await resolvePool("EchoPool", registrar.port);
  assert.equal(answer?.poolElements.length, 1);
  const [pe] = answer.poolElements;
  assert.equal(pe.identifier, peId);
  assert.deepEqual(pe.userTransport, {
    protocol: "TCP",
    port: backend.port,
    transportUse: "data only",
    addresses: ["127.0.0.1"],
  });
  assert.equal(pe.policy.name, "LU");
  assert.equal(pe.policy.loadPercent, 25);
  assert.equal(pe.registrationLife, 300_000);

  backend.kill("SIGKILL");
  await backend.status;
  const withdrawn = await sidecar.waitForLine(WITHDRAWN, TRANSITION_MS);
  assert.match(WITHDRAWN.exec(withdrawn)?.[1] ?? "", /refused/i);
  assert.match(withdrawn, new RegExp(`peer=127\\.0\\.0\\.1:${backend.port}`));
  assert.equal(await resolvePool("EchoPool", registrar.port), undefined);
  await registrar.process.waitForLine(
    /PE "?0x[0-9a-f]{8}"? left pool "?EchoPool"? \("?deregistration"?\)/,
  );
  assert.equal(count(sidecar, /Cannot reach registrar/), 1);
});

Deno.test("peCommand withdraws a SIGSTOPped backend by its send/expect check and registers it again on SIGCONT", async () => {
  await using registrar = await startRegistrar();
  await using backend = await startEchoProcess();
  await using sidecar = startSidecar("StopPool", registrar.port, [
    ...["--backend", `127.0.0.1:${backend.port}`],
    ...["--check-send", "PING\\r\\n", "--check-expect", "PING\\r\\n"],
  ]);
  const peId = REGISTERED.exec(await sidecar.waitForLine(REGISTERED, START_MS))?.[1];

  backend.kill("SIGSTOP");
  try {
    // The stopped process still completes TCP handshakes: only the missing echo gives it away.
    const withdrawn = await sidecar.waitForLine(WITHDRAWN, TRANSITION_MS);
    assert.match(WITHDRAWN.exec(withdrawn)?.[1] ?? "", /timed out after 200 ms/);
    assert.equal(await resolvePool("StopPool", registrar.port), undefined);
  } finally {
    backend.kill("SIGCONT");
  }
  const again = await sidecar.waitForLine(REGISTERED_AGAIN, TRANSITION_MS);
  assert.equal(REGISTERED_AGAIN.exec(again)?.[1], peId, "the same PE identifier comes back");
  const answer = await resolvePool("StopPool", registrar.port);
  assert.deepEqual(answer?.poolElements.map((pe: { identifier: string }) => pe.identifier), [peId]);
});

Deno.test("peCommand keeps a refused backend out of the pool until something listens", async () => {
  await using registrar = await startRegistrar();
  const port = closedPort();
  await using sidecar = startSidecar("LatePool", registrar.port, [
    "--backend",
    `127.0.0.1:${port}`,
  ]);
  const out = await sidecar.waitForLine(STAYS_OUT, START_MS);
  assert.match(STAYS_OUT.exec(out)?.[1] ?? "", /refused/i);
  assert.equal(await resolvePool("LatePool", registrar.port), undefined);
  assert.equal(count(sidecar, REGISTERED), 0);

  // Connect checks need no answer: accepting (and closing) each connection is enough.
  using listener = Deno.listen({ hostname: "127.0.0.1", port });
  const accepting = (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  try {
    await sidecar.waitForLine(REGISTERED, TRANSITION_MS);
    const answer = await resolvePool("LatePool", registrar.port);
    assert.equal(answer?.poolElements[0].userTransport.port, port);
  } finally {
    listener.close();
    await accepting;
  }
});

/** An in-process echo server whose reply delay can be changed while it runs. */
function startAdjustableEcho() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { delayMs: 0 };
  const handlers = new Set<Promise<void>>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const echo = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(1024);
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        if (state.delayMs > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              timers.delete(timer);
              resolve();
            }, state.delayMs);
            timers.add(timer);
          });
        }
        await conn.write(buffer.subarray(0, n));
      }
    } catch {
      // The checker gave up and closed: that ends this connection only.
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const handler = echo(conn).finally(() => handlers.delete(handler));
        handlers.add(handler);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  return {
    port: listener.addr.port,
    state,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.all(handlers);
    },
  };
}

Deno.test("peCommand withdraws a backend slower than the check timeout and never registers one", async () => {
  await using registrar = await startRegistrar();
  await using slow = await startEchoProcess({ delayMs: 500 });
  await using adjustable = startAdjustableEcho();
  const check = ["--check-send", "ok\\n", "--check-expect", "ok\\n", "--check-timeout", "200ms"];
  await using alwaysSlow = startSidecar("SlowPool", registrar.port, [
    ...["--backend", `127.0.0.1:${slow.port}`, ...check],
  ]);
  await using turnsSlow = startSidecar("TurnsSlowPool", registrar.port, [
    ...["--backend", `127.0.0.1:${adjustable.port}`, ...check],
  ]);

  const out = await alwaysSlow.waitForLine(STAYS_OUT, START_MS);
  assert.match(
    STAYS_OUT.exec(out)?.[1] ?? "",
    /timed out after 200 ms while waiting for the reply/,
  );
  assert.equal(await resolvePool("SlowPool", registrar.port), undefined);

  await turnsSlow.waitForLine(REGISTERED, START_MS);
  adjustable.state.delayMs = 500;
  const withdrawn = await turnsSlow.waitForLine(WITHDRAWN, TRANSITION_MS);
  assert.match(WITHDRAWN.exec(withdrawn)?.[1] ?? "", /timed out after 200 ms while waiting/);
  assert.equal(await resolvePool("TurnsSlowPool", registrar.port), undefined);
  assert.equal(count(alwaysSlow, REGISTERED), 0);
});

Deno.test("peCommand SIGKILLed: the registrar drops the PE as its connection closes", async () => {
  await using registrar = await startRegistrar();
  await using backend = await startEchoProcess();
  await using sidecar = startSidecar("KillPool", registrar.port, [
    ...["--backend", `127.0.0.1:${backend.port}`],
  ]);
  await sidecar.waitForLine(REGISTERED, START_MS);
  sidecar.child.kill("SIGKILL");
  await sidecar.waitForExit(TRANSITION_MS);
  // Not the keep-alive timeout: the closed connection itself takes the PE away.
  await registrar.process.waitForLine(/Connection from .* closed: its 1 PEs leave/, TRANSITION_MS);
  assert.equal(count(registrar.process, /Keep-Alive/), 0);
  assert.equal(await resolvePool("KillPool", registrar.port), undefined);
});

Deno.test("peCommand on SIGTERM deregisters the PE and exits 0", async () => {
  await using registrar = await startRegistrar();
  await using backend = await startEchoProcess();
  await using sidecar = startSidecar("TermPool", registrar.port, [
    ...["--backend", `127.0.0.1:${backend.port}`],
  ]);
  const peId = REGISTERED.exec(await sidecar.waitForLine(REGISTERED, START_MS))?.[1];
  sidecar.child.kill("SIGTERM");
  const status = await sidecar.waitForExit(TRANSITION_MS);
  assert.equal(status.code, 0, sidecar.stderrLines.join("\n"));
  assert.equal(count(sidecar, new RegExp(`PE "?${peId}"? deregistered from pool "?TermPool`)), 1);
  await registrar.process.waitForLine(
    new RegExp(`PE "?${peId}"? left pool "?TermPool"? \\("?deregistration"?\\)`),
    TRANSITION_MS,
  );
  assert.equal(await resolvePool("TermPool", registrar.port), undefined);
});

Deno.test("peCommand keeps hunting while no registrar answers and registers once one does", async () => {
  await using backend = await startEchoProcess();
  const port = closedPort();
  await using sidecar = startSidecar("HuntPool", port, [
    ...[
      "--backend",
      `127.0.0.1:${backend.port}`,
      "--server-hunt",
      "100ms",
      "--retran-max",
      "200ms",
    ],
  ]);
  await sidecar.waitForLine(
    new RegExp(`Cannot reach registrar "?127\\.0\\.0\\.1:${port}"? .*keeps hunting`),
    START_MS,
  );
  await using registrar = await startRegistrar(`127.0.0.1:${port}`);
  await sidecar.waitForLine(REGISTERED, TRANSITION_MS);
  assert.equal(count(sidecar, /Cannot reach registrar/), 1, "reported once per outage");
  assert.equal((await resolvePool("HuntPool", registrar.port))?.poolElements.length, 1);
});

Deno.test("peCommand registers --advertise's address, and a refused PE stays out of the pool", async () => {
  await using registrar = await startRegistrar();
  await using backend = await startEchoProcess();
  await using advertised = startSidecar("MixedPool", registrar.port, [
    ...["--backend", `127.0.0.1:${backend.port}`, "--advertise", "192.0.2.7", "--policy", "rr"],
  ]);
  const peId = REGISTERED.exec(await advertised.waitForLine(REGISTERED, START_MS))?.[1];
  // RFC 5352 §3.1: another policy type than the pool's is refused (0x5 Inconsistent Pooling
  // Policy); the sidecar does not try again with the same contents.
  await using refused = startSidecar("MixedPool", registrar.port, [
    ...["--backend", `127.0.0.1:${backend.port}`, "--policy", "prio:priority=3"],
  ]);
  assert.match(await refused.waitForLine(/refused PE/, START_MS), /stays out/);
  const answer = await resolvePool("MixedPool", registrar.port);
  assert.deepEqual(answer?.poolElements.map((pe: { identifier: string }) => pe.identifier), [peId]);
  assert.deepEqual(answer.poolElements[0].userTransport.addresses, ["192.0.2.7"]);
  assert.equal(count(refused, REGISTERED), 0);
});
