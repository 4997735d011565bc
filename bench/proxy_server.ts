/**
 * The session proxy as the proxy benchmarks start it (bench/start-poolgate.sh), until
 * `main.ts serve` takes listeners and members: one listener on 127.0.0.1 for pool "bench",
 * round robin over static DATA ONLY members on 127.0.0.1, `failover=migrate`.
 *
 * Usage: `deno run --allow-net --allow-env bench/proxy_server.ts LISTEN_PORT BACKEND_PORT[,...]`
 *
 * Environment:
 * - `POOLGATE_LOG_LEVEL`: `warning` (default: no access log line per session, as the HAProxy and
 *   nginx anchors write none) or `info` (one access line per session);
 * - `POOLGATE_FAILOVER`: `migrate` (default) or `sever`;
 * - `POOLGATE_FIN_PROBE`: `unless-done` (default), `if-unanswered` or `off`;
 * - `POOLGATE_CHECK`: `none` (default) or `echo`: a `PING\n`/`PING` health check per member
 *   every 100 ms (lib/health defaults, as `haproxy-echocheck`), a member that fails it is
 *   removed from the pool (its sessions fail over) and added back once it passes: what the
 *   registrar's keep-alive does for registered pool elements.
 *
 * @module
 */
import { LOG_LEVELS, setUpLogging } from "../cli/logging.ts";
import { startHealthCheck } from "../lib/health/mod.ts";
import type { PoolMemberAddress } from "../proxy/member_source.ts";
import { startProxy } from "../proxy/proxy.ts";
import { StaticMemberSource } from "../proxy/static_member_source.ts";

const POOL = "bench";

/** The environment variable `name`, one of `allowed`; the first is the default. */
function envChoice<T extends string>(name: string, allowed: readonly T[]): T {
  const value = Deno.env.get(name) ?? allowed[0];
  const choice = allowed.find((candidate) => candidate === value);
  if (choice === undefined) {
    console.error(`${name} must be one of ${allowed.join(", ")}: current value is ${value}`);
    Deno.exit(2);
  }
  return choice;
}

/** Removes `member` from the pool while its echo health check fails, adds it back after. */
function checkMember(source: StaticMemberSource, member: PoolMemberAddress, signal: AbortSignal) {
  const check = startHealthCheck({
    hostname: member.hostname,
    port: member.port,
    send: new TextEncoder().encode("PING\n"),
    expect: new TextEncoder().encode("PING"),
    signal,
  });
  check.addEventListener("down", () => source.remove(POOL, member.peId, "health check failed"));
  check.addEventListener("up", () => source.add(POOL, member));
}

if (import.meta.main) {
  const [listenPort, backendPorts] = Deno.args;
  if (listenPort === undefined || backendPorts === undefined) {
    console.error("usage: proxy_server.ts LISTEN_PORT BACKEND_PORT[,BACKEND_PORT...]");
    Deno.exit(2);
  }
  const level = envChoice("POOLGATE_LOG_LEVEL", ["warning", ...LOG_LEVELS]);
  const failover = envChoice("POOLGATE_FAILOVER", ["migrate", "sever"]);
  const finProbe = envChoice("POOLGATE_FIN_PROBE", ["unless-done", "if-unanswered", "off"]);
  const check = envChoice("POOLGATE_CHECK", ["none", "echo"]);
  await setUpLogging({ level, format: "json" });
  const members = backendPorts.split(",").map((port, i): PoolMemberAddress => ({
    peId: i + 1,
    hostname: "127.0.0.1",
    port: Number(port),
    transportUse: 0,
  }));
  const source = new StaticMemberSource({ [POOL]: members });
  const controller = new AbortController();
  if (check === "echo") {
    for (const member of members) checkMember(source, member, controller.signal);
  }
  Deno.addSignalListener("SIGTERM", () => controller.abort());
  const proxy = startProxy({
    listeners: [{ hostname: "127.0.0.1", port: Number(listenPort), pool: POOL }],
    memberSource: source,
    pools: { [POOL]: { failover, finProbe } },
    signal: controller.signal,
    drainMs: 1_000,
  });
  await proxy.finished;
  Deno.exit(0);
}
