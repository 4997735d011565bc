/**
 * What the ENRP tests share: registrars with 100 ms-scale ENRP timers on 127.0.0.1, waiting
 * for a condition re-checked on events (never by sleeping), and handles as text.
 *
 * @module
 */
import {
  type EnrpEventDetails,
  type EnrpOptions,
  type Registrar,
  type RegistrarOptions,
  startRegistrar,
} from "../../../lib/registrar/mod.ts";
import { withDeadline } from "../../_support/deadline.ts";

/** ENRP timers for tests: a silent peer is dead within about half a second. */
export const FAST_ENRP = {
  heartbeatCycleMs: 100,
  maxTimeLastHeardMs: 300,
  maxTimeNoResponseMs: 150,
  takeoverExpiryMs: 300,
} as const satisfies EnrpOptions;

/**
 * ENRP timers for tests that must tell an answer from a heartbeat: no heartbeat but the first
 * (when the registrar starts) and no probe falls within a test.
 */
export const QUIET_ENRP = {
  heartbeatCycleMs: 60_000,
  maxTimeLastHeardMs: 120_000,
} as const satisfies EnrpOptions;

/**
 * How long a test with {@linkcode QUIET_ENRP} waits for a message that needs no timer: well above
 * what opening a connection for a greeting may take on a loaded machine (a dropped SYN is sent
 * again after 1 s; a connect attempt gives up after 2 s and is made again once), and far below
 * the 60 s heartbeat, so a message that arrives in time is no heartbeat.
 */
export const QUIET_WAIT_MS = 10_000;

/**
 * Resolves once the first heartbeat of a registrar started just before has run: its ENRP peering
 * sets that timer with delay 0 when it starts, and a timer set later with delay 0 fires after it.
 * A peer that arrives afterwards is a whole heartbeat cycle away from the next one.
 */
export function pastFirstHeartbeat(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A registrar with ENRP on 127.0.0.1 port 0, fast timers and a seeded random source. */
export function startPeer(
  serverId: number,
  enrp: EnrpOptions = {},
  options: RegistrarOptions = {},
): Registrar {
  let seed = serverId;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return startRegistrar({
    hostname: "127.0.0.1",
    port: 0,
    serverId,
    random,
    ...options,
    enrp: { hostname: "127.0.0.1", port: 0, ...FAST_ENRP, ...enrp },
  });
}

/** The ENRP address of `registrar`, as `peers` takes it. */
export function enrpAddress(registrar: Registrar): { hostname: string; port: number } {
  return { hostname: "127.0.0.1", port: registrar.enrp!.addr.port };
}

/** Resolves once `registrar` has done its first handlespace download (or serves alone). */
export function synchronized(registrar: Registrar, ms = 3000): Promise<void> {
  const enrp = registrar.enrp!;
  return until([enrp], ["synchronized"], () => enrp.synchronized, ms, "the first sync");
}

/**
 * Resolves once `check()` holds, testing it now and after every event of `types` on
 * `targets`; rejects after `ms` saying `what`.
 */
export function until(
  targets: readonly EventTarget[],
  types: readonly string[],
  check: () => boolean,
  ms: number,
  what: string,
): Promise<void> {
  if (check()) return Promise.resolve();
  const { promise, resolve } = Promise.withResolvers<void>();
  const listener = () => {
    if (check()) resolve();
  };
  for (const target of targets) for (const type of types) target.addEventListener(type, listener);
  return withDeadline(promise, ms, what).finally(() => {
    for (const target of targets) {
      for (const type of types) target.removeEventListener(type, listener);
    }
  });
}

/** The detail of the next `type` event of a registrar's ENRP peering; rejects after `ms`. */
export function nextEnrpEvent<K extends keyof EnrpEventDetails>(
  registrar: Registrar,
  type: K,
  ms = 3000,
  match: (detail: EnrpEventDetails[K]) => boolean = () => true,
): Promise<EnrpEventDetails[K]> {
  const enrp = registrar.enrp!;
  let listener: ((event: CustomEvent<EnrpEventDetails[K]>) => void) | undefined;
  const detail = new Promise<EnrpEventDetails[K]>((resolve) => {
    listener = (event) => {
      if (match(event.detail)) resolve(event.detail);
    };
    enrp.addEventListener(type, listener);
  });
  return withDeadline(detail, ms, `an ENRP "${type}" event`).finally(() => {
    if (listener !== undefined) enrp.removeEventListener(type, listener);
  });
}

/** The PE change events of a registrar (for `until`). */
export const CHANGES = ["pe-added", "pe-updated", "pe-removed"] as const;
