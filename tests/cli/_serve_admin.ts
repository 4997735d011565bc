/**
 * Helpers of the `serve` admin API and config store tests: a `main.ts serve` process with its
 * admin API on a free loopback port and its store in a temporary data directory, requests to
 * that API, clients through its listeners, and the metrics as numbers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { withDeadline } from "../_support/deadline.ts";
import { type PoolgateProcess, spawnPoolgate } from "../_support/poolgate_process.ts";
import {
  listenerViewSchema,
  type MemberView,
  memberViewSchema,
  sessionListSchema,
} from "../../proxy/admin/admin_schemas.ts";
import { parsePrometheusText } from "../proxy/admin/_prometheus_text.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A temporary data directory, removed on dispose. */
export interface DataDir extends Disposable {
  readonly path: string;
  /** The config store file in it. */
  readonly file: string;
}

/** Makes a temporary data directory. */
export function makeDataDir(): DataDir {
  const path = Deno.makeTempDirSync({ prefix: "poolgate_serve_" });
  return {
    path,
    file: `${path}/poolgate.sqlite`,
    [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }),
  };
}

/** An answer of the admin API: status and parsed JSON body (undefined when empty). */
export interface AdminAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A running `serve` with its admin API's address. */
export interface ServeProcess extends AsyncDisposable {
  readonly proc: PoolgateProcess;
  /** `http://127.0.0.1:PORT`. */
  readonly admin: string;
  /** Sends a request to the admin API, with the bearer token when one was given. */
  request(method: string, path: string, body?: unknown, token?: string): Promise<AdminAnswer>;
  /** The metrics as `name{label="value",…}` → value. */
  metrics(): Promise<Map<string, number>>;
}

/** Options of {@linkcode startServe}. */
export interface StartServeOptions {
  /** The data directory; without one, `--no-store`. */
  readonly dataDir?: string;
  /** Sent with every request unless a request gives its own. */
  readonly token?: string;
  /** Added to the environment. */
  readonly env?: Record<string, string>;
}

/** Spawns `main.ts serve --asap 127.0.0.1:0 …args`. */
export function spawnServe(
  args: readonly string[],
  env?: Record<string, string>,
): PoolgateProcess {
  return spawnPoolgate(
    ["serve", "--asap", "127.0.0.1:0", ...args],
    env === undefined ? {} : { env },
  );
}

/** The port of a JSON log line's `property` (`"127.0.0.1:8000"` → 8000). */
function portOf(line: string, property: string): number {
  const value = String(JSON.parse(line).properties[property]);
  return Number(value.slice(value.lastIndexOf(":") + 1));
}

/**
 * Starts `main.ts serve --asap 127.0.0.1:0 --admin 127.0.0.1:0 --log-format json …args` and
 * resolves once it has announced itself (its signal handlers are set by then).
 */
export async function startServe(
  args: readonly string[],
  options: StartServeOptions = {},
): Promise<ServeProcess> {
  const store = options.dataDir === undefined ? ["--no-store"] : ["--data-dir", options.dataDir];
  const proc = spawnServe(
    ["--admin", "127.0.0.1:0", "--log-format", "json", ...store, ...args],
    options.env,
  );
  try {
    await proc.waitForLine(/serving ASAP on/, 20_000);
    const port = portOf(await proc.waitForLine(/Admin API listening on/, 1_000), "address");
    const admin = `http://127.0.0.1:${port}`;
    const request = async (method: string, path: string, body?: unknown, token = options.token) => {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await withDeadline(
        fetch(`${admin}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
        10_000,
        `${method} ${path}`,
      );
      const text = await response.text();
      return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
    };
    const metrics = async () => {
      const headers: Record<string, string> = {};
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      const response = await fetch(`${admin}/metrics`, { headers });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      const values = new Map<string, number>();
      for (const [name, family] of parsePrometheusText(text)) {
        for (const sample of family.samples) {
          const labels = Object.entries(sample.labels).map(([key, value]) => `${key}="${value}"`);
          values.set(labels.length === 0 ? name : `${name}{${labels.join(",")}}`, sample.value);
        }
      }
      return values;
    };
    return {
      proc,
      admin,
      request,
      metrics,
      [Symbol.asyncDispose]: () => proc[Symbol.asyncDispose](),
    };
  } catch (error) {
    await proc[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * Adds a static member on 127.0.0.1:`port` to `pool` through the API (round robin unless `extra`
 * says otherwise) and resolves with it; fails unless the answer is 201.
 */
export async function addMember(
  serve: ServeProcess,
  pool: string,
  peId: number,
  port: number,
  extra: Record<string, unknown> = {},
): Promise<MemberView> {
  const { status, body } = await serve.request("POST", `/v1/pools/${pool}/members`, {
    peId,
    hostname: "127.0.0.1",
    port,
    policy: { name: "rr" },
    ...extra,
  });
  assert.equal(status, 201, JSON.stringify(body));
  return memberViewSchema.parse(body);
}

/** The port the listener `id` is bound to, from the admin API. */
export async function listenerPort(serve: ServeProcess, id: string): Promise<number> {
  const { status, body } = await serve.request("GET", `/v1/listeners/${id}`);
  assert.equal(status, 200, JSON.stringify(body));
  const address = String(listenerViewSchema.parse(body).address);
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/** Writes `text` and reads until the same text has come back. */
export async function roundTrip(conn: Deno.Conn, text: string): Promise<void> {
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

/** The pool element the session of client `conn` is on, from the API. */
export async function sessionPeId(serve: ServeProcess, conn: Deno.TcpConn): Promise<number | null> {
  const { body } = await serve.request("GET", "/v1/sessions");
  const { sessions } = sessionListSchema.parse(body);
  const session = sessions.find((s) => s.client.endsWith(`:${conn.localAddr.port}`));
  assert.ok(session !== undefined, `no session of client port ${conn.localAddr.port}`);
  return session.peId;
}
