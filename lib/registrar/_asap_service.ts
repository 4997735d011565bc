/**
 * Folder-private: the registrar's side of ASAP (RFC 5352 §3) on one TCP connection: decode each
 * message, act on the handlespace through the {@linkcode RegistrarCore}, answer. Malformed and
 * unexpected messages are answered with an ASAP Error and the connection stays open; a framing
 * error closes that connection only (the transport does it).
 */
import { findPolicy, type PoolElementView, type PoolView } from "../handlespace/mod.ts";
import { type MessageConnection, TransportError } from "../transport/mod.ts";
import {
  type AsapDeregistration,
  type AsapHandleResolution,
  type AsapMessage,
  AsapMessageType,
  type AsapRegistration,
  decodeAsapMessage,
  type DecodeOptions,
  encodeAsapMessage,
  type ErrorCause,
  ErrorCauseCode,
  type PoolElementParameter,
  roundup4,
  type SelectionPolicy,
  WireError,
} from "../wire/mod.ts";
import { AsapSession } from "./_asap_session.ts";
import {
  describeHandle,
  encodePolicyParameter,
  encodeTransportParameter,
  formatIdentifier,
  policyWireLength,
  poolElementLengthBounds,
  poolElementWireLength,
} from "./_parameters.ts";
import type { RegistrarCore } from "./_registrar_core.ts";

/** The largest message ASAP can carry: the u16 Length (padding included here, to be safe). */
const MAX_RESPONSE_LENGTH = 0xfffc;
/** Error cause info that still fits an ASAP Error: header, Operation Error TLV, cause header. */
const MAX_CAUSE_INFO_LENGTH = MAX_RESPONSE_LENGTH - 12;
/** HROPT Items asking for every PE that fits (draft-dreibholz-rserpool-asap-hropt). */
const ALL_ITEMS = 0xffffffff;
const NO_INFO = new Uint8Array(0);
/** Answers held back for one write at most: the transport's write high-water mark. */
const MAX_OUTBOX_BYTES = 64 * 1024;

/**
 * True when `promise` settles within a few microtasks: a message already in the read buffer
 * does (one tick); one that needs the socket cannot, as I/O completes in a later event-loop turn.
 */
async function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  const done = () => {
    settled = true;
  };
  promise.then(done, done);
  for (let tick = 0; tick < 3 && !settled; tick++) await null;
  return settled;
}

/** Serves ASAP connections for one registrar. */
export class AsapService {
  readonly #core: RegistrarCore;
  readonly #decodeOptions: DecodeOptions;
  /** The overall policy parameter of a Handle Resolution Response, by policy type. */
  readonly #overallPolicies = new Map<number, SelectionPolicy>();
  /** Reused by every selection (one selection runs at a time). */
  readonly #selected: PoolElementView[] = [];

  /** Serves for `core`. */
  constructor(core: RegistrarCore) {
    this.#core = core;
    this.#decodeOptions = { maxMessageLength: core.settings.messageLimits.maxMessageLength };
  }

  /**
   * Serves one connection until it ends; its PEs leave the handlespace when it does. Resolves
   * when the connection ended or failed in a way the transport has logged already.
   *
   * Answers to messages that arrived together leave together: they wait in the session's outbox
   * until the next message is not already in the read buffer (or the outbox is full), so a
   * pipelining peer gets one write per batch instead of one per answer.
   */
  async serve(connection: MessageConnection): Promise<void> {
    const session = new AsapSession(connection, this.#core.settings, this.#onKeepAliveTimeout);
    try {
      for (let next = connection.readMessage();;) {
        if (session.outboxBytes > 0 && !(await settlesAtOnce(next))) await session.flush();
        const bytes = await next;
        if (bytes === null) break;
        session.heard();
        this.#handleContained(session, bytes);
        if (session.outboxBytes >= MAX_OUTBOX_BYTES) await session.flush();
        next = connection.readMessage();
      }
      // End of stream between messages: send what was asked for, then close.
      await session.flush();
      if (!connection.closed) await connection.flush();
    } catch (error) {
      // The transport logged why the connection closed; anything else is a bug to report.
      const closed = error instanceof TransportError && error.code === "closed";
      if (error !== connection.closeReason && !closed) throw error;
    } finally {
      session.close();
      if (session.owned.size > 0) {
        this.#core.logger.info("Connection from {peer} closed: its {count} PEs leave", {
          peer: connection.peer,
          count: session.owned.size,
        });
      }
      this.#core.releaseAll(session, "connection-closed");
    }
  }

  readonly #onKeepAliveTimeout = (session: AsapSession): void => {
    const { logger, settings } = this.#core;
    logger.warn(
      "No answer from {peer} within {timeoutMs} ms of an Endpoint Keep-Alive: removing its {count} PEs",
      {
        peer: session.connection.peer,
        timeoutMs: settings.keepAliveTimeoutMs,
        count: session.owned.size,
      },
    );
    this.#core.releaseAll(session, "keep-alive-timeout");
    session.connection.close();
  };

  // A bug met by one message is logged and answered with 0x0 Unspecified Error; it must not
  // take the connection's PEs down with it.
  #handleContained(session: AsapSession, bytes: Uint8Array): void {
    try {
      this.#handle(session, bytes);
    } catch (error) {
      this.#core.logger.error("Cannot handle a message of type {type} from {peer}: {error}", {
        type: bytes[0],
        peer: session.connection.peer,
        error,
      });
      this.#sendError(session, ErrorCauseCode.unspecifiedError, NO_INFO);
    }
  }

  /** Handles one message; answers go to the session's outbox. */
  #handle(session: AsapSession, bytes: Uint8Array): void {
    let message: AsapMessage;
    try {
      message = decodeAsapMessage(bytes, this.#decodeOptions);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.#answerWireError(session, error);
      return;
    }
    // RFC 5354 §3: parameters of type 11xx are skipped, and each is reported in an Error.
    for (const parameter of message.unrecognizedParameters ?? []) {
      this.#sendError(session, ErrorCauseCode.unrecognizedParameter, parameter);
    }
    switch (message.type) {
      case AsapMessageType.registration:
        this.#register(session, message, bytes);
        return;
      case AsapMessageType.deregistration:
        this.#deregister(session, message);
        return;
      case AsapMessageType.handleResolution:
        session.send(this.#resolve(message));
        return;
      case AsapMessageType.endpointKeepAliveAck:
        // Its arrival is the proof of life (AsapSession.heard).
        return;
      case AsapMessageType.endpointUnreachable:
        this.#core.reportUnreachable(message.poolHandle, message.poolElementId);
        return;
      case AsapMessageType.error:
        // Never answer an Error with an Error.
        this.#core.logger.warn("ASAP Error from {peer}: causes {causes}", {
          peer: session.connection.peer,
          causes: message.errorCauses.map((cause) => cause.code),
        });
        return;
      default:
        // A message a registrar does not serve (PE/PU-bound types): RFC 5354 §3.12.3.
        this.#sendError(session, ErrorCauseCode.unrecognizedMessage, bytes);
    }
  }

  #answerWireError(session: AsapSession, error: WireError): void {
    if (!error.report) {
      this.#core.logger.debug("Discarding a message from {peer}: {error}", {
        peer: session.connection.peer,
        error: error.message,
      });
      return;
    }
    this.#core.logger.info("Answering a bad message from {peer} with an Error: {error}", {
      peer: session.connection.peer,
      error: error.message,
    });
    this.#sendError(session, error.causeCode, error.causeInfo ?? NO_INFO);
  }

  #sendError(session: AsapSession, code: number, info: Uint8Array): void {
    const cause: ErrorCause = {
      code,
      info: info.length > MAX_CAUSE_INFO_LENGTH ? info.subarray(0, MAX_CAUSE_INFO_LENGTH) : info,
    };
    session.send(encodeAsapMessage({ type: AsapMessageType.error, errorCauses: [cause] }));
  }

  #register(session: AsapSession, message: AsapRegistration, bytes: Uint8Array): void {
    const { poolHandle, poolElement } = message;
    const core = this.#core;
    // RFC 5352 §3.1 rule 4: this registrar is home, and records where it heard the PE from
    // (never what the PE claims).
    const { asapTransport: _claimed, ...fields } = poolElement;
    const homeRegistrarId = core.settings.serverId;
    const element: PoolElementParameter = session.asapTransport === undefined
      ? { ...fields, homeRegistrarId }
      : { ...fields, homeRegistrarId, asapTransport: session.asapTransport };
    const result = core.register(poolHandle, element, session, "registration");
    const type = AsapMessageType.registrationResponse;
    const poolElementId = poolElement.identifier;
    if (result.ok) {
      session.send(encodeAsapMessage({ type, reject: false, poolHandle, poolElementId }));
      return;
    }
    core.logger.info(
      "Refusing registration of PE {peId} in pool {pool} from {peer}: cause {cause}",
      {
        peId: formatIdentifier(poolElementId),
        pool: describeHandle(poolHandle),
        peer: session.connection.peer,
        cause: result.cause,
      },
    );
    const errorCauses = [{
      code: result.cause,
      info: this.#refusalInfo(result.cause, message, bytes),
    }];
    session.send(
      encodeAsapMessage({ type, reject: true, poolHandle, poolElementId, errorCauses }),
    );
  }

  /** The cause information RFC 5354 §3.12 asks for with each refusal. */
  #refusalInfo(cause: number, message: AsapRegistration, bytes: Uint8Array): Uint8Array {
    switch (cause) {
      case ErrorCauseCode.inconsistentPoolingPolicy: {
        const pool = this.#core.handlespace.pool(message.poolHandle);
        return pool === undefined ? NO_INFO : encodePolicyParameter(this.#overallPolicy(pool));
      }
      case ErrorCauseCode.inconsistentTransportType: {
        const pool = this.#core.handlespace.pool(message.poolHandle);
        const first = pool?.elements().next();
        return first === undefined || first.done === true
          ? NO_INFO
          : encodeTransportParameter(first.value.userTransport);
      }
      case ErrorCauseCode.invalidValues: {
        // The offending TLV: the Pool Element parameter after the Pool Handle parameter.
        const at = 4 + roundup4((bytes[6]! << 8) | bytes[7]!);
        return bytes.slice(at, at + ((bytes[at + 2]! << 8) | bytes[at + 3]!));
      }
      default:
        return NO_INFO;
    }
  }

  #deregister(session: AsapSession, message: AsapDeregistration): void {
    const { poolHandle, poolElementId } = message;
    const outcome = this.#core.deregister(poolHandle, poolElementId, session, "deregistration");
    const type = AsapMessageType.deregistrationResponse;
    if (outcome !== "not-owner") {
      // RFC 5352 §3.2: an unknown PE counts as deregistered.
      session.send(encodeAsapMessage({ type, poolHandle, poolElementId }));
      return;
    }
    // RFC 5352 §2.2.2: "a PE may only de-register itself".
    this.#core.logger.info("Refusing deregistration of PE {peId} in pool {pool} from {peer}", {
      peId: formatIdentifier(poolElementId),
      pool: describeHandle(poolHandle),
      peer: session.connection.peer,
    });
    const errorCauses = [{
      code: ErrorCauseCode.rejectionDueToSecurityConsiderations,
      info: NO_INFO,
    }];
    session.send(encodeAsapMessage({ type, poolHandle, poolElementId, errorCauses }));
  }

  /** RFC 5352 §3.3: the pool's overall policy and up to N of its PEs, or Unknown Pool Handle. */
  #resolve(message: AsapHandleResolution): Uint8Array {
    const { poolHandle } = message;
    const type = AsapMessageType.handleResolutionResponse;
    const pool = this.#core.handlespace.pool(poolHandle);
    const wanted = message.items === undefined || message.items === 0
      ? this.#core.settings.handleResolutionItems
      : message.items;
    const poolElements = pool === undefined ? [] : this.#select(pool, wanted);
    if (pool === undefined || poolElements.length === 0) {
      const errorCauses = [{ code: ErrorCauseCode.unknownPoolHandle, info: NO_INFO }];
      return encodeAsapMessage({ type, poolHandle, poolElements, errorCauses });
    }
    return encodeAsapMessage({ type, poolHandle, policy: this.#overallPolicy(pool), poolElements });
  }

  /**
   * Selects up to `wanted` PEs by the pool's policy, no more than fit in one message. Where
   * every PE of the pool has one address, it asks the policy for as many as surely fit and tops
   * up with the room the actual sizes left, so no PE is counted as selected (LUD, round robin)
   * without being sent. SCTP and opaque transports vary in size: there a PE that does not fit
   * ends the list although the policy counted it.
   */
  #select(pool: PoolView, wanted: number): PoolElementParameter[] {
    const handle = pool.handle;
    const { handlespace, settings } = this.#core;
    const now = settings.now();
    const limit = Math.min(wanted === ALL_ITEMS ? Infinity : wanted, pool.size);
    const { min, max } = poolElementLengthBounds(pool.transportType, pool.policyType);
    const step = max === Infinity ? min : max;
    let room = MAX_RESPONSE_LENGTH - 4 - roundup4(4 + handle.length) -
      policyWireLength(pool.policyType);
    const chosen: PoolElementParameter[] = [];
    // PEs owned by a peer that this registrar's reports found unreachable (ENRP) are skipped.
    const excluded = this.#core.excluded(handle);
    let exclude: Set<number> | undefined = excluded === undefined ? undefined : new Set(excluded);
    const views = this.#selected;
    while (chosen.length < limit) {
      const count = Math.min(limit - chosen.length, Math.floor(room / step));
      if (count < 1) break;
      const found = handlespace.selectInto(
        handle,
        count,
        now,
        views,
        exclude === undefined ? undefined : { exclude },
      );
      let full = false;
      for (let i = 0; i < found && !full; i++) {
        const element = responseElement(views[i]!);
        const length = poolElementWireLength(element);
        full = length > room;
        if (!full) {
          room -= length;
          chosen.push(element);
          exclude?.add(element.identifier);
        }
      }
      views.length = 0;
      if (full || found < count || chosen.length >= limit) break;
      exclude ??= new Set(chosen.map((element) => element.identifier));
    }
    return chosen;
  }

  /** The pool's policy type with zero values (RFC 5352 §2.2.6: per-PE values do not apply). */
  #overallPolicy(pool: PoolView): SelectionPolicy {
    const type = pool.policyType;
    let policy = this.#overallPolicies.get(type);
    if (policy === undefined) {
      policy = findPolicy(type)?.toPolicy(0, 0) ?? { type, opaque: NO_INFO };
      this.#overallPolicies.set(type, policy);
    }
    return policy;
  }
}

/** A PE as a Handle Resolution Response lists it: without the ASAP transport (as RSPLIB). */
function responseElement(view: PoolElementView): PoolElementParameter {
  return {
    identifier: view.identifier,
    homeRegistrarId: view.homeRegistrarId,
    registrationLife: view.registrationLife,
    userTransport: view.userTransport,
    policy: view.policy,
  };
}
