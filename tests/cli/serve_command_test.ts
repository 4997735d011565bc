import assert from "node:assert/strict";
import { registerPoolElement } from "../../lib/asap/mod.ts";
import { startEchoProcess } from "../_support/echo_process.ts";
import { nextEvent, withDeadline } from "../_support/deadline.ts";
import { type PoolgateProcess, spawnPoolgate } from "../_support/poolgate_process.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts `serve` with JSON logs and resolves with its proxy and ASAP ports. */
async function startServe(args: string[]) {
  const proc = spawnPoolgate([
    "serve",
    "--asap",
    "127.0.0.1:0",
    "--listen",
    "127.0.0.1:0=echo",
    "--log-format",
    "json",
    ...args,
  ]);
  const listening = JSON.parse(await proc.waitForLine(/Proxy listening on/, 20_000));
  const asap = JSON.parse(proc.stderrLines.find((l) => /serving ASAP on/.test(l)) ?? "{}");
  return {
    proc,
    port: Number(String(listening.properties.listen).split(":").at(-1)),
    asapPort: Number(String(asap.properties.asap).split(":").at(-1)),
  };
}

/** Writes `text` and reads until the same text has come back. */
async function roundTrip(conn: Deno.Conn, text: string): Promise<void> {
  await conn.write(encoder.encode(text));
  let echoed = "";
  const buffer = new Uint8Array(1024);
  while (echoed.length < text.length) {
    const n = await withDeadline(conn.read(buffer), 5_000, `the echo of ${JSON.stringify(text)}`);
    if (n === null) throw new Error(`connection closed after ${JSON.stringify(echoed)}`);
    echoed += decoder.decode(buffer.subarray(0, n));
  }
  assert.equal(echoed, text);
}

async function accessLog(proc: PoolgateProcess) {
  return JSON.parse(await proc.waitForLine(/"logger":"poolgate.access"/, 10_000)).properties;
}

Deno.test("main.ts serve keeps a session through a SIGKILL of its server under failover=migrate", async () => {
  await using first = await startEchoProcess();
  await using second = await startEchoProcess();
  const { proc, port, asapPort } = await startServe([
    "--member",
    `echo=127.0.0.1:${first.port}`,
    "--pool",
    "echo:failover=migrate",
  ]);
  await using _proc = proc;
  using client = await Deno.connect({ hostname: "127.0.0.1", port });
  await roundTrip(client, "one\n");

  // The second server joins over ASAP, as a server built with the PE library would.
  await using pe = registerPoolElement({
    registrars: [{ hostname: "127.0.0.1", port: asapPort }],
    poolHandle: "echo",
    transport: { port: second.port, address: "127.0.0.1" },
  });
  await nextEvent(pe, "registered", 10_000);

  first.kill("SIGKILL");
  // Bytes written while the dead server's socket still looks open may be lost in DATA ONLY
  // mode (docs/data_channel.md); "later bytes flow" is the promise, so wait for the detection.
  await proc.waitForLine(/Session 1 lost pool element/, 10_000);
  await roundTrip(client, "two\n");
  await roundTrip(client, "three\n");
  client.close();
  const log = await accessLog(proc);
  assert.equal(log.failovers, 1, JSON.stringify(log));
  assert.equal(log.pes.length, 2);
});

Deno.test("main.ts serve closes the client at once when its server dies under the default sever", async () => {
  await using server = await startEchoProcess();
  const { proc, port } = await startServe(["--member", `echo=127.0.0.1:${server.port}`]);
  await using _proc = proc;
  using client = await Deno.connect({ hostname: "127.0.0.1", port });
  await roundTrip(client, "one\n");
  server.kill("SIGKILL");
  const n = await withDeadline(client.read(new Uint8Array(16)), 5_000, "the client to be closed");
  assert.equal(n, null);
});

Deno.test("main.ts serve drains on SIGTERM: an open session keeps working, then the process exits 0", async () => {
  await using server = await startEchoProcess();
  const { proc, port } = await startServe([
    "--member",
    `echo=127.0.0.1:${server.port}`,
    "--drain-timeout",
    "20s",
  ]);
  await using _proc = proc;
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  await roundTrip(client, "before\n");
  proc.child.kill("SIGTERM");
  await proc.waitForLine(/shutting down gracefully/, 10_000);
  await roundTrip(client, "during the drain\n");
  await assert.rejects(
    () => Deno.connect({ hostname: "127.0.0.1", port }).then((c) => c.close()),
    "new connections are refused while draining",
  );
  client.close();
  const status = await proc.waitForExit(15_000);
  assert.equal(status.code, 0, proc.stderrLines.join("\n"));
});

// The admin API's taken address: serve_admin_test.ts.
Deno.test("main.ts serve stops with one line naming only the address taken and what it is for", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  // Every other address is free (port 0), so a line naming more than the taken one is wrong.
  const cases: [string[], string][] = [
    [["--asap", `127.0.0.1:${port}`, "--listen", "127.0.0.1:0=bench"], "ASAP"],
    [
      [
        "--asap",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0=web",
        "--listen",
        `127.0.0.1:${port}=bench`,
      ],
      "front listener for pool bench",
    ],
  ];
  const results = await Promise.all(cases.map(async ([args]) => {
    await using proc = spawnPoolgate(["serve", "--no-store", "--log-level", "error", ...args]);
    const status = await proc.waitForExit(20_000);
    return { code: status.code, stderr: proc.stderrLines.filter((line) => line !== "") };
  }));
  for (const [i, [args, role]] of cases.entries()) {
    const { code, stderr } = results[i]!;
    assert.equal(code, 1, `${args.join(" ")}: ${stderr.join("\n")}`);
    assert.equal(stderr.length, 1, `one line for ${args.join(" ")}: ${stderr.join("\n")}`);
    assert.match(
      stderr[0] ?? "",
      new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port} \\(${role}\\): Address already in use`),
    );
  }
});
