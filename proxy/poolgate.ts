/**
 * One Poolgate instance: the embedded registrar, the static members it owns and checks, and
 * the session proxy selecting from its handlespace. `main.ts serve` builds one from flags;
 * tests build one in-process.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { type Registrar, type RegistrarOptions, startRegistrar } from "../lib/registrar/mod.ts";
import type { HealthCheckConnect } from "../lib/health/mod.ts";
import type { FrontListenerSpec } from "./front_listener.ts";
import { type ListenerOptions, type SessionProxy, startProxy } from "./proxy.ts";
import { RegistrarMemberSource } from "./registrar_member_source.ts";
import type { PoolSettings } from "./settings.ts";
import { StaticMembers, type StaticMemberSpec } from "./static_members.ts";

/** Options of {@linkcode startPoolgate}. */
export interface PoolgateOptions {
  /** The embedded registrar (ASAP address, timers, bounds). */
  readonly registrar?: RegistrarOptions;
  /** Front listeners: `tcp` ones bound to one pool, `tls` and `http` ones naming it by host. */
  readonly listeners?: readonly (FrontListenerSpec | ListenerOptions)[];
  /** Per-pool proxy settings. */
  readonly pools?: Readonly<Record<string, PoolSettings>>;
  /** Static members added at start-up. */
  readonly members?: readonly StaticMemberSpec[];
  /** Most sessions at once (proxy default when absent). */
  readonly maxSessions?: number;
  /** How long sessions may go on after a shutdown begins (proxy default when absent). */
  readonly drainMs?: number;
  /** Longest wait for a ClientHello or request head (proxy default when absent). */
  readonly frontTimeoutMs?: number;
  /** Most bytes of a ClientHello or request head (proxy default when absent). */
  readonly maxFrontBytes?: number;
  /** @default {getLogger(["poolgate"])} */
  readonly logger?: Logger;
  /** Opens health-check connections (tests). */
  readonly healthCheckConnect?: HealthCheckConnect;
}

/** A running Poolgate instance. */
export interface Poolgate extends AsyncDisposable {
  readonly registrar: Registrar;
  readonly proxy: SessionProxy;
  readonly members: StaticMembers;
  /** Resolves when every component has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, drains sessions, withdraws static members, stops the registrar. */
  shutdown(): Promise<void>;
}

/**
 * Starts the registrar, the static members and the proxy, in that order, binding every socket
 * synchronously; on a failure the parts already started are stopped again.
 *
 * @throws {RangeError} for a bad option or a static member the registrar refuses;
 *   `Deno.errors.AddrInUse` and the like when a socket cannot bind.
 */
export function startPoolgate(options: PoolgateOptions = {}): Poolgate {
  const logger = options.logger ?? getLogger(["poolgate"]);
  const registrar = startRegistrar({
    ...options.registrar,
    logger: options.registrar?.logger ?? logger.getChild("registrar"),
  });
  const members = new StaticMembers({
    registrar,
    logger: logger.getChild("members"),
    ...(options.healthCheckConnect ? { connect: options.healthCheckConnect } : {}),
  });
  let proxy: SessionProxy;
  try {
    for (const spec of options.members ?? []) {
      const added = members.add(spec);
      if (!added.ok) {
        throw new RangeError(
          `Cannot add member ${spec.hostname}:${spec.port} to pool '${spec.pool}': the registrar refused it with cause ${added.cause}`,
        );
      }
    }
    // The pools of static members are known to the proxy while every member is down, so that a
    // tls or http client asking for one is told "no pool element" rather than "no such pool".
    const memberPools = Object.fromEntries((options.members ?? []).map(({ pool }) => [pool, {}]));
    proxy = startProxy({
      listeners: options.listeners ?? [],
      memberSource: new RegistrarMemberSource(registrar),
      pools: { ...memberPools, ...options.pools },
      ...(options.maxSessions === undefined ? {} : { maxSessions: options.maxSessions }),
      ...(options.drainMs === undefined ? {} : { drainMs: options.drainMs }),
      ...(options.frontTimeoutMs === undefined ? {} : { frontTimeoutMs: options.frontTimeoutMs }),
      ...(options.maxFrontBytes === undefined ? {} : { maxFrontBytes: options.maxFrontBytes }),
      logger: logger.getChild("proxy"),
    });
  } catch (error) {
    void members.close().then(() => registrar.shutdown());
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      await proxy.shutdown();
      await members.close();
      await registrar.shutdown();
    })();
    return stopping;
  };
  // A component that stops by itself (its signal, a fatal error) takes the others with it.
  const finished = Promise.race([proxy.finished, registrar.finished]).then(shutdown);
  return {
    registrar,
    proxy,
    members,
    finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
