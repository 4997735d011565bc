/**
 * A tiny legacy TCP server for tests: it echoes every byte it receives, and knows nothing of
 * RSerPool. Other tests start it through `echo_process.ts`.
 *
 *     deno run --allow-net tests/_support/echo_server.ts [--hostname H] [--port N] [--delay-ms N]
 *
 * - `--hostname`: address to listen on (default 127.0.0.1).
 * - `--port`: port to listen on; 0 picks a free one (default 0).
 * - `--delay-ms`: wait this long before echoing each chunk read (default 0): a slow server.
 *
 * The first line on stdout is the port it listens on; then it serves until it is killed.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    hostname: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    "delay-ms": { type: "string", default: "0" },
  },
});
const delayMs = Number(values["delay-ms"]);
const listener = Deno.listen({ hostname: values.hostname, port: Number(values.port) });
console.log(listener.addr.port);

for await (const conn of listener) void echo(conn);

async function echo(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      for (let written = 0; written < count;) {
        written += await conn.write(buffer.subarray(written, count));
      }
    }
  } catch {
    // The client went away (reset, broken pipe): that ends only this connection.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}
