/**
 * The connection to the home registrar that the pool element and pool user sides share: server
 * hunt, one reader per connection, requests matched to their responses with a timer, a bounded
 * number of attempts and a new hunt when the home fails (RFC 5352 §3.6, §3.7).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { decodeAsapMessage, encodeAsapMessage } from "../wire/asap_codec.ts";
import type { AsapMessage } from "../wire/asap_messages.ts";
import { AsapMessageType, ErrorCauseCode } from "../wire/codes.ts";
import { WireError } from "../wire/wire_error.ts";
import { delay } from "../transport/delay.ts";
import type { MessageConnection } from "../transport/message_connection.ts";
import { AsapRequestError } from "./asap_request_error.ts";
import {
  formatRegistrar,
  huntRegistrar,
  type RegistrarAddress,
  type ServerHuntSettings,
} from "./server_hunt.ts";

/** One connection to a registrar, as long as it lasts. */
export interface RegistrarLink {
  readonly connection: MessageConnection;
  readonly registrar: RegistrarAddress;
  /** The registrar's position in the endpoint's list. */
  readonly index: number;
  /** "HOST:PORT" of the registrar, for logs and events. */
  readonly label: string;
  /** The registrar's Server Identifier once a Keep-Alive has told it; 0 until then. */
  serverId: number;
  /** A message has arrived on this connection. */
  answered: boolean;
}

/** What the endpoint on top does with what the link layer sees. */
export interface HomeRegistrarHandlers {
  /** A message no pending request was waiting for. */
  onMessage(message: AsapMessage, link: RegistrarLink): void;
  /** The home connection went away; `reason` says why in words. */
  onLost(link: RegistrarLink, reason: string): void;
}

/** How one request is sent and awaited. */
export interface RequestOptions {
  /** Milliseconds one attempt may take, the hunt for a registrar included (T1, T2 or T3). */
  readonly timeoutMs: number;
  /** Attempts before the request fails with "timeout"; each later one goes to a new home. */
  readonly attempts: number;
  /** Send only on this link, and fail rather than hunt when it is gone. */
  readonly link?: RegistrarLink;
  readonly signal?: AbortSignal;
}

interface Waiter {
  readonly link: RegistrarLink;
  readonly match: (message: AsapMessage) => boolean;
  readonly resolve: (message: AsapMessage) => void;
  readonly reject: (reason: Error) => void;
}

/** The home link went away while a request waited on it. */
class LinkLost extends Error {
  constructor(label: string) {
    super(`Cannot complete request: the connection to registrar ${label} is gone`);
    this.name = "LinkLost";
  }
}

/** The endpoint's link to its home registrar; see the module doc. */
export class HomeRegistrar {
  readonly #registrars: readonly RegistrarAddress[];
  readonly #hunt: ServerHuntSettings;
  readonly #handlers: HomeRegistrarHandlers;
  readonly #logger: Logger;
  /** Registrar indexes in hunt order: a registrar that failed goes last (SH5.2). */
  readonly #order: number[];
  readonly #stop = new AbortController();
  readonly #waiters = new Set<Waiter>();
  readonly #readers = new Set<Promise<void>>();
  #current: RegistrarLink | undefined;
  #hunting: { promise: Promise<RegistrarLink>; controller: AbortController } | undefined;
  #huntWaiters = 0;
  /** Connections in a row that the registrar closed before sending anything. */
  #closedUnanswered = 0;

  constructor(
    registrars: readonly RegistrarAddress[],
    hunt: ServerHuntSettings,
    handlers: HomeRegistrarHandlers,
  ) {
    this.#registrars = registrars;
    this.#hunt = hunt;
    this.#handlers = handlers;
    this.#logger = hunt.logger;
    this.#order = registrars.map((_, index) => index);
  }

  /** The open home link, if any. */
  get current(): RegistrarLink | undefined {
    return this.#current;
  }

  /**
   * Resolves with the open home link, hunting for one when there is none; concurrent callers
   * share one hunt, which stops when the last of them gives up.
   *
   * @throws the abort reason of `signal`, or {@linkcode AsapRequestError} "closed".
   */
  async link(signal?: AbortSignal): Promise<RegistrarLink> {
    for (;;) {
      this.#throwIfStopped(signal);
      const current = this.#current;
      if (current !== undefined && !current.connection.closed) return current;
      const hunting = this.#hunting ?? this.#startHunt();
      this.#huntWaiters += 1;
      try {
        return await raceSignal(hunting.promise, signal);
      } catch (error) {
        this.#throwIfStopped(signal);
        // The hunt stopped because its callers left just before this one came: hunt again.
        if (!hunting.controller.signal.aborted) throw error;
      } finally {
        this.#huntWaiters -= 1;
        if (this.#huntWaiters === 0 && this.#hunting === hunting) {
          hunting.controller.abort(new Error("No caller waits for the hunt any more"));
        }
      }
    }
  }

  /**
   * Sends `message` to the home registrar and resolves with the first message on the same
   * connection that `match` accepts. An attempt that sees no answer within `timeoutMs` drops
   * the home, which makes the next attempt hunt for another (RFC 5352 §3.7.2: the registrar that
   * failed goes last); a connection that breaks does the same (§3.7.1).
   *
   * @throws {AsapRequestError} "timeout" after the last attempt, "closed" on close.
   * @throws the abort reason of `options.signal`.
   */
  async request<T extends AsapMessage>(
    message: AsapMessage,
    match: (message: AsapMessage) => message is T,
    options: RequestOptions,
  ): Promise<T> {
    const encoded = encodeAsapMessage(message);
    const { signal } = options;
    let lastFailure = "";
    for (let attempt = 1; attempt <= options.attempts; attempt++) {
      this.#throwIfStopped(signal);
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
      const attemptSignal = signal === undefined
        ? deadline.signal
        : AbortSignal.any([deadline.signal, signal]);
      let link: RegistrarLink | undefined;
      try {
        link = options.link ?? await this.link(attemptSignal);
        return await this.#exchange(link, encoded, match, attemptSignal);
      } catch (error) {
        this.#throwIfStopped(signal);
        if (!deadline.signal.aborted && !(error instanceof LinkLost)) throw error;
        if (link === undefined) {
          lastFailure = `no registrar could be reached within ${options.timeoutMs} ms`;
        } else if (deadline.signal.aborted) {
          lastFailure = `registrar ${link.label} did not answer within ${options.timeoutMs} ms`;
          this.drop(link, lastFailure);
        } else {
          lastFailure = `the connection to registrar ${link.label} broke`;
        }
        this.#logger.info("ASAP request attempt {attempt} of {attempts} failed: {failure}", {
          attempt,
          attempts: options.attempts,
          failure: lastFailure,
        });
        if (options.link !== undefined) break;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new AsapRequestError(
      `Cannot complete ${messageLabel(message)}: ${lastFailure}`,
      "timeout",
    );
  }

  /**
   * Sends `message` on the home link, hunting when there is none, without waiting for an
   * answer (Endpoint Unreachable); the hunt and the write may take `timeoutMs`.
   *
   * @throws {AsapRequestError} "timeout" when no registrar took it in time, "closed" on close.
   * @throws the abort reason of `signal`.
   */
  async send(
    message: AsapMessage,
    options: { timeoutMs: number; signal?: AbortSignal | undefined },
  ): Promise<RegistrarLink> {
    const encoded = encodeAsapMessage(message);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
    const signal = options.signal === undefined
      ? deadline.signal
      : AbortSignal.any([deadline.signal, options.signal]);
    try {
      for (;;) {
        const link = await this.link(signal);
        try {
          await raceSignal(link.connection.send(encoded), signal);
          return link;
        } catch (error) {
          if (signal.aborted) throw error;
          // The connection broke under the write: its reader reports that; hunt again.
        }
      }
    } catch (error) {
      this.#throwIfStopped(options.signal);
      if (!deadline.signal.aborted) throw error;
      throw new AsapRequestError(
        `Cannot send ${messageLabel(message)}: no registrar took it within ${options.timeoutMs} ms`,
        "timeout",
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `message` on `link` as it is, for answers such as Keep-Alive Ack; never rejects. */
  reply(link: RegistrarLink, message: AsapMessage): void {
    link.connection.send(encodeAsapMessage(message)).catch(() => {
      // The connection is gone: its reader reports that.
    });
  }

  /**
   * Gives up on `link` as home: closes it, puts its registrar last in the hunt order and reports
   * it lost with `reason`.
   */
  drop(link: RegistrarLink, reason: string): void {
    if (link.connection.closed) return;
    this.#lose(link, reason, false);
    link.connection.close();
  }

  /** Closes the home link and stops every hunt and request; resolves once readers are done. */
  async close(): Promise<void> {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort(
        new AsapRequestError("Cannot complete request: the endpoint is closed", "closed"),
      );
      this.#hunting?.controller.abort(this.#stop.signal.reason);
      this.#current?.connection.close();
    }
    while (this.#readers.size > 0) await Promise.all(this.#readers);
  }

  #throwIfStopped(signal: AbortSignal | undefined): void {
    signal?.throwIfAborted();
    this.#stop.signal.throwIfAborted();
  }

  #startHunt(): { promise: Promise<RegistrarLink>; controller: AbortController } {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.#stop.signal]);
    // A registrar that accepts connections and closes them unanswered (full, shutting down)
    // would make the hunt succeed at once every time: back off as T5 does (SH5.1).
    const pauseMs = this.#closedUnanswered === 0 ? 0 : Math.min(
      this.#hunt.serverHuntMs * 2 ** (this.#closedUnanswered - 1),
      this.#hunt.retranMaxMs,
    );
    const promise = delay(pauseMs, signal).then(() => {
      signal.throwIfAborted();
      return this.#huntNow(signal);
    });
    const hunting = { promise, controller };
    this.#hunting = hunting;
    void promise.catch(() => {}).finally(() => {
      if (this.#hunting === hunting) this.#hunting = undefined;
    });
    return hunting;
  }

  #huntNow(signal: AbortSignal): Promise<RegistrarLink> {
    return huntRegistrar(this.#registrars, {
      ...this.#hunt.limits,
      serverHuntMs: this.#hunt.serverHuntMs,
      retranMaxMs: this.#hunt.retranMaxMs,
      maxParallelHunt: this.#hunt.maxParallelHunt,
      connectTimeoutMs: this.#hunt.connectTimeoutMs,
      logger: this.#logger,
      order: [...this.#order],
      signal,
      ...(this.#hunt.connect === undefined ? {} : { connect: this.#hunt.connect }),
    }).then(({ connection, registrar, index }) => this.#adopt(connection, registrar, index));
  }

  #adopt(connection: MessageConnection, registrar: RegistrarAddress, index: number): RegistrarLink {
    if (this.#stop.signal.aborted) {
      connection.close();
      throw this.#stop.signal.reason;
    }
    const link: RegistrarLink = {
      connection,
      registrar,
      index,
      label: formatRegistrar(registrar),
      serverId: 0,
      answered: false,
    };
    this.#current = link;
    this.#logger.info("Home registrar is {registrar}", { registrar: link.label });
    const reader = this.#read(link);
    this.#readers.add(reader);
    void reader.finally(() => this.#readers.delete(reader));
    return link;
  }

  async #exchange<T extends AsapMessage>(
    link: RegistrarLink,
    encoded: Uint8Array,
    match: (message: AsapMessage) => message is T,
    signal: AbortSignal,
  ): Promise<T> {
    if (link.connection.closed) throw new LinkLost(link.label);
    const { promise, resolve, reject } = Promise.withResolvers<AsapMessage>();
    const waiter: Waiter = { link, match, resolve, reject };
    this.#waiters.add(waiter);
    try {
      link.connection.send(encoded).catch(() => reject(new LinkLost(link.label)));
      const answer = await raceSignal(promise, signal);
      return answer as T;
    } finally {
      this.#waiters.delete(waiter);
    }
  }

  async #read(link: RegistrarLink): Promise<void> {
    let reason = `registrar ${link.label} closed the connection`;
    try {
      for await (const bytes of link.connection) this.#dispatch(link, bytes);
    } catch (error) {
      reason = `the connection to registrar ${link.label} failed: ${
        error instanceof Error ? error.message : String(error)
      }`;
    } finally {
      link.connection.close();
      this.#lose(link, reason, true);
    }
  }

  #dispatch(link: RegistrarLink, bytes: Uint8Array): void {
    let message: AsapMessage;
    try {
      message = decodeAsapMessage(bytes);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.#logger.warn("Cannot decode a message from registrar {registrar}: {error}", {
        registrar: link.label,
        error,
      });
      // RFC 5354 §3, §4: answer with an ASAP Error only when the type bits say "report".
      if (error.report) {
        this.reply(link, {
          type: AsapMessageType.error,
          errorCauses: [{
            code: error.causeCode,
            info: error.causeInfo ?? new Uint8Array(0),
          }],
        });
      }
      return;
    }
    link.answered = true;
    this.#closedUnanswered = 0;
    for (const waiter of this.#waiters) {
      if (waiter.link === link && waiter.match(message)) {
        this.#waiters.delete(waiter);
        waiter.resolve(message);
        return;
      }
    }
    if (message.unrecognizedParameters !== undefined) {
      this.reply(link, {
        type: AsapMessageType.error,
        errorCauses: message.unrecognizedParameters.map((info) => ({
          code: ErrorCauseCode.unrecognizedParameter,
          info,
        })),
      });
    }
    this.#handlers.onMessage(message, link);
  }

  /**
   * Forgets `link` as home once, fails its waiters and tells the endpoint; `byPeer` when the
   * registrar's side ended it.
   */
  #lose(link: RegistrarLink, reason: string, byPeer: boolean): void {
    for (const waiter of this.#waiters) {
      if (waiter.link === link) {
        this.#waiters.delete(waiter);
        waiter.reject(new LinkLost(link.label));
      }
    }
    if (this.#current !== link) return;
    this.#current = undefined;
    if (byPeer && !link.answered) this.#closedUnanswered += 1;
    this.#order.splice(this.#order.indexOf(link.index), 1);
    this.#order.push(link.index);
    if (this.#stop.signal.aborted) return;
    this.#logger.info("Lost home registrar {registrar}: {reason}", {
      registrar: link.label,
      reason,
    });
    this.#handlers.onLost(link, reason);
  }
}

/** Resolves as `promise` does, or rejects with the abort reason once `signal` aborts. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function messageLabel(message: AsapMessage): string {
  switch (message.type) {
    case AsapMessageType.registration:
      return "ASAP Registration";
    case AsapMessageType.deregistration:
      return "ASAP Deregistration";
    case AsapMessageType.handleResolution:
      return "ASAP Handle Resolution";
    case AsapMessageType.endpointUnreachable:
      return "ASAP Endpoint Unreachable";
    default:
      return `ASAP message type ${message.type}`;
  }
}
