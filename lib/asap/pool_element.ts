/**
 * The pool element side of ASAP (RFC 5352 §3.1, §3.2, §3.4, §3.6) over TCP: register a pool
 * handle with a home registrar found by server hunt, renew before the registration life ends,
 * answer Endpoint Keep-Alives at once, publish policy changes by re-registering, move to another
 * registrar with the same PE identifier when the home fails, and deregister on close.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type {
  AsapDeregistrationResponse,
  AsapMessage,
  AsapRegistration,
  AsapRegistrationResponse,
} from "../wire/asap_messages.ts";
import { encodeAsapMessage } from "../wire/asap_codec.ts";
import {
  AsapMessageType,
  ParameterType,
  PolicyType,
  REGISTRATION_LIFE_INFINITE,
  TransportUse,
} from "../wire/codes.ts";
import type { PoolElementParameter, SctpOrTcpTransport } from "../wire/parameters.ts";
import type { SelectionPolicy } from "../wire/selection_policy.ts";
import { parseIpAddress } from "../wire/ip_address.ts";
import { delay } from "../transport/delay.ts";
import { requirePositiveInteger } from "../transport/message_limits.ts";
import { TypedEventTarget } from "../typed_event_target.ts";
import { AsapRequestError } from "./asap_request_error.ts";
import { HomeRegistrar, raceSignal, type RegistrarLink } from "./_home_registrar.ts";
import { sameBytes, toPoolHandle } from "./_pool_handle.ts";
import {
  type RegistrarAddress,
  resolveServerHuntSettings,
  type ServerHuntOptions,
} from "./server_hunt.ts";

/** Registration Life sent unless told otherwise, in milliseconds (RSPLIB's and rspsim's). */
export const DEFAULT_REGISTRATION_LIFE_MS = 300_000;
/** T4-reregistration's ceiling (RFC 5352 §7.1: 10 minutes). */
export const MAX_REREGISTRATION_INTERVAL_MS = 600_000;
/** T4-reregistration renews this long before the registration life ends (RFC 5352 §7.1). */
export const REREGISTRATION_MARGIN_MS = 20_000;
/** T2-registration (RFC 5352 §7.1): milliseconds to wait for a Registration Response. */
export const DEFAULT_REGISTRATION_TIMEOUT_MS = 30_000;
/** T3-deregistration (RFC 5352 §7.1): milliseconds `close()` waits for the answer. */
export const DEFAULT_DEREGISTRATION_TIMEOUT_MS = 30_000;
/** MAX-REG-ATTEMPT (RFC 5352 §7.3): failed registrations in a row before an "error" event. */
export const DEFAULT_MAX_REGISTRATION_ATTEMPTS = 2;
/** The policy registered unless told otherwise: Round Robin, which every component supports. */
export const DEFAULT_POLICY: SelectionPolicy = { type: PolicyType.roundRobin };

/** The user transport a pool element registers: where pool users (the proxy) reach it. */
export interface PoolElementTransport {
  /** TCP port the pool element serves on (1–65535). */
  readonly port: number;
  /**
   * IP address the pool element serves on: a TCP Transport parameter carries exactly one
   * (RFC 5354 §3.5). Defaults to the local address of the first connection to a registrar, kept
   * for the life of the registration, since RFC 5352 §2.2.1 wants the registered address among
   * those of the ASAP association.
   */
  readonly address?: string;
  /**
   * {@linkcode TransportUse.dataOnly} for a plain TCP server, or
   * {@linkcode TransportUse.dataPlusControl} for a server that speaks Poolgate's data channel.
   * @default {TransportUse.dataOnly}
   */
  readonly transportUse?: TransportUse;
}

/** Options of {@linkcode registerPoolElement}. */
export interface PoolElementOptions extends ServerHuntOptions {
  /** Registrars to hunt among for a home, in order of preference. */
  readonly registrars: readonly RegistrarAddress[];
  /** The pool to join: text (sent as UTF-8) or bytes. */
  readonly poolHandle: string | Uint8Array;
  /** Where the pool element serves its users. */
  readonly transport: PoolElementTransport;
  /** Member selection policy and its value (weight, load, priority…). @default {DEFAULT_POLICY} */
  readonly policy?: SelectionPolicy;
  /**
   * Registration Life in milliseconds (the unit on the wire, DECISIONS.md), or
   * {@linkcode REGISTRATION_LIFE_INFINITE}. @default {DEFAULT_REGISTRATION_LIFE_MS}
   */
  readonly registrationLifeMs?: number;
  /**
   * T4-reregistration in milliseconds: how long after a registration is accepted it is renewed.
   * Must be below a finite registration life.
   * @default {reregistrationInterval(registrationLifeMs)}
   */
  readonly reregistrationIntervalMs?: number;
  /** T2-registration in milliseconds. @default {DEFAULT_REGISTRATION_TIMEOUT_MS} */
  readonly registrationTimeoutMs?: number;
  /** T3-deregistration in milliseconds. @default {DEFAULT_DEREGISTRATION_TIMEOUT_MS} */
  readonly deregistrationTimeoutMs?: number;
  /**
   * MAX-REG-ATTEMPT: registrations that fail in a row (no answer) before an "error" event.
   * @default {DEFAULT_MAX_REGISTRATION_ATTEMPTS}
   */
  readonly maxRegistrationAttempts?: number;
  /** The PE identifier (1–0xffffffff); by default drawn at random, never 0. */
  readonly poolElementId?: number;
  /**
   * Random numbers in [0, 1) to draw the PE identifier from.
   * @default {a crypto.getRandomValues source}
   */
  readonly random?: () => number;
  /** Closes the registration, as {@linkcode PoolElementRegistration.close} does, when it aborts. */
  readonly signal?: AbortSignal;
}

/** The events of a {@linkcode PoolElementRegistration} and what each carries. */
export interface PoolElementEventDetails {
  /**
   * The first registration was accepted. `homeRegistrarId` is the registrar's Server Identifier
   * when a Keep-Alive has told it already, else 0 (a Registration Response does not carry it).
   */
  registered: { registrar: string; homeRegistrarId: number; poolElementId: number };
  /** The connection to the registrar holding the registration went away; a hunt follows. */
  "home-lost": { registrar: string; reason: string };
  /**
   * The pool element has a new home: a registrar accepted its re-registration after the old
   * home was lost ("re-registration"), or a Keep-Alive with the H bit named a new home
   * ("keep-alive").
   */
  rehomed: {
    registrar: string;
    homeRegistrarId: number;
    previousRegistrar: string | undefined;
    cause: "re-registration" | "keep-alive";
  };
  /** A registrar refused the registration (R bit); the library waits for `update()`. */
  refused: { registrar: string; causeCodes: readonly number[]; error: AsapRequestError };
  /** An Endpoint Keep-Alive arrived and was answered with a Keep-Alive Ack. */
  "keep-alive": { registrar: string; serverId: number; home: boolean };
  /**
   * Something the application may want to know but that needs no action: registrations that
   * went unanswered `maxRegistrationAttempts` times in a row, an ASAP Error from the registrar.
   */
  error: { error: Error };
}

/** What {@linkcode PoolElementRegistration.update} can change. */
export interface PoolElementUpdate {
  /** The new policy value (load, weight…); its type must stay the pool's. */
  readonly policy?: SelectionPolicy;
}

/**
 * T4-reregistration for a registration life (RFC 5352 §7.1): min(10 min, life − 20 s); for lives
 * under 40 s, where 20 s would be more than half the life, half the life instead; 10 min for an
 * infinite life.
 */
export function reregistrationInterval(registrationLifeMs: number): number {
  if (registrationLifeMs === REGISTRATION_LIFE_INFINITE) return MAX_REREGISTRATION_INTERVAL_MS;
  return Math.min(
    MAX_REREGISTRATION_INTERVAL_MS,
    Math.max(registrationLifeMs - REREGISTRATION_MARGIN_MS, Math.floor(registrationLifeMs / 2)),
  );
}

/**
 * Registers a pool element and keeps it registered until closed. Returns at once; registration
 * goes on in the background and is reported by events.
 *
 * @example
 * ```ts
 * await using registration = registerPoolElement({
 *   registrars: [{ hostname: "127.0.0.1", port: 3863 }],
 *   poolHandle: "EchoPool",
 *   transport: { port: 7000, transportUse: TransportUse.dataOnly },
 *   policy: { type: PolicyType.leastUsed, load: 0 },
 * });
 * registration.addEventListener("registered", (event) => console.log(event.detail.registrar));
 * await registration.update({ policy: { type: PolicyType.leastUsed, load: 0x80000000 } });
 * ```
 * @throws {RangeError} when an option is out of range.
 * @throws {TypeError} when an address is not IP address text.
 */
export function registerPoolElement(options: PoolElementOptions): PoolElementRegistration {
  return new PoolElementRegistration(options);
}

interface Settings {
  readonly registrationLifeMs: number;
  readonly reregistrationIntervalMs: number;
  readonly registrationTimeoutMs: number;
  readonly deregistrationTimeoutMs: number;
  readonly maxRegistrationAttempts: number;
  readonly port: number;
  readonly transportUse: TransportUse;
  readonly logger: Logger;
}

interface UpdateWaiter {
  readonly version: number;
  readonly resolve: () => void;
  readonly reject: (reason: Error) => void;
}

const ACTION = "register pool element";

/** A pool element's registration; see {@linkcode registerPoolElement}. */
export class PoolElementRegistration extends TypedEventTarget<PoolElementEventDetails>
  implements AsyncDisposable {
  readonly #settings: Settings;
  readonly #poolHandle: Uint8Array;
  readonly #poolElementId: number;
  readonly #home: HomeRegistrar;
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.close();
  readonly #finished = Promise.withResolvers<void>();
  readonly #updateWaiters = new Set<UpdateWaiter>();
  #policy: SelectionPolicy;
  #address: string | undefined;
  /** Bumped by every update(); a registration carries the version it was built from. */
  #version = 0;
  /** The version a registrar refused; nothing is sent until update() moves past it. */
  #refusedVersion: number | undefined;
  /** The link the accepted registration lives on; undefined while unregistered. */
  #registeredLink: RegistrarLink | undefined;
  #everRegistered = false;
  /** The home was lost since the last accepted registration. */
  #homeLost = false;
  #lastRegistrar: string | undefined;
  #homeRegistrarId = 0;
  /** The last Pool Element parameter sent. */
  #poolElement: PoolElementParameter | undefined;
  /** A registration was sent on the current link, so close() deregisters there. */
  #sentOn: RegistrarLink | undefined;
  #wake: AbortController | undefined;
  /** The registrar ended a registration (life expired) since the last one was sent. */
  #renewNow = false;
  #loop: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  /** Starts registering; use {@linkcode registerPoolElement}. */
  constructor(options: PoolElementOptions) {
    super();
    const hunt = resolveServerHuntSettings(options.registrars, options, ACTION);
    this.#settings = resolveSettings(options, hunt.logger);
    this.#poolHandle = toPoolHandle(options.poolHandle, ACTION);
    this.#poolElementId = options.poolElementId ?? drawPoolElementId(options.random);
    if (
      !Number.isInteger(this.#poolElementId) || this.#poolElementId < 1 ||
      this.#poolElementId > 0xffffffff
    ) {
      throw new RangeError(
        `Cannot ${ACTION} as 'poolElementId' must be an integer from 1 to 4294967295: current value is ${this.#poolElementId}`,
      );
    }
    this.#policy = options.policy ?? DEFAULT_POLICY;
    this.#address = options.transport.address;
    if (this.#address !== undefined && parseIpAddress(this.#address) === undefined) {
      throw new TypeError(
        `Cannot ${ACTION} as 'transport.address' is not an IP address: current value is "${this.#address}"`,
      );
    }
    checkEncodable(this.#registration(undefined, this.#policy));
    options.signal?.throwIfAborted();
    this.#home = new HomeRegistrar([...options.registrars], hunt, {
      onMessage: (message, link) => this.#onMessage(message, link),
      onLost: (link, reason) => this.#onLost(link, reason),
    });
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.#loop = this.#run().catch((error: unknown) => {
      this.emit("error", { error: error instanceof Error ? error : new Error(String(error)) });
      void this.close();
    });
  }

  /** The PE identifier, the same for the life of this object, across every home. */
  get poolElementId(): number {
    return this.#poolElementId;
  }

  /** The pool handle's bytes (a copy). */
  get poolHandle(): Uint8Array {
    return this.#poolHandle.slice();
  }

  /** True while a registrar holds an accepted registration on an open connection. */
  get registered(): boolean {
    return this.#registeredLink !== undefined;
  }

  /** The home registrar as "HOST:PORT" while registered. */
  get homeRegistrar(): string | undefined {
    return this.#registeredLink?.label;
  }

  /** The home registrar's Server Identifier, 0 until a Keep-Alive has told it. */
  get homeRegistrarId(): number {
    return this.#homeRegistrarId;
  }

  /** The policy now registered or being registered. */
  get policy(): SelectionPolicy {
    return this.#policy;
  }

  /**
   * The Pool Element parameter last sent to a registrar, undefined before the first: what a
   * data channel puts into Business Cards (RFC 5352 §2.2.13).
   */
  get poolElement(): PoolElementParameter | undefined {
    return this.#poolElement;
  }

  /** Resolves once the registration is closed: deregistered, or given up on the way out. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Publishes a new policy value at once by re-registering (RFC 5352 §3.1: same PE identifier).
   * Resolves once a registrar has accepted a registration carrying it; while there is no home,
   * that is the next registration after the hunt.
   *
   * @throws {AsapRequestError} "rejected" when the registrar refuses it, "closed" on close.
   * @throws {RangeError} when the policy cannot be encoded.
   * @throws the abort reason of `options.signal`.
   */
  update(changes: PoolElementUpdate, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.reject(closedError());
    try {
      options.signal?.throwIfAborted();
      if (changes.policy !== undefined) {
        checkEncodable(this.#registration(undefined, changes.policy));
        this.#policy = changes.policy;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    this.#version += 1;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiter: UpdateWaiter = { version: this.#version, resolve, reject };
    this.#updateWaiters.add(waiter);
    this.#wake?.abort();
    return raceSignal(promise, options.signal).finally(() => this.#updateWaiters.delete(waiter));
  }

  /**
   * Stops renewing, sends a Deregistration to the home registrar and waits up to T3 for the
   * answer, then closes the connection; idempotent. Without an open home connection nothing is
   * sent and the registration ends with its life.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  /** Same as {@linkcode PoolElementRegistration.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The registration loop: register, wait for T4 or a reason to re-register, repeat. */
  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    const settings = this.#settings;
    let failures = 0;
    while (!stop.aborted) {
      if (this.#refusedVersion === this.#version) {
        await this.#sleep(undefined);
        continue;
      }
      let link: RegistrarLink;
      try {
        link = await this.#home.link(stop);
      } catch (error) {
        if (stop.aborted) return;
        throw error;
      }
      const version = this.#version;
      this.#renewNow = false;
      const registration = this.#registration(link, this.#policy);
      this.#poolElement = registration.poolElement;
      this.#sentOn = link;
      let response: AsapRegistrationResponse;
      try {
        response = await this.#home.request(registration, this.#isRegistrationResponse, {
          timeoutMs: settings.registrationTimeoutMs,
          attempts: 1,
          link,
          signal: stop,
        });
      } catch (error) {
        if (stop.aborted) return;
        if (!(error instanceof AsapRequestError)) throw error;
        failures += 1;
        if (failures >= settings.maxRegistrationAttempts) {
          failures = 0;
          this.emit("error", { error });
        }
        continue;
      }
      failures = 0;
      if (link.connection.closed) continue;
      if (response.reject) {
        this.#refused(link, response, version);
        continue;
      }
      this.#accepted(link, version);
      if (this.#version !== version || this.#renewNow || this.#registeredLink !== link) continue;
      await this.#sleep(settings.reregistrationIntervalMs);
    }
  }

  /** Waits `ms` (or until woken when undefined), cut short by update(), a lost home or close. */
  async #sleep(ms: number | undefined): Promise<void> {
    const wake = new AbortController();
    this.#wake = wake;
    const signal = AbortSignal.any([wake.signal, this.#stop.signal]);
    try {
      if (ms !== undefined) {
        await delay(ms, signal);
      } else {
        await new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true })
        );
      }
    } finally {
      if (this.#wake === wake) this.#wake = undefined;
    }
  }

  #registration(link: RegistrarLink | undefined, policy: SelectionPolicy): AsapRegistration {
    if (this.#address === undefined && link !== undefined) {
      const local = link.connection.localAddr;
      // Kept from the first connection on, so that the user transport a re-registration carries
      // to another registrar equals the stored one (DECISIONS.md: re-registration of a known PE).
      if (local.transport === "tcp") this.#address = local.hostname;
    }
    const userTransport: SctpOrTcpTransport = {
      type: ParameterType.tcpTransport,
      port: this.#settings.port,
      transportUse: this.#settings.transportUse,
      addresses: [this.#address ?? "0.0.0.0"],
    };
    return {
      type: AsapMessageType.registration,
      poolHandle: this.#poolHandle,
      poolElement: {
        identifier: this.#poolElementId,
        // RFC 5354 §3.10: 0 while the home is undetermined.
        homeRegistrarId: link?.serverId ?? 0,
        registrationLife: this.#settings.registrationLifeMs,
        userTransport,
        policy,
      },
    };
  }

  readonly #isRegistrationResponse = (
    message: AsapMessage,
  ): message is AsapRegistrationResponse =>
    message.type === AsapMessageType.registrationResponse &&
    message.poolElementId === this.#poolElementId &&
    sameBytes(message.poolHandle, this.#poolHandle);

  readonly #isDeregistrationResponse = (
    message: AsapMessage,
  ): message is AsapDeregistrationResponse =>
    message.type === AsapMessageType.deregistrationResponse &&
    message.poolElementId === this.#poolElementId &&
    sameBytes(message.poolHandle, this.#poolHandle);

  #accepted(link: RegistrarLink, version: number): void {
    const wasRegistered = this.#everRegistered;
    const previous = this.#lastRegistrar;
    const moved = this.#homeLost || (previous !== undefined && previous !== link.label);
    this.#registeredLink = link;
    this.#everRegistered = true;
    this.#homeLost = false;
    this.#lastRegistrar = link.label;
    this.#homeRegistrarId = link.serverId;
    this.#settings.logger.debug(
      "Registration of PE {poolElementId} accepted by {registrar}",
      { poolElementId: this.#poolElementId, registrar: link.label },
    );
    for (const waiter of this.#updateWaiters) {
      if (waiter.version <= version) waiter.resolve();
    }
    if (!wasRegistered) {
      this.emit("registered", {
        registrar: link.label,
        homeRegistrarId: link.serverId,
        poolElementId: this.#poolElementId,
      });
    } else if (moved) {
      this.emit("rehomed", {
        registrar: link.label,
        homeRegistrarId: link.serverId,
        previousRegistrar: previous,
        cause: "re-registration",
      });
    }
  }

  #refused(link: RegistrarLink, response: AsapRegistrationResponse, version: number): void {
    const causeCodes = (response.errorCauses ?? []).map((cause) => cause.code);
    const error = new AsapRequestError(
      `Cannot register PE ${this.#poolElementId}: registrar ${link.label} refused it with cause(s) ${
        causeCodes.length === 0 ? "none given" : causeCodes.join(", ")
      }`,
      "rejected",
      causeCodes,
    );
    this.#settings.logger.warn("{error}", { error });
    if (this.#registeredLink === link) this.#registeredLink = undefined;
    // RFC 5352 §3.1: "The PE MUST NOT re-attempt registration without correcting the error".
    this.#refusedVersion = version;
    for (const waiter of this.#updateWaiters) {
      if (waiter.version <= version) waiter.reject(error);
    }
    this.emit("refused", { registrar: link.label, causeCodes, error });
  }

  #onLost(link: RegistrarLink, reason: string): void {
    if (this.#registeredLink !== link) return;
    this.#registeredLink = undefined;
    this.#homeLost = true;
    this.emit("home-lost", { registrar: link.label, reason });
    this.#wake?.abort();
  }

  #onMessage(message: AsapMessage, link: RegistrarLink): void {
    switch (message.type) {
      case AsapMessageType.endpointKeepAlive: {
        // RFC 5352 §3.4 KA1: a Keep-Alive for another pool handle is discarded silently.
        if (!sameBytes(message.poolHandle, this.#poolHandle)) return;
        if (message.poolElementId !== undefined && message.poolElementId !== this.#poolElementId) {
          return;
        }
        this.#home.reply(link, {
          type: AsapMessageType.endpointKeepAliveAck,
          poolHandle: this.#poolHandle,
          poolElementId: this.#poolElementId,
        });
        const learned = link.serverId === 0;
        const adopt = message.home && message.serverId !== this.#homeRegistrarId;
        if (learned || adopt) link.serverId = message.serverId;
        if (link === this.#registeredLink) {
          const previous = this.#homeRegistrarId;
          this.#homeRegistrarId = link.serverId;
          // KA2.4: the H bit names the sender as the new home. Over TCP the sender is the
          // registrar at the other end of this connection, which becomes the recorded home.
          if (adopt && previous !== 0) {
            this.emit("rehomed", {
              registrar: link.label,
              homeRegistrarId: message.serverId,
              previousRegistrar: link.label,
              cause: "keep-alive",
            });
          }
        }
        this.emit("keep-alive", {
          registrar: link.label,
          serverId: message.serverId,
          home: message.home,
        });
        return;
      }
      case AsapMessageType.deregistrationResponse:
        // RFC 5352 §3.2: sent when the registration life ran out: register again at once. It
        // may overtake the loop's handling of the Registration Response it follows.
        if (this.#isDeregistrationResponse(message) && link === this.#sentOn) {
          this.#settings.logger.info("Registrar {registrar} ended the registration; renewing", {
            registrar: link.label,
          });
          if (this.#registeredLink === link) this.#registeredLink = undefined;
          this.#renewNow = true;
          this.#wake?.abort();
        }
        return;
      case AsapMessageType.error: {
        const codes = message.errorCauses.map((cause) => cause.code).join(", ");
        this.emit("error", {
          error: new Error(`Registrar ${link.label} sent an ASAP Error with cause(s) ${codes}`),
        });
        return;
      }
      default:
        this.#settings.logger.debug("Ignoring ASAP message type {type} from {registrar}", {
          type: message.type,
          registrar: link.label,
        });
    }
  }

  async #shutDown(): Promise<void> {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#stop.abort(closedError());
    await this.#loop;
    const link = this.#home.current;
    if (link !== undefined && this.#sentOn === link && !link.connection.closed) {
      try {
        await this.#home.request(
          {
            type: AsapMessageType.deregistration,
            poolHandle: this.#poolHandle,
            poolElementId: this.#poolElementId,
          },
          this.#isDeregistrationResponse,
          {
            timeoutMs: this.#settings.deregistrationTimeoutMs,
            attempts: 1,
            link,
          },
        );
      } catch (error) {
        this.#settings.logger.info("Deregistration of PE {poolElementId} failed: {error}", {
          poolElementId: this.#poolElementId,
          error,
        });
      }
    }
    this.#registeredLink = undefined;
    await this.#home.close();
    for (const waiter of this.#updateWaiters) waiter.reject(closedError());
    this.#finished.resolve();
  }
}

function closedError(): AsapRequestError {
  return new AsapRequestError("Cannot register pool element: the registration is closed", "closed");
}

function resolveSettings(options: PoolElementOptions, logger: Logger): Settings {
  const registrationLifeMs = options.registrationLifeMs ?? DEFAULT_REGISTRATION_LIFE_MS;
  if (
    registrationLifeMs !== REGISTRATION_LIFE_INFINITE &&
    (!Number.isInteger(registrationLifeMs) || registrationLifeMs < 1 ||
      registrationLifeMs > 0x7fffffff)
  ) {
    throw new RangeError(
      `Cannot ${ACTION} as 'registrationLifeMs' must be an integer from 1 to 2147483647 or -1: current value is ${registrationLifeMs}`,
    );
  }
  const settings: Settings = {
    registrationLifeMs,
    reregistrationIntervalMs: options.reregistrationIntervalMs ??
      reregistrationInterval(registrationLifeMs),
    registrationTimeoutMs: options.registrationTimeoutMs ?? DEFAULT_REGISTRATION_TIMEOUT_MS,
    deregistrationTimeoutMs: options.deregistrationTimeoutMs ?? DEFAULT_DEREGISTRATION_TIMEOUT_MS,
    maxRegistrationAttempts: options.maxRegistrationAttempts ?? DEFAULT_MAX_REGISTRATION_ATTEMPTS,
    port: options.transport.port,
    transportUse: options.transport.transportUse ?? TransportUse.dataOnly,
    logger,
  };
  for (
    const name of [
      "reregistrationIntervalMs",
      "registrationTimeoutMs",
      "deregistrationTimeoutMs",
      "maxRegistrationAttempts",
    ] as const
  ) {
    requirePositiveInteger(ACTION, name, settings[name]);
  }
  if (
    registrationLifeMs !== REGISTRATION_LIFE_INFINITE &&
    settings.reregistrationIntervalMs >= registrationLifeMs
  ) {
    throw new RangeError(
      `Cannot ${ACTION} as 'reregistrationIntervalMs' must be below 'registrationLifeMs': ${settings.reregistrationIntervalMs} >= ${registrationLifeMs}`,
    );
  }
  const { port, transportUse } = settings;
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new RangeError(
      `Cannot ${ACTION} as 'transport.port' must be an integer from 1 to 65535: current value is ${port}`,
    );
  }
  if (transportUse !== TransportUse.dataOnly && transportUse !== TransportUse.dataPlusControl) {
    throw new RangeError(
      `Cannot ${ACTION} as 'transport.transportUse' must be 0 (data only) or 1 (data plus control): current value is ${transportUse}`,
    );
  }
  return settings;
}

/** Encodes `message` once so that a bad policy value fails where it is given. */
function checkEncodable(message: AsapMessage): void {
  encodeAsapMessage(message);
}

function drawPoolElementId(random: (() => number) | undefined): number {
  if (random === undefined) {
    const value = crypto.getRandomValues(new Uint32Array(1))[0]!;
    // RFC 5352 §3.1 R2.2: a good-quality random number; 0 would mean "none".
    return value === 0 ? 1 : value;
  }
  return 1 + Math.floor(random() * 0xffffffff);
}
