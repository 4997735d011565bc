/**
 * ENRP peering (RFC 5353) over TCP: a registrar joins a registrar set, keeps a replica of the
 * whole handlespace, announces every change to a PE it owns, audits its replica of each peer
 * against that peer's Presence checksum, and takes over the PEs of a peer that dies. A
 * registrar builds one when {@linkcode RegistrarOptions.enrp} is given; `docs/enrp.md` is the
 * guide.
 *
 * Connections: each registrar sends what it has to say to a peer (Presence, Handle Updates,
 * takeover messages, requests) on the one connection it opened to that peer's ENRP address, so
 * a peer receives one registrar's messages in the order they were sent; requests are answered
 * on the connection they arrive on. Every connection is read the same way.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import {
  connectMessage,
  delay,
  formatAddress,
  type MessageConnection,
  type MessageServer,
  startMessageServer,
} from "../transport/mod.ts";
import {
  decodeEnrpMessage,
  type DecodeOptions,
  encodeEnrpMessage,
  type EnrpHandleTableRequest,
  type EnrpHandleUpdate,
  type EnrpMessage,
  enrpMessageName,
  EnrpMessageType,
  type EnrpPresence,
  type ErrorCause,
  ErrorCauseCode,
  type HandleTableEntry,
  ParameterType,
  type ServerInformation,
  TransportUse,
  UpdateAction,
  WireError,
} from "../wire/mod.ts";
import { nextHandleTablePage, snapshotHandleTable } from "./_enrp_handle_table.ts";
import { EnrpLink } from "./_enrp_link.ts";
import { EnrpRequestError } from "./enrp_request_error.ts";
import { describeHandle, formatIdentifier, handleKey } from "./_parameters.ts";
import type { RegistrarPeerCore } from "./_registrar_core.ts";
import {
  EnrpEventTarget,
  type EnrpPeerState,
  type EnrpPeerStatus,
  type PeerDownDetail,
} from "./enrp_events.ts";
import {
  type EnrpOptions,
  type EnrpPeerAddress,
  type EnrpSettings,
  resolveEnrpOptions,
} from "./enrp_options.ts";
import type { PoolElementChangeDetail } from "./registrar_events.ts";

const NO_INFO = new Uint8Array(0);
/** The largest ENRP message sent: the u16 Length, padding included. */
const MAX_MESSAGE_LENGTH = 0xfffc;
/** Error cause information that still fits an ENRP Error: header, IDs, TLV and cause headers. */
const MAX_CAUSE_INFO_LENGTH = MAX_MESSAGE_LENGTH - 20;
/**
 * Rounds over the configured peers while some reject the List Request because they are joining
 * themselves (MAX-NUMBER-SERVER-HUNT's 3 in the pre-RFC drafts).
 */
const MAX_MENTOR_ROUNDS = 3;
/** Every this many heartbeats one peer is asked for its peer list, so that the set meshes fully. */
const LIST_REFRESH_HEARTBEATS = 20;

/** A peer registrar and what this registrar knows of it. */
class Peer {
  readonly serverId: number;
  address: EnrpPeerAddress | undefined;
  state: EnrpPeerState = "up";
  /** When a message from it last arrived; undefined before the first. */
  lastHeard: number | undefined;
  /** When it became known: the silence before the first message counts from here. */
  readonly knownSince: number;
  /** When the Presence with the R bit went out; -1 when none is out. */
  probeSentAt = -1;
  /** The link this registrar opened to it: where every message for it goes. */
  link: EnrpLink | undefined;
  /** The link it opened to this registrar: used to answer it while `link` cannot exist. */
  incoming: EnrpLink | undefined;
  connecting = false;
  /** Messages waiting for `link` to open (bounded by the write-queue bound). */
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  /** An audit of its PEs is running. */
  auditing = false;
  /** Its checksum differed while `link` was not open yet: audit it once `link` opens. */
  auditDue = false;
  /** PEs its own list left out once: the next audit that leaves them out removes them. */
  suspects = new Set<string>();
  /** The registrar that took it over or is taking it over; 0 when none. */
  takenOverBy = 0;
  /** When it was marked dead. */
  deadSince = 0;
  /** Earliest time to try its address again while it is dead. */
  retryAt = 0;

  constructor(serverId: number, address: EnrpPeerAddress | undefined, now: number) {
    this.serverId = serverId;
    this.address = address;
    this.knownSince = now;
  }

  /** "HOST:PORT" of its ENRP server, when known. */
  get label(): string | undefined {
    return this.address === undefined ? undefined : formatPeerAddress(this.address);
  }

  /** Up or probing: it gets announcements and takes part in takeovers. */
  get active(): boolean {
    return this.state === "up" || this.state === "probing";
  }
}

/** A configured peer address (`--peer`): the mentor candidates and a retry list. */
interface Contact {
  readonly address: EnrpPeerAddress;
  /** The server that answered there; 0 until one did. */
  serverId: number;
  /** The address is this registrar's own. */
  self: boolean;
  link: EnrpLink | undefined;
  connecting: boolean;
  retryAt: number;
}

/** A takeover this registrar runs (RFC 5353 §3.5.1). */
interface Takeover {
  readonly target: Peer;
  /** Peers whose Init Takeover Ack is still missing. */
  readonly awaiting: Set<number>;
  readonly expiresAt: number;
}

function isWildcard(hostname: string): boolean {
  return hostname === "0.0.0.0" || hostname === "::" || hostname === "[::]";
}

/** An address as the logs show it: "HOST:PORT", IPv6 in brackets. */
function formatPeerAddress(address: EnrpPeerAddress): string {
  return formatAddress({ transport: "tcp", ...address });
}

function sameAddress(a: EnrpPeerAddress, b: EnrpPeerAddress): boolean {
  return a.port === b.port && a.hostname === b.hostname;
}

/**
 * ENRP peering of one registrar: see the module documentation. Built by the registrar; reach it
 * as `registrar.enrp`.
 */
export class EnrpPeering extends EnrpEventTarget implements AsyncDisposable {
  readonly #core: RegistrarPeerCore;
  readonly #settings: EnrpSettings;
  readonly #serverId: number;
  readonly #logger: Logger;
  readonly #decodeOptions: DecodeOptions;
  readonly #server: MessageServer;
  readonly #links = new Map<EnrpLink, Promise<void>>();
  readonly #peers = new Map<number, Peer>();
  readonly #contacts: Contact[];
  readonly #takeovers = new Map<number, Takeover>();
  readonly #received = new Map<number, number>();
  readonly #stopping = new AbortController();
  readonly #finished = Promise.withResolvers<void>();
  /** Connection attempts under way, awaited by shutdown. */
  readonly #attempts = new Set<Promise<unknown>>();
  #synchronized = false;
  #nextHeartbeatAt = 0;
  #heartbeats = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #join: Promise<void> = Promise.resolve();
  #shutdown: Promise<void> | undefined;

  /** Binds the ENRP server and starts joining; the registrar calls it. */
  constructor(core: RegistrarPeerCore, options: EnrpOptions) {
    super();
    const settings = resolveEnrpOptions(options);
    this.#core = core;
    this.#settings = settings;
    this.#serverId = core.settings.serverId;
    this.#logger = settings.logger ?? core.logger.getChild("enrp");
    this.#decodeOptions = { maxMessageLength: settings.messageLimits.maxMessageLength };
    this.#server = startMessageServer({
      ...settings.messageLimits,
      hostname: settings.hostname,
      port: settings.port,
      role: "ENRP",
      maxConnections: settings.maxConnections,
      logger: this.#logger.getChild("transport"),
      onConnection: (connection) => this.#track(new EnrpLink(connection, false)),
    });
    const own = this.#server.addr;
    this.#contacts = settings.peers.map((address) => ({
      address,
      serverId: 0,
      self: address.port === own.port &&
        (address.hostname === own.hostname || isWildcard(own.hostname)),
      link: undefined,
      connecting: false,
      retryAt: 0,
    }));
    void this.#server.finished.then(() => this.shutdown());
    this.#logger.info("ENRP server {serverId} listening on {address}", {
      serverId: formatIdentifier(this.#serverId),
      address: formatAddress(own),
    });
    this.#join = this.#joinRegistrarSet();
    this.#schedule(core.settings.now());
  }

  /** The ENRP server's address; the port is real at once, also with port 0. */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** This registrar's Server Identifier. */
  get serverId(): number {
    return this.#serverId;
  }

  /**
   * True once the first handlespace download from a mentor is done, or no mentor answered and
   * the registrar serves alone: the readiness check of the admin API.
   */
  get synchronized(): boolean {
    return this.#synchronized;
  }

  /** Resolves once peering has stopped and every ENRP connection is closed. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Every peer registrar known, with its state. */
  peers(): EnrpPeerStatus[] {
    const handlespace = this.#core.handlespace;
    return [...this.#peers.values()].map((peer) => ({
      serverId: peer.serverId,
      address: peer.label,
      state: peer.state,
      lastHeard: peer.lastHeard,
      poolElements: handlespace.countOwnedBy(peer.serverId),
    }));
  }

  /** ENRP messages received (decoded), by message type name, e.g. `ENRP_PRESENCE`. */
  messagesReceived(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [type, count] of this.#received) counts[enrpMessageName(type)] = count;
    return counts;
  }

  /**
   * Whether the registrar `serverId` is gone: dead, being taken over, or not a known peer (a
   * re-registration of its PE may then move the PE here, DECISIONS.md).
   */
  isRegistrarGone(serverId: number): boolean {
    if (serverId === this.#serverId) return false;
    const peer = this.#peers.get(serverId);
    return peer === undefined || !peer.active;
  }

  /**
   * Announces a change of a PE this registrar owns to every peer: ADD_PE with the PE as it is
   * now, or DEL_PE once it is gone (RFC 5353 §3.3). PEs that leave because this registrar shuts
   * down are not announced: the peers take them over, and the PEs re-home by server hunt.
   */
  announce(change: PoolElementChangeDetail): void {
    if (this.#stopping.signal.aborted || change.reason === "shutdown") return;
    const handlespace = this.#core.handlespace;
    const view = handlespace.find(change.handle, change.peId);
    const present = view !== undefined && view.homeRegistrarId === this.#serverId;
    const message = encodeEnrpMessage({
      type: EnrpMessageType.handleUpdate,
      senderServerId: this.#serverId,
      receiverServerId: 0,
      takeoverSuggested: false,
      action: present ? UpdateAction.addPoolElement : UpdateAction.deletePoolElement,
      poolHandle: change.handle,
      poolElement: present ? view.toParameter() : change.element,
    });
    for (const peer of this.#peers.values()) {
      if (peer.active) this.#sendTo(peer, message);
    }
  }

  /** Closes every ENRP connection and stops the timers; idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  /** Same as {@linkcode EnrpPeering.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#server.shutdown();
    await Promise.all(this.#attempts);
    for (const link of this.#links.keys()) link.close();
    await Promise.all(this.#links.values());
    await this.#join;
    this.#logger.info("ENRP server {serverId} stopped", {
      serverId: formatIdentifier(this.#serverId),
    });
    this.#finished.resolve();
  }

  #now(): number {
    return this.#core.settings.now();
  }

  // ---------------------------------------------------------------- joining (RFC 5353 §3.2)

  /**
   * Finds a mentor among the configured peers, in order (RFC 5353 §3.2.2.1: the others are
   * backups), learns its peer list and downloads the handlespace. Alone (no peer configured,
   * or none answered), the registrar serves at once.
   */
  async #joinRegistrarSet(): Promise<void> {
    const signal = this.#stopping.signal;
    for (let round = 1; round <= MAX_MENTOR_ROUNDS && !signal.aborted; round++) {
      const rejectedBy: number[] = [];
      for (const contact of this.#contacts) {
        if (contact.self || signal.aborted) continue;
        const outcome = await this.#tryMentor(contact);
        if (outcome === "done") return;
        if (outcome !== "failed") rejectedBy.push(outcome);
      }
      // RFC 5353 §3.2.2.2: a mentor that is joining itself rejects; wait and ask again. Two
      // servers that are each other's only mentor would wait for each other: the lower ID
      // serves alone at once and the other then joins through it.
      if (rejectedBy.length === 0 || rejectedBy.every((id) => id > this.#serverId)) break;
      await delay(2 * this.#settings.maxTimeNoResponseMs, signal);
    }
    if (signal.aborted) return;
    if (this.#contacts.some((contact) => !contact.self)) {
      this.#logger.warn(
        "No mentor answered: serving alone; peers that appear later are reconciled by the checksum audit",
      );
    }
    this.#synchronize(undefined);
  }

  /**
   * One mentor attempt: its peer list, then its whole handlespace. Returns "done", "failed", or
   * the ID of a mentor that rejected the request (R bit) because it is still joining.
   */
  async #tryMentor(contact: Contact): Promise<"done" | "failed" | number> {
    const { maxTimeNoResponseMs } = this.#settings;
    const link = await this.#openContact(contact);
    if (link === undefined) return "failed";
    try {
      const list = await link.requestList(
        this.#encode({ type: EnrpMessageType.listRequest, receiverServerId: 0 }),
        maxTimeNoResponseMs,
      );
      if (list.reject) {
        this.#logger.info("Mentor candidate {peer} is still joining (R bit)", {
          peer: link.peer,
        });
        return list.senderServerId;
      }
      this.#learnServers(list.servers);
      let pages = 0;
      for (let more = true; more;) {
        const page = await link.requestTable(
          this.#encode({
            type: EnrpMessageType.handleTableRequest,
            receiverServerId: link.serverId,
            ownChildrenOnly: false,
          }),
          maxTimeNoResponseMs,
        );
        if (page.reject) {
          throw new EnrpRequestError(`${link.peer} rejected the handle table request`, "rejected");
        }
        this.#applyEntries(page.entries, "peer", undefined);
        more = page.more;
        pages++;
      }
      this.#logger.info(
        "Downloaded the handlespace from mentor {mentor} in {pages} pages: {count} PEs",
        {
          mentor: formatIdentifier(link.serverId),
          pages,
          count: this.#core.handlespace.elementCount,
        },
      );
      this.#synchronize(link.serverId);
      return "done";
    } catch (error) {
      if (!this.#stopping.signal.aborted) {
        this.#logger.warn("Mentor candidate {peer} failed: {error}; trying the next", {
          peer: link.peer,
          error,
        });
      }
      return "failed";
    }
  }

  #synchronize(mentor: number | undefined): void {
    this.#synchronized = true;
    this.emit("synchronized", {
      mentorServerId: mentor,
      poolElements: this.#core.handlespace.elementCount,
    });
  }

  /** Adds the servers of a List Response (or Server Information) as peers and greets new ones. */
  #learnServers(servers: readonly ServerInformation[]): void {
    for (const server of servers) {
      if (server.serverId === this.#serverId || server.serverId === 0) continue;
      const known = this.#peers.has(server.serverId);
      const peer = this.#peer(server.serverId, addressOf(server));
      if (peer !== undefined && !known) this.#sendTo(peer, this.#presence(peer, true));
    }
  }

  /** Connects to a configured address and greets it with Presence R=1; undefined on failure. */
  async #openContact(contact: Contact): Promise<EnrpLink | undefined> {
    if (contact.link !== undefined && !contact.link.closed) return contact.link;
    if (contact.connecting) return undefined;
    contact.connecting = true;
    try {
      const connection = await this.#connect(contact.address);
      const link = new EnrpLink(connection, true, contact.serverId);
      contact.link = link;
      this.#track(link);
      link.send(this.#presence(undefined, true, link));
      return link;
    } catch (error) {
      this.#logger.debug("Cannot reach configured peer {peer}: {error}", {
        peer: `${contact.address.hostname}:${contact.address.port}`,
        error,
      });
      return undefined;
    } finally {
      contact.connecting = false;
      contact.retryAt = this.#now() + this.#retryDelay();
    }
  }

  #connect(address: EnrpPeerAddress): Promise<MessageConnection> {
    const settings = this.#settings;
    const attempt = connectMessage({
      ...settings.messageLimits,
      hostname: address.hostname,
      port: address.port,
      timeoutMs: settings.connectTimeoutMs,
      signal: this.#stopping.signal,
      logger: this.#logger.getChild("transport"),
      ...(settings.connect === undefined ? {} : { connect: settings.connect }),
    });
    const tracked = attempt.catch(() => {}).finally(() => this.#attempts.delete(tracked));
    this.#attempts.add(tracked);
    return attempt;
  }

  #retryDelay(): number {
    return 2 * this.#settings.maxTimeLastHeardMs;
  }

  // ---------------------------------------------------------------- connections and sending

  /** Starts reading `link`; the returned task ends when the link does. */
  #track(link: EnrpLink): Promise<void> {
    const task = this.#read(link).finally(() => {
      this.#links.delete(link);
      this.#linkClosed(link);
    });
    this.#links.set(link, task);
    return task;
  }

  async #read(link: EnrpLink): Promise<void> {
    try {
      for (let bytes = await link.connection.readMessage(); bytes !== null;) {
        this.#receive(link, bytes);
        bytes = await link.connection.readMessage();
      }
    } catch {
      // The transport logged why the connection closed (framing error, reset, slow peer).
    }
  }

  #linkClosed(link: EnrpLink): void {
    link.close();
    if (this.#stopping.signal.aborted) return;
    for (const contact of this.#contacts) {
      if (contact.link === link) contact.link = undefined;
    }
    const peer = this.#peers.get(link.serverId);
    if (peer === undefined) return;
    if (peer.link === link) peer.link = undefined;
    if (peer.incoming === link) peer.incoming = undefined;
    // A connection that ends is the first sign of a dead peer: probe it now (RFC 5353 §3.4.3:
    // a failed send makes it dead at once).
    if (peer.state === "up") this.#probe(peer);
  }

  /** Sends `message` to `peer` on the link this registrar opened to it, connecting if needed. */
  #sendTo(peer: Peer, message: Uint8Array): void {
    if (this.#stopping.signal.aborted) return;
    const link = peer.link;
    if (link !== undefined && !link.closed) {
      link.send(message);
      return;
    }
    if (peer.address === undefined) {
      // No address to connect to (it never sent its Server Information): answer where it speaks.
      if (peer.incoming !== undefined && !peer.incoming.closed) {
        peer.incoming.send(message);
      } else {
        this.#sendFailed(peer);
      }
      return;
    }
    if (peer.pendingBytes + message.length <= this.#settings.messageLimits.maxWriteQueueBytes) {
      peer.pending.push(message);
      peer.pendingBytes += message.length;
    }
    if (!peer.connecting) this.#background(this.#connectPeer(peer));
  }

  /** Runs `task` without waiting for it; shutdown does. */
  #background(task: Promise<unknown>): void {
    const tracked = task.catch(() => {}).finally(() => this.#attempts.delete(tracked));
    this.#attempts.add(tracked);
  }

  async #connectPeer(peer: Peer): Promise<void> {
    const address = peer.address;
    if (address === undefined) return;
    peer.connecting = true;
    let link: EnrpLink;
    try {
      const connection = await this.#connect(address);
      link = new EnrpLink(connection, true, peer.serverId);
    } catch (error) {
      peer.connecting = false;
      peer.pending = [];
      peer.pendingBytes = 0;
      if (this.#stopping.signal.aborted) return;
      this.#logger.debug("Cannot connect to peer {peerId} at {peer}: {error}", {
        peerId: formatIdentifier(peer.serverId),
        peer: peer.label,
        error,
      });
      this.#sendFailed(peer);
      return;
    }
    peer.connecting = false;
    if (this.#stopping.signal.aborted) {
      link.close();
      return;
    }
    peer.link?.close();
    peer.link = link;
    this.#track(link);
    const pending = peer.pending;
    peer.pending = [];
    peer.pendingBytes = 0;
    // First a Presence whose Server Information names the address this link leaves from.
    link.send(this.#presence(peer, false, link));
    for (const message of pending) link.send(message);
    if (peer.auditDue && this.#synchronized && !peer.auditing && peer.active) {
      this.#background(this.#audit(peer, link));
    }
  }

  /**
   * Opens this registrar's own connection to `peer` unless it is open or opening; the
   * connection's first message is a Presence (the greeting).
   */
  #openLink(peer: Peer): void {
    if (this.#stopping.signal.aborted || peer.connecting || peer.address === undefined) return;
    if (peer.link !== undefined && !peer.link.closed) return;
    this.#background(this.#connectPeer(peer));
  }

  /** A message for `peer` could not be sent: a probe fails at once, a live peer gets probed. */
  #sendFailed(peer: Peer): void {
    if (peer.state === "probing") {
      this.#peerDown(peer, "no-response");
      this.#startTakeover(peer);
    } else if (peer.state === "up") {
      this.#probe(peer);
    }
  }

  /** Every ENRP message this registrar sends: sender ID filled in. */
  #encode(message: DistributiveOmit<EnrpMessage, "senderServerId">): Uint8Array {
    return encodeEnrpMessage({ ...message, senderServerId: this.#serverId });
  }

  /**
   * A Presence with this registrar's ownership checksum and, when its address is known for the
   * link it leaves on, its Server Information (RFC 5353 §2.1).
   */
  #presence(peer: Peer | undefined, replyRequired: boolean, link?: EnrpLink): Uint8Array {
    const serverInformation = this.#serverInformation(link ?? peer?.link);
    const checksum = this.#core.handlespace.checksum(this.#serverId);
    const receiverServerId = peer?.serverId ?? 0;
    const type = EnrpMessageType.presence;
    return this.#encode(
      serverInformation === undefined
        ? { type, receiverServerId, replyRequired, checksum }
        : { type, receiverServerId, replyRequired, checksum, serverInformation },
    );
  }

  /**
   * How peers reach this registrar's ENRP server: the bound address, or, when it is a wildcard,
   * the local address of the connection the message leaves on; undefined when that is unknown
   * yet (a message queued while the connection opens: the link's first Presence carries it).
   */
  #serverInformation(link: EnrpLink | undefined): ServerInformation | undefined {
    const addr = this.#server.addr;
    let hostname = addr.hostname;
    if (isWildcard(hostname)) {
      const local = link?.connection.localAddr;
      if (local?.transport !== "tcp") return undefined;
      hostname = local.hostname;
    }
    return {
      serverId: this.#serverId,
      transport: {
        type: ParameterType.tcpTransport,
        port: addr.port,
        transportUse: TransportUse.dataOnly,
        addresses: [hostname],
      },
    };
  }

  /** An ENRP Error with one cause, on `link` (never in answer to an Error). */
  #sendError(link: EnrpLink, code: number, info: Uint8Array = NO_INFO): void {
    const cause: ErrorCause = {
      code,
      info: info.length > MAX_CAUSE_INFO_LENGTH ? info.subarray(0, MAX_CAUSE_INFO_LENGTH) : info,
    };
    link.send(this.#encode({
      type: EnrpMessageType.error,
      receiverServerId: link.serverId,
      errorCauses: [cause],
    }));
  }

  // ---------------------------------------------------------------- peers

  /** The peer `serverId`, created when new (up to `maxPeers`); its address updated when given. */
  #peer(serverId: number, address: EnrpPeerAddress | undefined): Peer | undefined {
    let peer = this.#peers.get(serverId);
    if (peer === undefined) {
      if (this.#peers.size >= this.#settings.maxPeers && !this.#evictDeadPeer()) {
        this.#logger.warn(
          "Ignoring registrar {peerId}: {maxPeers} peers are known, the maximum",
          { peerId: formatIdentifier(serverId), maxPeers: this.#settings.maxPeers },
        );
        return undefined;
      }
      peer = new Peer(serverId, address, this.#now());
      this.#peers.set(serverId, peer);
      this.#schedule(this.#now());
    } else if (
      address !== undefined && (peer.address === undefined || !sameAddress(peer.address, address))
    ) {
      peer.address = address;
    }
    // An address belongs to one server: another peer that had it has moved or restarted.
    if (address !== undefined) {
      for (const other of this.#peers.values()) {
        if (other !== peer && other.address !== undefined && sameAddress(other.address, address)) {
          other.address = undefined;
        }
      }
    }
    return peer;
  }

  /** Drops the longest-dead peer that owns nothing here; false when there is none. */
  #evictDeadPeer(): boolean {
    let oldest: Peer | undefined;
    for (const peer of this.#peers.values()) {
      if (peer.state !== "dead") continue;
      if (this.#core.handlespace.countOwnedBy(peer.serverId) > 0) continue;
      if (oldest === undefined || peer.deadSince < oldest.deadSince) oldest = peer;
    }
    if (oldest === undefined) return false;
    this.#dropLinks(oldest);
    this.#peers.delete(oldest.serverId);
    return true;
  }

  /** Notes that `peer` spoke: it is alive (RFC 5353 §3.4.3 peer_last_heard). */
  #heard(peer: Peer): void {
    const wasHeard = peer.lastHeard !== undefined;
    peer.lastHeard = this.#now();
    peer.probeSentAt = -1;
    switch (peer.state) {
      case "up":
        if (!wasHeard) this.#emitUp(peer);
        return;
      case "probing":
        peer.state = "up";
        if (!wasHeard) this.#emitUp(peer);
        return;
      case "taking-over":
        // RFC 5353 §3.5.1: the target is alive, the takeover stops.
        this.#takeovers.delete(peer.serverId);
        this.#logger.warn("Registrar {peerId} is alive: takeover stopped", {
          peerId: formatIdentifier(peer.serverId),
        });
        break;
      case "dead":
        this.#logger.info("Registrar {peerId} is back", {
          peerId: formatIdentifier(peer.serverId),
        });
        break;
    }
    peer.state = "up";
    peer.takenOverBy = 0;
    this.#emitUp(peer);
  }

  #emitUp(peer: Peer): void {
    this.#logger.info("Peer registrar {peerId} is up at {peer}", {
      peerId: formatIdentifier(peer.serverId),
      peer: peer.label ?? "an unknown address",
    });
    this.emit("peer-up", { serverId: peer.serverId, address: peer.label });
  }

  /** Silence or a lost connection: send Presence R=1 and wait MAX-TIME-NO-RESPONSE. */
  #probe(peer: Peer): void {
    if (peer.state !== "up") return;
    peer.state = "probing";
    const now = this.#now();
    peer.probeSentAt = now;
    this.#logger.debug("Probing silent registrar {peerId}", {
      peerId: formatIdentifier(peer.serverId),
    });
    this.#sendTo(peer, this.#presence(peer, true));
    this.#schedule(now + this.#settings.maxTimeNoResponseMs);
  }

  #peerDown(peer: Peer, reason: PeerDownDetail["reason"]): void {
    if (peer.state === "dead") return;
    peer.state = "dead";
    peer.probeSentAt = -1;
    peer.deadSince = this.#now();
    peer.retryAt = peer.deadSince + this.#retryDelay();
    peer.auditing = false;
    peer.auditDue = false;
    peer.suspects.clear();
    // What it sent before it died must not be read as a sign of life later.
    this.#dropLinks(peer);
    this.#logger.warn("Peer registrar {peerId} is down ({reason})", {
      peerId: formatIdentifier(peer.serverId),
      reason,
    });
    this.emit("peer-down", { serverId: peer.serverId, address: peer.label, reason });
  }

  #dropLinks(peer: Peer): void {
    for (const link of this.#links.keys()) {
      if (link.serverId === peer.serverId) link.close();
    }
    peer.link = undefined;
    peer.incoming = undefined;
    peer.pending = [];
    peer.pendingBytes = 0;
  }

  // ---------------------------------------------------------------- timers

  /** Makes sure the timer fires by `at`. */
  #schedule(at: number): void {
    if (this.#stopping.signal.aborted || at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(at - this.#now())));
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#stopping.signal.aborted) return;
    const now = this.#now();
    const settings = this.#settings;
    let next = Infinity;
    if (now >= this.#nextHeartbeatAt) {
      this.#heartbeat();
      this.#nextHeartbeatAt = now + settings.heartbeatCycleMs;
    }
    next = Math.min(next, this.#nextHeartbeatAt);
    for (const peer of [...this.#peers.values()]) {
      next = Math.min(next, this.#supervise(peer, now));
    }
    for (const takeover of [...this.#takeovers.values()]) {
      if (now >= takeover.expiresAt) this.#completeTakeover(takeover);
      else next = Math.min(next, takeover.expiresAt);
    }
    for (const contact of this.#contacts) {
      if (contact.self || contact.serverId !== 0 || contact.connecting) continue;
      if (contact.link !== undefined && !contact.link.closed) continue;
      if (now >= contact.retryAt && this.#synchronized) {
        this.#background(this.#openContact(contact));
      }
      next = Math.min(next, Math.max(contact.retryAt, now + settings.heartbeatCycleMs));
    }
    this.#schedule(next);
  };

  /**
   * RFC 5353 §3.4.2: Presence to every peer each PEER-HEARTBEAT-CYCLE. Now and then one peer in
   * turn is also asked for its peer list, so that a server introduced to only part of the set
   * (its mentor was still joining) meets the rest.
   */
  #heartbeat(): void {
    const active = [...this.#peers.values()].filter((peer) => peer.active);
    for (const peer of active) this.#sendTo(peer, this.#presence(peer, false));
    this.#heartbeats++;
    if (!this.#synchronized || active.length === 0) return;
    if (this.#heartbeats % LIST_REFRESH_HEARTBEATS !== 0) return;
    const peer = active[(this.#heartbeats / LIST_REFRESH_HEARTBEATS) % active.length]!;
    const link = peer.link;
    if (link === undefined || link.closed) return;
    const request = this.#encode({
      type: EnrpMessageType.listRequest,
      receiverServerId: peer.serverId,
    });
    this.#background(
      link.requestList(request, this.#settings.maxTimeNoResponseMs).then((list) => {
        if (!list.reject) this.#learnServers(list.servers);
      }),
    );
  }

  /** Applies the thresholds to one peer; returns when it needs looking at again. */
  #supervise(peer: Peer, now: number): number {
    const { maxTimeLastHeardMs, maxTimeNoResponseMs, takeoverExpiryMs } = this.#settings;
    switch (peer.state) {
      case "up": {
        const due = (peer.lastHeard ?? peer.knownSince) + maxTimeLastHeardMs;
        if (now < due) return due;
        this.#probe(peer);
        return now + maxTimeNoResponseMs;
      }
      case "probing": {
        const due = peer.probeSentAt + maxTimeNoResponseMs;
        if (now < due) return due;
        this.#peerDown(peer, "no-response");
        this.#startTakeover(peer);
        return Infinity;
      }
      case "taking-over":
        return Infinity;
      case "dead": {
        let due = Infinity;
        // Another registrar won the arbitration but never sent Takeover Server (it died too):
        // take the PEs over here, so that none is left without a live home.
        if (peer.takenOverBy !== 0 && peer.takenOverBy !== this.#serverId) {
          const giveUp = peer.deadSince + 2 * takeoverExpiryMs;
          if (now >= giveUp && this.#core.handlespace.countOwnedBy(peer.serverId) > 0) {
            this.#logger.warn(
              "Registrar {winner} did not complete its takeover of {peerId}: taking it over here",
              {
                winner: formatIdentifier(peer.takenOverBy),
                peerId: formatIdentifier(peer.serverId),
              },
            );
            peer.takenOverBy = 0;
            this.#startTakeover(peer);
          } else if (now < giveUp) {
            due = giveUp;
          }
        }
        // A dead peer with an address is tried now and then: it may be back (same ID).
        if (peer.address !== undefined && !peer.connecting) {
          if (now >= peer.retryAt) {
            peer.retryAt = now + this.#retryDelay();
            this.#background(
              this.#connectPeer(peer).then(() => {
                if (peer.link !== undefined && peer.state === "dead") {
                  peer.link.send(this.#presence(peer, true));
                }
              }),
            );
          }
          due = Math.min(due, peer.retryAt);
        }
        return due;
      }
    }
  }

  // ---------------------------------------------------------------- takeover (RFC 5353 §3.5)

  /**
   * Starts taking over a dead peer: Init Takeover to every peer (the target too, in case it is
   * alive), then wait for every active peer's ack or the takeover expiry. A peer that owns no
   * PEs here is just dropped, as RSPLIB does.
   */
  #startTakeover(target: Peer): void {
    if (this.#stopping.signal.aborted || this.#takeovers.has(target.serverId)) return;
    if (this.#core.handlespace.countOwnedBy(target.serverId) === 0) {
      target.state = "dead";
      target.takenOverBy = 0;
      return;
    }
    target.state = "taking-over";
    target.takenOverBy = this.#serverId;
    const awaiting = new Set<number>();
    for (const peer of this.#peers.values()) {
      if (peer !== target && peer.active) awaiting.add(peer.serverId);
    }
    const now = this.#now();
    const takeover: Takeover = {
      target,
      awaiting,
      expiresAt: now + this.#settings.takeoverExpiryMs,
    };
    this.#takeovers.set(target.serverId, takeover);
    this.#logger.info("Starting the takeover of registrar {peerId}: waiting for {count} acks", {
      peerId: formatIdentifier(target.serverId),
      count: awaiting.size,
    });
    const init = this.#encode({
      type: EnrpMessageType.initTakeover,
      receiverServerId: 0,
      targetServerId: target.serverId,
    });
    for (const peer of this.#peers.values()) {
      if (peer.active) this.#sendTo(peer, init);
    }
    // The target, if it is alive after all, answers with Presence (§3.5.1 rule 1).
    if (target.link !== undefined && !target.link.closed) target.link.send(init);
    if (awaiting.size === 0) {
      this.#completeTakeover(takeover);
    } else {
      this.#schedule(takeover.expiresAt);
    }
  }

  /**
   * Every ack is in, or the expiry passed: Takeover Server to every peer, then re-home every PE
   * of the target here (§3.5.2). Peers that never acked are presumed dead as well and taken over
   * next (RSPLIB abandons the takeover instead and lets the PEs age out).
   */
  #completeTakeover(takeover: Takeover): void {
    const target = takeover.target;
    if (this.#takeovers.get(target.serverId) !== takeover) return;
    this.#takeovers.delete(target.serverId);
    const silent = [...takeover.awaiting].map((id) => this.#peers.get(id)).filter(
      (peer): peer is Peer => peer !== undefined && peer.active,
    );
    const message = this.#encode({
      type: EnrpMessageType.takeoverServer,
      receiverServerId: 0,
      targetServerId: target.serverId,
    });
    for (const peer of this.#peers.values()) {
      if (peer.active && !silent.includes(peer)) this.#sendTo(peer, message);
    }
    target.state = "dead";
    target.takenOverBy = this.#serverId;
    const count = this.#core.rehome(target.serverId, this.#serverId);
    this.#logger.info("Took over {count} PEs of registrar {peerId}", {
      count,
      peerId: formatIdentifier(target.serverId),
    });
    this.emit("takeover", {
      targetServerId: target.serverId,
      homeServerId: this.#serverId,
      poolElements: count,
      local: true,
    });
    for (const peer of silent) {
      this.#peerDown(peer, "no-takeover-ack");
      this.#startTakeover(peer);
    }
  }

  #onInitTakeover(link: EnrpLink, sender: Peer, targetId: number): void {
    const ack = () =>
      link.send(this.#encode({
        type: EnrpMessageType.initTakeoverAck,
        receiverServerId: sender.serverId,
        targetServerId: targetId,
      }));
    if (targetId === this.#serverId) {
      // §3.5.1 rule 1: alive after all; tell everybody.
      this.#logger.warn(
        "Registrar {peerId} tries to take this registrar over: announcing Presence",
        {
          peerId: formatIdentifier(sender.serverId),
        },
      );
      this.#announcePresence();
      return;
    }
    const own = this.#takeovers.get(targetId);
    // DECISIONS.md: of two concurrent takeovers, the lower server ID wins (as RSPLIB).
    if (own !== undefined && sender.serverId > this.#serverId) return;
    if (own !== undefined) {
      this.#takeovers.delete(targetId);
      this.#logger.info("Registrar {winner} takes over {peerId}: stopping this takeover", {
        winner: formatIdentifier(sender.serverId),
        peerId: formatIdentifier(targetId),
      });
    }
    const target = this.#peers.get(targetId);
    if (target !== undefined) {
      this.#markTakenOver(target, sender.serverId);
      this.#schedule(target.deadSince + 2 * this.#settings.takeoverExpiryMs);
    }
    ack();
  }

  /** `target` is (being) taken over by `winner`: dead here, not monitored any more. */
  #markTakenOver(target: Peer, winner: number): void {
    if (target.active) {
      this.#peerDown(target, "taken-over");
    } else {
      target.state = "dead";
      target.deadSince = this.#now();
    }
    target.takenOverBy = winner;
  }

  #onInitTakeoverAck(sender: Peer, targetId: number): void {
    const takeover = this.#takeovers.get(targetId);
    if (takeover === undefined) return;
    takeover.awaiting.delete(sender.serverId);
    if (takeover.awaiting.size === 0) this.#completeTakeover(takeover);
  }

  #onTakeoverServer(sender: Peer, targetId: number): void {
    if (targetId === this.#serverId) {
      // Taken over while alive (a false alarm): every PE this registrar owns is announced again,
      // which moves it back here in every replica.
      const mine = [...this.#core.handlespace.ownedBy(this.#serverId)];
      this.#logger.warn(
        "Registrar {peerId} took this registrar over: reclaiming its {count} PEs",
        { peerId: formatIdentifier(sender.serverId), count: mine.length },
      );
      this.#announcePresence();
      for (const view of mine) {
        this.announce({
          handle: view.handle,
          peId: view.identifier,
          reason: "registration",
          element: view.toParameter(),
          own: true,
        });
      }
      return;
    }
    this.#takeovers.delete(targetId);
    const target = this.#peers.get(targetId);
    if (target !== undefined) this.#markTakenOver(target, sender.serverId);
    const count = this.#core.rehome(targetId, sender.serverId);
    this.#logger.info("Registrar {winner} took over {count} PEs of registrar {peerId}", {
      winner: formatIdentifier(sender.serverId),
      count,
      peerId: formatIdentifier(targetId),
    });
    this.emit("takeover", {
      targetServerId: targetId,
      homeServerId: sender.serverId,
      poolElements: count,
      local: false,
    });
  }

  /** Presence to every peer at once (not only at the next heartbeat). */
  #announcePresence(): void {
    for (const peer of this.#peers.values()) {
      if (peer.state !== "dead" || peer.link !== undefined) {
        this.#sendTo(peer, this.#presence(peer, false));
      }
    }
  }

  // ---------------------------------------------------------------- receiving

  #receive(link: EnrpLink, bytes: Uint8Array): void {
    let message: EnrpMessage;
    try {
      message = decodeEnrpMessage(bytes, this.#decodeOptions);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.#logger.info("Bad ENRP message from {peer}: {error}", {
        peer: link.peer,
        error: error.message,
      });
      // RFC 5353 §3.7 and RFC 5354 §3-§4: report when the type or parameter bits ask for it.
      if (error.report) this.#sendError(link, error.causeCode, error.causeInfo ?? NO_INFO);
      return;
    }
    this.#received.set(message.type, (this.#received.get(message.type) ?? 0) + 1);
    for (const parameter of message.unrecognizedParameters ?? []) {
      this.#sendError(link, ErrorCauseCode.unrecognizedParameter, parameter);
    }
    const senderId = message.senderServerId;
    if (senderId === 0) {
      // A tool (hsdump) or a server that does not say who it is: it may read, not write.
      this.#serveAnonymous(link, message);
      return;
    }
    if (senderId === this.#serverId) {
      this.#logger.warn(
        "Closing ENRP connection with {peer}: it speaks with this registrar's own ID (a loop to itself, or a duplicate ID)",
        { peer: link.peer },
      );
      for (const contact of this.#contacts) if (contact.link === link) contact.self = true;
      link.close();
      return;
    }
    if (!this.#bind(link, senderId)) {
      if (message.type !== EnrpMessageType.error) {
        this.#sendError(link, ErrorCauseCode.rejectionDueToSecurityConsiderations);
      }
      return;
    }
    let peer = this.#peers.get(senderId);
    if (peer === undefined) {
      // RFC 5353 §3.4.1: a message from an unknown server makes it a peer, and it gets a
      // Presence with the R bit. Over TCP its address is in its Server Information (a Presence
      // carries it); other messages are answered on the connection they came on, and change
      // nothing until the server has introduced itself.
      if (message.type === EnrpMessageType.presence) {
        peer = this.#peer(senderId, addressOf(message.serverInformation));
      }
      if (peer === undefined) {
        this.#serveAnonymous(link, message);
        if (message.type !== EnrpMessageType.error) {
          link.send(this.#presence(undefined, true, link));
        }
        return;
      }
    }
    if (!link.outgoing) peer.incoming = link;
    else if (peer.link !== link && (peer.link === undefined || peer.link.closed)) peer.link = link;
    this.#heard(peer);
    this.#handle(link, peer, message);
  }

  /**
   * Binds `link` to `senderId` on its first message; false when it is bound to another server.
   * An outgoing link opened to an address where another server now answers moves to that server.
   */
  #bind(link: EnrpLink, senderId: number): boolean {
    if (link.serverId === senderId) return true;
    if (link.serverId !== 0) {
      this.#logger.warn(
        "Refusing a message from {peer}: it claims server ID {claimed} on a connection of {peerId}",
        {
          peer: link.peer,
          claimed: formatIdentifier(senderId),
          peerId: formatIdentifier(link.serverId),
        },
      );
      return false;
    }
    link.serverId = senderId;
    if (link.outgoing) {
      for (const contact of this.#contacts) {
        if (contact.link === link) contact.serverId = senderId;
      }
      const expected = link.expectedServerId;
      if (expected !== 0 && expected !== senderId) {
        const old = this.#peers.get(expected);
        if (old?.link === link) {
          old.link = undefined;
          old.address = undefined;
        }
      }
    }
    return true;
  }

  /** What a sender that is not a peer may ask: the peer list and the handle table. */
  #serveAnonymous(link: EnrpLink, message: EnrpMessage): void {
    switch (message.type) {
      case EnrpMessageType.listRequest:
        this.#answerList(link);
        return;
      case EnrpMessageType.handleTableRequest:
        this.#answerTable(link, message);
        return;
      case EnrpMessageType.presence:
        if (message.replyRequired) link.send(this.#presence(undefined, false, link));
        return;
      case EnrpMessageType.listResponse:
        if (!link.deliverList(message)) this.#unexpected(link, message);
        return;
      case EnrpMessageType.handleTableResponse:
        if (!link.deliverTable(message)) this.#unexpected(link, message);
        return;
      case EnrpMessageType.error:
        this.#logError(link, message.errorCauses);
        return;
      default:
        this.#logger.info("Ignoring {type} from {peer}: the sender is not a known peer", {
          type: enrpMessageName(message.type),
          peer: link.peer,
        });
    }
  }

  #handle(link: EnrpLink, peer: Peer, message: EnrpMessage): void {
    switch (message.type) {
      case EnrpMessageType.presence:
        this.#onPresence(link, peer, message);
        return;
      case EnrpMessageType.handleTableRequest:
        this.#answerTable(link, message);
        return;
      case EnrpMessageType.handleTableResponse:
        if (!link.deliverTable(message)) this.#unexpected(link, message);
        return;
      case EnrpMessageType.handleUpdate:
        this.#onHandleUpdate(link, peer, message);
        return;
      case EnrpMessageType.listRequest:
        this.#answerList(link);
        return;
      case EnrpMessageType.listResponse:
        if (!link.deliverList(message)) this.#unexpected(link, message);
        return;
      case EnrpMessageType.initTakeover:
        this.#onInitTakeover(link, peer, message.targetServerId);
        return;
      case EnrpMessageType.initTakeoverAck:
        this.#onInitTakeoverAck(peer, message.targetServerId);
        return;
      case EnrpMessageType.takeoverServer:
        this.#onTakeoverServer(peer, message.targetServerId);
        return;
      case EnrpMessageType.error:
        this.#logError(link, message.errorCauses);
        return;
    }
  }

  #unexpected(link: EnrpLink, message: EnrpMessage): void {
    this.#logger.debug("Ignoring an unrequested {type} from {peer}", {
      type: enrpMessageName(message.type),
      peer: link.peer,
    });
  }

  #logError(link: EnrpLink, causes: readonly ErrorCause[]): void {
    this.#logger.warn("ENRP Error from {peer}: causes {causes}", {
      peer: link.peer,
      causes: causes.map((cause) => cause.code),
    });
  }

  #onPresence(link: EnrpLink, peer: Peer, message: EnrpPresence): void {
    const address = addressOf(message.serverInformation);
    if (address !== undefined) this.#peer(peer.serverId, address);
    // RFC 5353 §2.1: the answer carries the Server Information; it goes where the probe came.
    if (message.replyRequired) link.send(this.#presence(peer, false, link));
    // A peer that speaks while this registrar has no connection of its own to it (a new
    // acquaintance, whatever its R bit, or one that is back) is greeted on a new one at once,
    // not at the next heartbeat, which may be a whole PEER-HEARTBEAT-CYCLE away.
    this.#openLink(peer);
    // RFC 5353 §3.6.1: another checksum than this replica's of its PEs means they differ.
    const checksum = this.#core.handlespace.checksum(peer.serverId);
    if (message.checksum === checksum) {
      peer.suspects.clear();
      peer.auditDue = false;
    } else if (this.#synchronized && !peer.auditing) {
      // The audit's requests go on this registrar's own connection: once it opens, if need be.
      if (peer.link !== undefined) this.#background(this.#audit(peer, peer.link));
      else peer.auditDue = true;
    }
  }

  #onHandleUpdate(link: EnrpLink, peer: Peer, message: EnrpHandleUpdate): void {
    const { poolHandle, poolElement } = message;
    if (message.action === UpdateAction.addPoolElement) {
      // Only a PE's home announces it (RFC 5353 §3.3.1).
      if (poolElement.homeRegistrarId !== peer.serverId) {
        this.#logger.info(
          "Refusing ADD_PE of PE {peId} in pool {pool} from {peerId}: its home is {home}",
          {
            peId: formatIdentifier(poolElement.identifier),
            pool: describeHandle(poolHandle),
            peerId: formatIdentifier(peer.serverId),
            home: formatIdentifier(poolElement.homeRegistrarId),
          },
        );
        this.#sendError(link, ErrorCauseCode.invalidValues);
        return;
      }
      const result = this.#core.applyPeerElement(poolHandle, poolElement, "peer");
      if (!result.ok) {
        this.#logger.warn(
          "Cannot apply ADD_PE of PE {peId} in pool {pool} from {peerId}: cause {cause}",
          {
            peId: formatIdentifier(poolElement.identifier),
            pool: describeHandle(poolHandle),
            peerId: formatIdentifier(peer.serverId),
            cause: result.cause,
          },
        );
        this.#sendError(link, result.cause);
      }
      return;
    }
    const view = this.#core.handlespace.find(poolHandle, poolElement.identifier);
    // RFC 5353 §3.3.2: an unknown PE needs nothing; only the PE's home may remove it.
    if (view === undefined || view.homeRegistrarId !== peer.serverId) return;
    this.#core.removePeerElement(poolHandle, poolElement.identifier, "peer");
  }

  // ---------------------------------------------------------------- answering requests

  /** RFC 5353 §3.2.2.2: every server known (this one included); R=1 while still joining. */
  #answerList(link: EnrpLink): void {
    const servers: ServerInformation[] = [];
    if (this.#synchronized) {
      const own = this.#serverInformation(link);
      if (own !== undefined) servers.push(own);
      for (const peer of this.#peers.values()) {
        if (!peer.active || peer.address === undefined) continue;
        servers.push({
          serverId: peer.serverId,
          transport: {
            type: ParameterType.tcpTransport,
            port: peer.address.port,
            transportUse: TransportUse.dataOnly,
            addresses: [peer.address.hostname],
          },
        });
      }
    }
    link.send(this.#encode({
      type: EnrpMessageType.listResponse,
      receiverServerId: link.serverId,
      reject: !this.#synchronized,
      servers,
    }));
  }

  /**
   * RFC 5353 §3.2.3 and §3.6.3: one page of the handle table; the first request of a download
   * takes the snapshot, each further one continues it. Rejected (R bit) while this registrar
   * has not joined yet (whole table only) or serves `maxHandleTableSessions` downloads.
   */
  #answerTable(link: EnrpLink, request: EnrpHandleTableRequest): void {
    const settings = this.#settings;
    const reject = () =>
      link.send(this.#encode({
        type: EnrpMessageType.handleTableResponse,
        receiverServerId: link.serverId,
        reject: true,
        more: false,
        entries: [],
      }));
    let session = link.session;
    if (session !== undefined && session.ownChildrenOnly !== request.ownChildrenOnly) {
      clearTimeout(session.timer);
      link.session = session = undefined;
    }
    if (session === undefined) {
      if (!request.ownChildrenOnly && !this.#synchronized) return reject();
      let sessions = 0;
      for (const other of this.#links.keys()) if (other.session !== undefined) sessions++;
      if (sessions >= settings.maxHandleTableSessions) return reject();
      session = snapshotHandleTable(
        this.#core.handlespace,
        request.ownChildrenOnly,
        this.#serverId,
      );
      link.session = session;
    }
    clearTimeout(session.timer);
    const page = nextHandleTablePage(
      session,
      this.#core.handlespace,
      this.#serverId,
      settings.handleTablePageSize,
      Math.min(settings.messageLimits.maxMessageLength, MAX_MESSAGE_LENGTH),
    );
    if (page.more) {
      // The mentor's session timer (§3.2.3): a requester that stops asking ends the download.
      const current = session;
      session.timer = setTimeout(() => {
        if (link.session === current) link.session = undefined;
      }, 10 * settings.maxTimeNoResponseMs);
    } else {
      link.session = undefined;
    }
    link.send(this.#encode({
      type: EnrpMessageType.handleTableResponse,
      receiverServerId: link.serverId,
      reject: false,
      more: page.more,
      entries: page.entries,
    }));
  }

  // ---------------------------------------------------------------- audit (RFC 5353 §3.6)

  /**
   * Reconciles this replica with `peer`'s own list of its PEs (W bit): entries are applied, and
   * PEs this replica has homed at `peer` that the list leaves out twice in a row are removed.
   * Twice, because a PE that just moved to a third registrar may be left out by one list before
   * that registrar's ADD_PE arrives here, and must not drop out of the handlespace meanwhile.
   */
  async #audit(peer: Peer, link: EnrpLink): Promise<void> {
    peer.auditing = true;
    peer.auditDue = false;
    const seen = new Set<string>();
    try {
      for (let more = true; more;) {
        const page = await link.requestTable(
          this.#encode({
            type: EnrpMessageType.handleTableRequest,
            receiverServerId: peer.serverId,
            ownChildrenOnly: true,
          }),
          this.#settings.maxTimeNoResponseMs,
        );
        // The peer went down meanwhile (its audit was called off), or it is too busy.
        if (!peer.auditing) return;
        if (page.reject) {
          peer.auditing = false;
          return;
        }
        this.#applyEntries(page.entries, "audit", { peer, seen });
        more = page.more;
      }
    } catch (error) {
      peer.auditing = false;
      this.#logger.debug("Audit of registrar {peerId} failed: {error}", {
        peerId: formatIdentifier(peer.serverId),
        error,
      });
      return;
    }
    peer.auditing = false;
    const missing: { handle: Uint8Array; peId: number; key: string }[] = [];
    for (const view of this.#core.handlespace.ownedBy(peer.serverId)) {
      const key = elementKey(view.handle, view.identifier);
      if (!seen.has(key)) missing.push({ handle: view.handle, peId: view.identifier, key });
    }
    const suspects = new Set<string>();
    let removed = 0;
    for (const { handle, peId, key } of missing) {
      if (peer.suspects.has(key)) {
        if (this.#core.removePeerElement(handle, peId, "audit")) removed++;
      } else {
        suspects.add(key);
      }
    }
    peer.suspects = suspects;
    if (removed > 0 || suspects.size > 0) {
      this.#logger.info(
        "Audit of registrar {peerId}: removed {removed} PEs it no longer has, {suspects} more left out once",
        { peerId: formatIdentifier(peer.serverId), removed, suspects: suspects.size },
      );
    }
  }

  /**
   * Applies Handle Table entries: each PE with its own home as given. In an audit only the
   * audited peer's PEs count, and a PE a live owner here vouches for is kept.
   */
  #applyEntries(
    entries: readonly HandleTableEntry[],
    reason: "peer" | "audit",
    audit: { peer: Peer; seen: Set<string> } | undefined,
  ): void {
    const core = this.#core;
    for (const { poolHandle, poolElements } of entries) {
      for (const element of poolElements) {
        if (audit !== undefined) {
          if (element.homeRegistrarId !== audit.peer.serverId) continue;
          audit.seen.add(elementKey(poolHandle, element.identifier));
        }
        if (element.homeRegistrarId === 0) continue;
        if (core.vouchesFor(poolHandle, element.identifier)) continue;
        const result = core.applyPeerElement(poolHandle, element, reason);
        if (!result.ok) {
          this.#logger.warn(
            "Cannot apply PE {peId} of pool {pool} from a handle table: cause {cause}",
            {
              peId: formatIdentifier(element.identifier),
              pool: describeHandle(poolHandle),
              cause: result.cause,
            },
          );
        }
      }
    }
  }
}

/** Omit over each member of a union, so that the discriminant survives. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A PE's key in audit sets: pool handle and identifier. */
function elementKey(handle: Uint8Array, peId: number): string {
  return `${peId}:${handleKey(handle)}`;
}

/** The ENRP address in a Server Information parameter. */
function addressOf(server: ServerInformation | undefined): EnrpPeerAddress | undefined {
  if (server === undefined) return undefined;
  const { port, addresses } = server.transport;
  const hostname = addresses[0];
  if (hostname === undefined || port === 0) return undefined;
  return { hostname, port };
}
