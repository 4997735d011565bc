/**
 * The smallest TCP forwarder Deno allows: round robin over backends, two pumps per connection
 * with `conn.read(buffer)` / `conn.write()` on reused buffers (kept in a free list across
 * connections, so that no connection pays for zeroing fresh ones), half-close passed on with
 * `closeWrite()`, no timers, no failover, no logging. It is the runtime's own limit that
 * Poolgate's session proxy is measured against (bench/proxy_bench.md).
 *
 * Usage: `deno run --allow-net bench/deno_forwarder.ts LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]`
 *
 * @module
 */

/** Bytes per read buffer; each connection holds two. */
export const FORWARDER_BUFFER_SIZE = 64 * 1024;
/** Idle buffers kept for the next connections. */
export const FORWARDER_SPARE_BUFFERS = 256;

const spare: Uint8Array[] = [];

async function pump(from: Deno.TcpConn, to: Deno.TcpConn, buffer: Uint8Array): Promise<void> {
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      let written = 0;
      while (written < n) written += await to.write(buffer.subarray(written, n));
    }
    await to.closeWrite();
  } catch {
    // Either side gone: the finally of forward() closes both.
  }
}

async function forward(client: Deno.TcpConn, port: number): Promise<void> {
  let backend: Deno.TcpConn | undefined;
  try {
    backend = await Deno.connect({ hostname: "127.0.0.1", port });
    client.setNoDelay(true);
    backend.setNoDelay(true);
    const up = spare.pop() ?? new Uint8Array(FORWARDER_BUFFER_SIZE);
    const down = spare.pop() ?? new Uint8Array(FORWARDER_BUFFER_SIZE);
    await Promise.all([pump(client, backend, up), pump(backend, client, down)]);
    if (spare.length < FORWARDER_SPARE_BUFFERS) spare.push(up, down);
  } catch {
    // Backend refused: the client is closed below.
  } finally {
    client.close();
    backend?.close();
  }
}

if (import.meta.main) {
  const [listenPort, backendPorts] = Deno.args;
  if (listenPort === undefined || backendPorts === undefined) {
    console.error("usage: deno_forwarder.ts LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]");
    Deno.exit(2);
  }
  const ports = backendPorts.split(",").map(Number);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(listenPort) });
  let next = 0;
  for await (const client of listener) {
    const port = ports[next % ports.length] ?? ports[0] ?? 0;
    next += 1;
    forward(client, port);
  }
}
