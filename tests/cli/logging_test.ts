import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { setUpLogging, tearDownLogging } from "../../cli/logging.ts";

Deno.test("setUpLogging() writes JSON lines with a prose message and typed properties", async () => {
  const lines: string[] = [];
  await setUpLogging({ level: "info", format: "json", write: (line) => lines.push(line) });
  try {
    const logger = getLogger(["poolgate", "test"]).with({ peer: "[::1]:4000" });
    logger.warn("Session {id} of pool {pool} failed: {error}", {
      id: 7,
      pool: "echo",
      error: new Deno.errors.ConnectionReset("reset by peer"),
    });
    logger.debug("not shown below the level");
  } finally {
    await tearDownLogging();
  }
  assert.equal(lines.length, 1, lines.join(""));
  const record = JSON.parse(lines[0] ?? "");
  assert.equal(record.level, "WARN");
  assert.equal(record.logger, "poolgate.test");
  assert.equal(record.message, "Session 7 of pool echo failed: ConnectionReset: reset by peer");
  assert.deepEqual(record.properties, {
    peer: "[::1]:4000",
    id: 7,
    pool: "echo",
    error: { name: "ConnectionReset", message: "reset by peer" },
  });
});

Deno.test("setUpLogging() text lines show strings bare and append the properties not in the message", async () => {
  const lines: string[] = [];
  await setUpLogging({ level: "info", format: "text", write: (line) => lines.push(line) });
  try {
    getLogger(["poolgate", "test"]).with({ peer: "127.0.0.1:9" }).info("Pool {pool} up", {
      pool: "echo",
    });
  } finally {
    await tearDownLogging();
  }
  assert.match(lines[0] ?? "", /\[INF\] poolgate·test: Pool echo up peer=127\.0\.0\.1:9\n$/);
});
