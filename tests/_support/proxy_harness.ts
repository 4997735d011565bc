/**
 * Helpers for session proxy tests: typed waits on proxy events with a deadline, reading a
 * connection to a byte count or to its end with a deadline, in-process TCP servers that tests
 * script (echo, capture, close), and deterministic payloads.
 *
 * @module
 */
import type { PoolMemberAddress } from "../../proxy/member_source.ts";
import type { ProxyEventDetails } from "../../proxy/proxy_events.ts";
import { type ProxyOptions, type SessionProxy, startProxy } from "../../proxy/proxy.ts";
import { StaticMemberSource } from "../../proxy/static_member_source.ts";
import { withDeadline } from "./deadline.ts";

/** The pool handle of the test proxies. */
export const TEST_POOL = "echo";

/** A pool element on 127.0.0.1 (DATA ONLY unless told). */
export function testMember(peId: number, port: number, transportUse: 0 | 1 = 0): PoolMemberAddress {
  return { peId, hostname: "127.0.0.1", port, transportUse };
}

/** A static source that records its `reportUnreachable()` calls. */
export class RecordingSource extends StaticMemberSource {
  /** PE ids reported, in order. */
  readonly reports: number[] = [];
  /** Records, then quarantines as usual. */
  override reportUnreachable(poolHandle: string, peId: number): void {
    this.reports.push(peId);
    super.reportUnreachable(poolHandle, peId);
  }
}

/** A proxy on 127.0.0.1 port 0 for {@linkcode TEST_POOL} (migrate, no drain), `options` on top. */
export function startTestProxy(
  source: StaticMemberSource,
  options: Partial<ProxyOptions> = {},
): SessionProxy {
  return startProxy({
    listeners: [{ hostname: "127.0.0.1", port: 0, pool: TEST_POOL }],
    memberSource: source,
    pools: { [TEST_POOL]: { failover: "migrate" } },
    drainMs: 0,
    ...options,
  });
}

/** Connects a client to the proxy's first listener. */
export function connectTo(proxy: SessionProxy): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: proxy.addr.port });
}

/**
 * Resolves with the detail of the next `type` event that passes `filter`, or rejects after
 * `ms`. Call it before the action that causes the event.
 */
export function waitForProxyEvent<K extends keyof ProxyEventDetails>(
  proxy: SessionProxy,
  type: K,
  ms: number,
  filter: (detail: ProxyEventDetails[K]) => boolean = () => true,
): Promise<ProxyEventDetails[K]> {
  let listener: ((event: CustomEvent<ProxyEventDetails[K]>) => void) | undefined;
  const seen = new Promise<ProxyEventDetails[K]>((resolve) => {
    listener = (event) => {
      if (filter(event.detail)) resolve(event.detail);
    };
    proxy.addEventListener(type, listener);
  });
  return withDeadline(seen, ms, `a "${type}" event`).finally(() => {
    if (listener !== undefined) proxy.removeEventListener(type, listener);
  });
}

/** Collects the next `count` events of `type` (each passing `filter`), or rejects after `ms`. */
export function collectProxyEvents<K extends keyof ProxyEventDetails>(
  proxy: SessionProxy,
  type: K,
  count: number,
  ms: number,
  filter: (detail: ProxyEventDetails[K]) => boolean = () => true,
): Promise<ProxyEventDetails[K][]> {
  const details: ProxyEventDetails[K][] = [];
  let listener: ((event: CustomEvent<ProxyEventDetails[K]>) => void) | undefined;
  const all = new Promise<ProxyEventDetails[K][]>((resolve) => {
    listener = (event) => {
      if (!filter(event.detail)) return;
      details.push(event.detail);
      if (details.length === count) resolve(details);
    };
    proxy.addEventListener(type, listener);
  });
  return withDeadline(all, ms, `${count} "${type}" events (saw ${details.length})`).finally(() => {
    if (listener !== undefined) proxy.removeEventListener(type, listener);
  });
}

/** Reads exactly `count` bytes, rejecting at end of stream or after `ms`. */
export function readExactly(conn: Deno.Conn, count: number, ms: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(count);
  const read = async () => {
    let have = 0;
    while (have < count) {
      const n = await conn.read(bytes.subarray(have));
      if (n === null) throw new Error(`Stream ended after ${have} of ${count} bytes`);
      have += n;
    }
    return bytes;
  };
  return withDeadline(read(), ms, `${count} bytes`);
}

/** Reads until end of stream, rejecting after `ms`; a reset also ends it (`reset: true`). */
export function readToEnd(
  conn: Deno.Conn,
  ms: number,
): Promise<{ bytes: Uint8Array; reset: boolean }> {
  const read = async () => {
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    let reset = false;
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        chunks.push(buffer.slice(0, n));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
      reset = true;
    }
    return { bytes: concat(chunks), reset };
  };
  return withDeadline(read(), ms, "the end of the stream");
}

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Joins byte arrays. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** `count` bytes of a fixed pseudo-random sequence (xorshift32 from `seed`). */
export function patternBytes(count: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** A port on 127.0.0.1 that refuses connections (bound, then closed again). */
export function refusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** An in-process TCP server on 127.0.0.1 that runs `handle` for every connection. */
export interface TestServer extends AsyncDisposable {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops accepting: later connects are refused. Open connections stay. */
  closeListener(): void;
  /** Closes the listener and every open connection, and waits for the handlers. */
  close(): Promise<void>;
}

/** Starts a server whose connections are served by `handle` (closed after it returns). */
export function startTestServer(handle: (conn: Deno.TcpConn) => Promise<void>): TestServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.TcpConn>();
  const handlers = new Set<Promise<void>>();
  let accepted = 0;
  let listening = true;
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        accepted += 1;
        open.add(conn);
        const done = handle(conn).catch(() => {}).finally(() => {
          open.delete(conn);
          handlers.delete(done);
          try {
            conn.close();
          } catch {
            // Closed by the handler.
          }
        });
        handlers.add(done);
      }
    } catch {
      // Listener closed.
    }
  })();
  const closeListener = () => {
    if (!listening) return;
    listening = false;
    listener.close();
  };
  const close = async () => {
    closeListener();
    await loop;
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // Closed meanwhile.
      }
    }
    await Promise.all([...handlers]);
  };
  return {
    port: listener.addr.port,
    get accepted() {
      return accepted;
    },
    closeListener,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Echoes every byte; at end of stream it half-closes after echoing all. */
export async function echoHandler(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
    await writeAll(conn, buffer.subarray(0, n));
  }
  await conn.closeWrite();
}
