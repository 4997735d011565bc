/**
 * Folder-private: one ASAP connection as the owner of the PEs registered over it, and its
 * keep-alive supervision (RFC 5352 §3.4).
 *
 * Keep-alives are per connection, not per PE: any message received proves the connection's
 * peer alive. When a connection owning PEs has been silent for `keepAliveIntervalMs`, the
 * registrar sends one Endpoint Keep-Alive (for its PEs in turn) and, when nothing at all
 * arrives within `keepAliveTimeoutMs`, removes every PE of the connection and closes it. A busy
 * connection costs one clock read per message and at most one timer per interval; a hung PE
 * leaves within interval + timeout of its last message.
 */
import type { MessageConnection } from "../transport/mod.ts";
import {
  AsapMessageType,
  encodeAsapMessage,
  ParameterType,
  parseIpAddress,
  type SctpOrTcpTransport,
  TransportUse,
} from "../wire/mod.ts";
import type { OwnedPoolElement, PoolElementOwner } from "./_registrar_core.ts";
import type { RegistrarSettings } from "./registrar_options.ts";

/** A connection's peer as an ASAP Transport parameter (RFC 5352 §3.1 rule 4), if it is IP. */
function asapTransportOf(addr: Deno.Addr): SctpOrTcpTransport | undefined {
  if (addr.transport !== "tcp" || parseIpAddress(addr.hostname) === undefined) return undefined;
  return {
    type: ParameterType.tcpTransport,
    port: addr.port,
    transportUse: TransportUse.dataOnly,
    addresses: [addr.hostname],
  };
}

/** An ASAP connection that owns PEs and answers for their liveness. */
export class AsapSession implements PoolElementOwner {
  readonly owned = new Set<OwnedPoolElement>();
  readonly connection: MessageConnection;
  /** The peer as recorded in each PE registered over this connection. */
  readonly asapTransport: SctpOrTcpTransport | undefined;
  readonly #settings: RegistrarSettings;
  readonly #onTimeout: (session: AsapSession) => void;
  #lastHeard: number;
  /** When the unanswered Keep-Alive was sent; -1 when none is out. */
  #probeSentAt = -1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #rotation: Iterator<OwnedPoolElement> | undefined;
  #outbox: Uint8Array[] = [];
  #outboxBytes = 0;
  #closed = false;

  /** Supervises `connection`; `onTimeout` runs when a Keep-Alive goes unanswered. */
  constructor(
    connection: MessageConnection,
    settings: RegistrarSettings,
    onTimeout: (session: AsapSession) => void,
  ) {
    this.connection = connection;
    this.asapTransport = asapTransportOf(connection.remoteAddr);
    this.#settings = settings;
    this.#onTimeout = onTimeout;
    this.#lastHeard = settings.now();
  }

  /** False once the connection closed. */
  get open(): boolean {
    return !this.#closed && !this.connection.closed;
  }

  /** Notes that a message arrived: the peer is alive, and an outstanding Keep-Alive answered. */
  heard(): void {
    this.#lastHeard = this.#settings.now();
    if (this.#probeSentAt >= 0) {
      this.#probeSentAt = -1;
      this.#arm(this.#settings.keepAliveIntervalMs);
    }
  }

  /** Bytes of answers waiting in the outbox. */
  get outboxBytes(): number {
    return this.#outboxBytes;
  }

  /** Puts `message` in the outbox; {@linkcode AsapSession.flush} sends it. */
  send(message: Uint8Array): void {
    this.#outbox.push(message);
    this.#outboxBytes += message.length;
  }

  /**
   * Sends the outbox in one write; resolves as `MessageConnection.send` does (awaiting it is
   * the backpressure).
   */
  flush(): Promise<void> {
    const outbox = this.#outbox;
    if (outbox.length === 0) return Promise.resolve();
    let batch = outbox[0]!;
    if (outbox.length > 1) {
      batch = new Uint8Array(this.#outboxBytes);
      let at = 0;
      for (const message of outbox) {
        batch.set(message, at);
        at += message.length;
      }
    }
    this.#outbox = [];
    this.#outboxBytes = 0;
    return this.connection.send(batch);
  }

  /** Starts supervising once the connection owns a PE. */
  adopted(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const silent = this.#settings.now() - this.#lastHeard;
    this.#arm(this.#settings.keepAliveIntervalMs - silent);
  }

  /** RFC 5352 §2.2.4: a Deregistration Response tells the PE its registration life ran out. */
  expired(pe: OwnedPoolElement): void {
    this.#sendQuietly(encodeAsapMessage({
      type: AsapMessageType.deregistrationResponse,
      poolHandle: pe.handle,
      poolElementId: pe.peId,
    }));
  }

  /** RFC 5352 §3.5: an Endpoint Unreachable makes the registrar probe the PE at once. */
  probe(pe: OwnedPoolElement): void {
    // Unless a Keep-Alive is out and still unanswered.
    if (this.open && this.#probeSentAt < 0) this.#sendKeepAlive(pe);
  }

  /** Stops the supervision; the connection's PEs are the registrar's to release. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(delayMs)));
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (!this.open || this.owned.size === 0) {
      this.#probeSentAt = -1;
      return;
    }
    const { keepAliveIntervalMs, keepAliveTimeoutMs, now } = this.#settings;
    const time = now();
    if (this.#probeSentAt >= 0) {
      // Nothing heard since the Keep-Alive (heard() would have cleared it).
      const waited = time - this.#probeSentAt;
      if (waited < keepAliveTimeoutMs) {
        this.#arm(keepAliveTimeoutMs - waited);
      } else {
        this.#onTimeout(this);
      }
      return;
    }
    const silent = time - this.#lastHeard;
    if (silent < keepAliveIntervalMs) {
      this.#arm(keepAliveIntervalMs - silent);
    } else {
      const pe = this.#nextToProbe();
      if (pe !== undefined) this.#sendKeepAlive(pe);
    }
  };

  /** The owned PEs in turn, so that each one is named by a Keep-Alive now and then. */
  #nextToProbe(): OwnedPoolElement | undefined {
    for (let attempt = 0; attempt < 2; attempt++) {
      const next = this.#rotation?.next();
      if (next !== undefined && next.done !== true) return next.value;
      this.#rotation = this.owned.values();
    }
    return undefined;
  }

  // DECISIONS.md: the Keep-Alive carries the PE Identifier TLV, as RSPLIB's; H=0, we are home.
  #sendKeepAlive(pe: OwnedPoolElement): void {
    this.#probeSentAt = this.#settings.now();
    this.#sendQuietly(encodeAsapMessage({
      type: AsapMessageType.endpointKeepAlive,
      home: false,
      serverId: this.#settings.serverId,
      poolHandle: pe.handle,
      poolElementId: pe.peId,
    }));
    this.#arm(this.#settings.keepAliveTimeoutMs);
  }

  // Sent at once, behind any answers waiting. A failed send closes the connection, and its PEs
  // leave when the read loop ends.
  #sendQuietly(message: Uint8Array): void {
    this.send(message);
    this.flush().catch(() => {});
  }
}
