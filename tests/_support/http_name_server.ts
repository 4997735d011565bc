/**
 * An HTTP pool element for the front listener tests: a `Deno.serve` on 127.0.0.1 port 0 that
 * answers every request with its own name, the Host it was asked for and the port its client
 * (the proxy) connected from, so that a test sees which pool element answered and whether two
 * requests came over one connection.
 *
 * @module
 */

/** A running named HTTP server; disposing it shuts it down. */
export interface NamedHttpServer extends AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
}

/** Starts the server; each answer is the text line `${name} ${host} ${clientPort}`. */
export function startNamedHttpServer(name: string): NamedHttpServer {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) =>
      new Response(`${name} ${request.headers.get("host")} ${info.remoteAddr.port}\n`),
  );
  return {
    port: server.addr.port,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
