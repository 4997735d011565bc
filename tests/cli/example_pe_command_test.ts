/**
 * `main.ts example-pe` refuses bad flags in one line with exit 2, and logs the real port it
 * serves on and its registration (the failover scenarios are tests/proxy/control_channel_test.ts).
 */
import assert from "node:assert/strict";
import { assertUsageErrors, spawnPoolgate } from "../_support/poolgate_process.ts";

const START_MS = 20_000;

Deno.test("examplePeCommand rejects bad flags in one line with exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["example-pe", "chat", "--pool", "echo"], /^Unknown service "chat"; use echo or sum/],
    [["example-pe", "echo"], /^Missing --pool HANDLE/],
    [["example-pe"], /^Missing argument; usage: main\.ts example-pe/],
    [["example-pe", "echo", "--pool", "echo", "--port", "70000"], /^Invalid value for --port/],
    [
      ["example-pe", "sum", "--pool", "s", "--cookie-every", "0"],
      /^Invalid value for --cookie-every/,
    ],
    [["example-pe", "echo", "--pool", "echo", "--pe-id", "0"], /^Invalid value for --pe-id/],
    [["example-pe", "echo", "--pool", "echo", "--prefer", "x"], /^Invalid value for --prefer/],
  ];
  await assertUsageErrors(cases, START_MS);
});

Deno.test("examplePeCommand logs the port it serves on and registers as DATA PLUS CONTROL", async () => {
  await using registrar = spawnPoolgate([
    "registrar",
    "--asap",
    "127.0.0.1:0",
    "--log-format",
    "text",
  ]);
  const listening = await registrar.waitForLine(/listening on "?(127\.0\.0\.1:\d+)/, START_MS);
  const asap = /listening on "?(127\.0\.0\.1:\d+)/.exec(listening)![1]!;
  await using pe = spawnPoolgate([
    ...["example-pe", "sum", "--pool", "sums", "--registrar", asap, "--pe-id", "0x2a"],
    ...["--log-format", "text"],
  ]);
  const serving = await pe.waitForLine(/Serving sum sessions on "?127\.0\.0\.1:(\d+)/, START_MS);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(serving)![1]);
  assert.ok(port > 0);
  await pe.waitForLine(/PE "?0x0000002a"? registered in pool "?sums"?/, START_MS);
  await using resolve = spawnPoolgate(["resolve", "sums", "--registrar", asap]);
  assert.equal((await resolve.waitForExit(START_MS)).code, 0);
  const answer = JSON.parse(resolve.stdoutLines.join("\n"));
  assert.deepEqual(
    answer.poolElements.map((element: { identifier: string }) => element.identifier),
    [
      "0x0000002a",
    ],
  );
  assert.deepEqual(answer.poolElements[0].userTransport, {
    protocol: "TCP",
    port,
    transportUse: "data plus control",
    addresses: ["127.0.0.1"],
  });
  pe.child.kill("SIGTERM");
  assert.equal((await pe.waitForExit(START_MS)).code, 0);
});
