/**
 * One client's session through the proxy to DATA PLUS CONTROL pool elements (RFC 5354 §3.4
 * transport use 1), over the framed data channel of `docs/data_channel.md`: a failover moves
 * the session with its state, and the client sees every byte once.
 *
 * - Client → PE: each read becomes one data frame, written from the read buffer, and is kept
 *   in the {@linkcode ReplayBuffer} until a cookie covers it. A full buffer stops the reads
 *   from the client (backpressure) until a cookie frees it; after the pool's
 *   `replayStallTimeoutMs` the session is closed (`replay-overflow`), never continued with a
 *   gap.
 * - PE → client: the data frames of one read are gathered in place and written in one write.
 *   A cookie frame is checked against the stream (its produced count must be the PE's output
 *   so far, its consumed count between the last cookie's and what the PE was sent) and kept;
 *   a Business Card's pool elements are tried first at the next failover.
 * - Failover: the next pool element gets the hello, the last cookie as Cookie Echo with its
 *   position, the client bytes after the cookie's consumed count and, if the client has
 *   half-closed, the end frame, in one write, before anything else. Of its output the bytes
 *   before what the client already has are dropped (produced-count arithmetic).
 * - Failures: a reset, an end of stream without end frame, a malformed, forged or unexpected
 *   frame or an ASAP Error close that channel and fail the session over; no byte of a bad
 *   frame reaches the client.
 *
 * @module
 */
import {
  DATA_CHANNEL_VERSION,
  DataChannelDecoder,
  DataChannelError,
  Decoded,
  encodeControlFrame,
  FRAME_HEADER_LENGTH,
  FrameType,
  HELLO_LENGTH,
  MAX_DATA_PAYLOAD,
  type StreamPosition,
  writeFrameHeader,
  writeHello,
} from "../lib/asap/data_channel.ts";
import { AsapMessageType } from "../lib/wire/codes.ts";
import type { AsapBusinessCard } from "../lib/wire/asap_messages.ts";
import { type Connector, connectWithin, type PeConnection } from "./connector.ts";
import type { Deadlines } from "./deadlines.ts";
import {
  type ConnectGate,
  type ConnectTurn,
  PeConnectFailedError,
} from "./control_session_gate.ts";
import { ReplayBuffer } from "./control_session_replay.ts";
import type { PoolMemberAddress, PoolMemberSource } from "./member_source.ts";
import type { Logger } from "@logtape/logtape";
import type {
  FailoverCause,
  FailoverDetail,
  SessionEndDetail,
  SessionEndReason,
  SessionStartDetail,
} from "./proxy_events.ts";
import type { ResolvedPoolSettings } from "./settings.ts";
import type { SessionInfo } from "./session.ts";
import {
  closeQuietly,
  type IdleWatch,
  leftWhileConnecting,
  replaceOnce,
  SessionLedger,
  SessionReporter,
  writeAll,
} from "./session_parts.ts";

/** Most pool elements of one Business Card the proxy remembers. */
export const MAX_BUSINESS_CARD_TARGETS = 16;

/** What a control session needs from the proxy that runs it. */
export interface ControlSessionHost {
  readonly memberSource: PoolMemberSource;
  readonly connect: Connector;
  readonly logger: Logger;
  /** The timer of the proxy's connect timeouts and idle watches. */
  readonly deadlines: Deadlines;
  /**
   * Bounds the connects in flight to each pool element, across the proxy's sessions.
   * @default {none: every connect goes at once}
   */
  readonly connectGate?: ConnectGate | undefined;
  /** The session moved from pool element `from` to `to` (either undefined at the ends). */
  moved(from: number | undefined, to: number | undefined): void;
  started(detail: SessionStartDetail): void;
  failedOver(detail: FailoverDetail): void;
}

/** What a control session starts from: the client and the first pool element picked. */
export interface ControlSessionInit {
  readonly id: number;
  readonly pool: string;
  readonly settings: ResolvedPoolSettings;
  readonly client: PeConnection;
  /** The client as `host:port` (from a PROXY protocol header when there was one). */
  readonly clientName: string;
  /** Client → PE read buffer; reads go after a frame header's room. */
  readonly upBuffer: Uint8Array;
  /** PE → client read buffer. */
  readonly downBuffer: Uint8Array;
  /** Client bytes read already (those after a PROXY protocol header). */
  readonly first: Uint8Array | undefined;
  /** The DATA PLUS CONTROL pool element selected first. */
  readonly member: PoolMemberAddress;
  /** What the session has done before this one took over (connect retries); kept up here. */
  readonly ledger: SessionLedger;
}

/** One DATA PLUS CONTROL channel to one pool element. */
interface Channel {
  readonly member: PoolMemberAddress;
  readonly conn: PeConnection;
  readonly decoder: DataChannelDecoder;
  /** Set when the session starts leaving this channel; resolves to the next one, if any. */
  replaced: Promise<Channel | undefined> | undefined;
  /** Stream offset up to which client bytes were framed to this pool element. */
  sent: number;
  /** The end frame was written (or is being written) to it. */
  endSent: boolean;
  /** Stream offset of this pool element's next output byte. */
  produced: number;
  /** The connect gate's turn, held until the pool element's hello shows it accepted. */
  turn: ConnectTurn | undefined;
}

/** What the down pump does after one read of a channel. */
const Delivered = { more: 0, ended: 1, clientGone: 2, replaced: 3 } as const;
type Delivered = typeof Delivered[keyof typeof Delivered];

const END_FRAME = encodeControlFrame({ type: FrameType.end });

/** One client's session over DATA PLUS CONTROL channels. */
export class ControlSession {
  /** Session identifier, unique within the proxy. */
  readonly id: number;
  /** Pool handle. */
  readonly pool: string;
  readonly #settings: ResolvedPoolSettings;
  readonly #host: ControlSessionHost;
  readonly #client: PeConnection;
  readonly #clientName: string;
  readonly #upBuffer: Uint8Array;
  readonly #downBuffer: Uint8Array;
  readonly #first: Uint8Array | undefined;
  readonly #firstMember: PoolMemberAddress;
  readonly #ledger: SessionLedger;
  readonly #replay: ReplayBuffer;
  #channel: Channel | undefined;
  /** The last cookie (a copy); its consumed count is the replay buffer's base. */
  #cookie: Uint8Array | undefined;
  #cookieProduced = 0;
  /** Pool elements a Business Card named, in order; tried first at the next failover. */
  #preferred: number[] = [];
  #bytesIn = 0;
  #bytesOut = 0;
  #clientEof = false;
  #downDone = false;
  #reason: SessionEndReason | undefined;
  #roomWaiter: (() => void) | undefined;
  #idle: IdleWatch | undefined;
  readonly #report: SessionReporter;

  /** Creates the session; nothing happens until {@linkcode ControlSession.run}. */
  constructor(init: ControlSessionInit, host: ControlSessionHost) {
    this.id = init.id;
    this.pool = init.pool;
    this.#settings = init.settings;
    this.#host = host;
    this.#client = init.client;
    this.#clientName = init.clientName;
    this.#report = new SessionReporter(this, host, () => this.#clientName);
    const room = Math.min(init.upBuffer.length - FRAME_HEADER_LENGTH, MAX_DATA_PAYLOAD);
    if (room < 1) {
      throw new RangeError(
        `Cannot start control session as its read buffer must exceed ${FRAME_HEADER_LENGTH} bytes: current length is ${init.upBuffer.length}`,
      );
    }
    this.#upBuffer = init.upBuffer.subarray(0, FRAME_HEADER_LENGTH + room);
    this.#downBuffer = init.downBuffer;
    this.#first = init.first;
    this.#firstMember = init.member;
    this.#ledger = init.ledger;
    this.#replay = new ReplayBuffer(init.settings.controlReplayBufferBytes);
  }

  /** A snapshot for the session list. */
  info(): SessionInfo {
    const channel = this.#channel;
    return {
      id: this.id,
      client: this.#clientName,
      pool: this.pool,
      peId: channel?.replaced === undefined ? channel?.member.peId : undefined,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      failovers: this.#ledger.failovers,
      ageMs: this.#ledger.ageMs(),
    };
  }

  /** Moves the session off its pool element as if it had failed (the pool's failover mode applies). */
  failover(cause: "removed" | "admin"): boolean {
    const channel = this.#channel;
    if (channel === undefined || channel.replaced !== undefined || this.#reason !== undefined) {
      return false;
    }
    this.#replace(channel, cause);
    return true;
  }

  /** Ends the session at once: both connections are closed. */
  close(reason: SessionEndReason): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#idle?.stop();
    this.#roomWaiter?.();
    closeQuietly(this.#client);
    if (this.#channel !== undefined) {
      closeQuietly(this.#channel.conn);
      this.#channel.turn?.(true);
    }
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<SessionEndDetail> {
    try {
      const channel = await this.#connectNext(undefined, undefined, this.#firstMember);
      if (channel !== undefined) {
        this.#host.started({
          sessionId: this.id,
          client: this.#clientName,
          pool: this.pool,
          peId: channel.member.peId,
        });
        this.#armIdleTimer();
        await Promise.all([this.#pumpUp(), this.#pumpDown(channel)]);
        this.close("completed");
      }
    } catch (error) {
      this.#host.logger.error("Session {sessionId} failed: {error}", {
        peer: this.#clientName,
        sessionId: this.id,
        error,
      });
      this.close("error");
    }
    this.close("error");
    if (this.#channel !== undefined) this.#host.moved(this.#channel.member.peId, undefined);
    return this.#ledger.endDetail(
      this.#clientName,
      this.#bytesIn,
      this.#bytesOut,
      this.#reason ?? "error",
    );
  }

  /** Client → pool element: read, keep for replay, frame, write; then the end frame. */
  async #pumpUp(): Promise<void> {
    const buffer = this.#upBuffer;
    const replay = this.#replay;
    if (this.#first !== undefined && this.#first.length > 0) {
      if (this.#first.length > replay.room) {
        this.#overflow();
        return;
      }
      replay.append(this.#first);
      this.#bytesIn += this.#first.length;
      if (!(await this.#sendUp(0))) return;
    }
    while (this.#reason === undefined) {
      // After the PE's end frame a failure ends the session (`pe-closed`): nothing sent from
      // here on is ever replayed, and no cookie can come to free room for it.
      if (this.#downDone) replay.discardTo(replay.end);
      const room = Math.min(replay.room, buffer.length - FRAME_HEADER_LENGTH);
      if (room === 0) {
        if (!(await this.#waitForRoom())) return;
        continue;
      }
      let n: number | null;
      try {
        n = await this.#client.read(
          buffer.subarray(FRAME_HEADER_LENGTH, FRAME_HEADER_LENGTH + room),
        );
      } catch (error) {
        this.#clientFailed(error);
        return;
      }
      if (n === null) break;
      replay.append(buffer.subarray(FRAME_HEADER_LENGTH, FRAME_HEADER_LENGTH + n));
      this.#bytesIn += n;
      if (!(await this.#sendUp(n))) return;
    }
    if (this.#reason !== undefined) return;
    this.#clientEof = true;
    await this.#sendUp(0);
  }

  /**
   * Brings the current channel up to date: client bytes it was not sent, then the end frame
   * once the client has half-closed. `fresh` bytes at the read buffer's payload offset are the
   * last ones read (written from there with their header when nothing else is owed). False
   * when the session ended.
   */
  async #sendUp(fresh: number): Promise<boolean> {
    let channel = this.#channel;
    while (channel !== undefined && this.#reason === undefined) {
      if (channel.replaced !== undefined) {
        channel = await channel.replaced;
        continue;
      }
      try {
        const from = channel.sent;
        const to = this.#bytesIn;
        if (from < to) {
          channel.sent = to;
          if (to - from === fresh) {
            writeFrameHeader(this.#upBuffer, 0, FrameType.data, fresh);
            await writeAll(channel.conn, this.#upBuffer.subarray(0, FRAME_HEADER_LENGTH + fresh));
          } else {
            const frames = new Uint8Array(this.#replay.framedLength(from, to));
            this.#replay.writeFrames(frames, 0, from, to);
            await writeAll(channel.conn, frames);
          }
          continue;
        }
        if (this.#clientEof && !channel.endSent) {
          channel.endSent = true;
          await writeAll(channel.conn, END_FRAME);
        }
        return true;
      } catch (error) {
        channel = await this.#channelBroke(channel, error);
      }
    }
    return false;
  }

  /**
   * Waits for a cookie to free room in the replay buffer, at most the pool's
   * `replayStallTimeoutMs`; false when the session ended (closed as `replay-overflow` if no room
   * came).
   */
  async #waitForRoom(): Promise<boolean> {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      this.#roomWaiter?.();
    }, this.#settings.replayStallTimeoutMs);
    try {
      // A cookie that covers no more than the last one frees nothing: wait on.
      while (
        this.#reason === undefined && this.#replay.room === 0 && !expired && !this.#downDone
      ) {
        const { promise, resolve } = Promise.withResolvers<void>();
        this.#roomWaiter = resolve;
        await promise;
      }
    } finally {
      clearTimeout(timer);
      this.#roomWaiter = undefined;
    }
    if (this.#reason !== undefined) return false;
    if (this.#replay.room > 0 || this.#downDone) return true;
    this.#overflow();
    return false;
  }

  #overflow(): void {
    this.#host.logger.warn(
      "Session {sessionId} closed: its replay buffer of {bytes} bytes stayed full for {ms} ms without a cookie from pool element {peId}",
      {
        peer: this.#clientName,
        sessionId: this.id,
        bytes: this.#replay.capacity,
        ms: this.#settings.replayStallTimeoutMs,
        peId: this.#channel?.member.peId,
      },
    );
    this.close("replay-overflow");
  }

  /** Pool element → client, following the session from channel to channel. */
  async #pumpDown(first: Channel): Promise<void> {
    const buffer = this.#downBuffer;
    let channel: Channel | undefined = first;
    while (channel !== undefined && this.#reason === undefined) {
      if (channel.replaced !== undefined) {
        channel = await channel.replaced;
        continue;
      }
      let n: number | null;
      try {
        n = await channel.conn.read(buffer);
      } catch (error) {
        channel = await this.#channelBroke(channel, error);
        continue;
      }
      if (channel.replaced !== undefined) continue;
      if (n === null) {
        // Only an end frame ends a channel: a plain end of stream is a crash's FIN.
        channel = await this.#replace(channel, "dead-fin");
        continue;
      }
      let outcome: Delivered;
      try {
        outcome = await this.#deliver(channel, buffer, n);
      } catch (error) {
        if (!(error instanceof DataChannelError)) throw error;
        this.#host.logger.warn(
          "Pool element {peId} of session {sessionId} sent a bad frame: {error}",
          {
            peer: this.#clientName,
            sessionId: this.id,
            peId: channel.member.peId,
            error: error.message,
          },
        );
        channel = await this.#replace(channel, "protocol-error");
        continue;
      }
      if (outcome === Delivered.clientGone) return;
      if (outcome === Delivered.ended) break;
    }
    if (channel === undefined || this.#reason !== undefined) return;
    // The pool element sent its end frame: pass the half-close on.
    this.#downDone = true;
    this.#roomWaiter?.();
    try {
      await this.#client.closeWrite();
    } catch (error) {
      this.#clientFailed(error);
    }
  }

  /**
   * Decodes one read of `channel` (in `buffer[0..n]`): data payloads are moved together to the
   * buffer's front and written to the client in one write, less the bytes the client already
   * has. The read's last cookie is checked where it stands and kept once the data before it
   * is written (a cookie counts only for output the client has); an end frame is passed on
   * after the data before it.
   *
   * @throws {DataChannelError} on a malformed frame or a cookie that does not fit the stream.
   */
  async #deliver(channel: Channel, buffer: Uint8Array, n: number): Promise<Delivered> {
    const decoder = channel.decoder;
    decoder.feed(buffer.subarray(0, n));
    let batch = 0;
    let cookie: { position: StreamPosition; cookie: Uint8Array } | undefined;
    let outcome: Delivered = Delivered.more;
    for (let kind = decoder.next(); kind !== Decoded.none; kind = decoder.next()) {
      if (kind === Decoded.data) {
        const start = decoder.dataStart;
        const end = decoder.dataEnd;
        const position = channel.produced;
        channel.produced += end - start;
        // The first bytes of a resumed pool element's output may be ones the client has.
        const skip = Math.min(end - start, Math.max(0, this.#bytesOut + batch - position));
        if (skip < end - start) {
          if (start + skip !== batch) buffer.copyWithin(batch, start + skip, end);
          batch += end - start - skip;
        }
        continue;
      }
      if (kind === Decoded.hello) {
        channel.turn?.(true);
        continue;
      }
      const frame = decoder.frame;
      if (frame.type === FrameType.end) {
        outcome = Delivered.ended;
        break;
      }
      if (frame.type === FrameType.cookie) {
        this.#checkCookie(channel, frame.position, cookie?.position, decoder.offset);
        cookie = { position: frame.position, cookie: frame.message.cookie.slice() };
        continue;
      }
      if (frame.message.type === AsapMessageType.businessCard) {
        this.#acceptBusinessCard(channel, frame.message);
        continue;
      }
      this.#host.logger.warn(
        "Pool element {peId} of session {sessionId} sent an ASAP Error with causes {causes}: moving on",
        {
          peer: this.#clientName,
          sessionId: this.id,
          peId: channel.member.peId,
          causes: frame.message.errorCauses.map((cause) => `0x${cause.code.toString(16)}`),
        },
      );
      // What it sent after its last kept cookie is dropped: the next pool element resends it.
      this.#replace(channel, "protocol-error");
      return Delivered.replaced;
    }
    if (batch > 0 && !(await this.#toClient(buffer, batch))) return Delivered.clientGone;
    if (channel.replaced !== undefined) return Delivered.replaced;
    if (cookie !== undefined) this.#keepCookie(cookie.position, cookie.cookie);
    return outcome;
  }

  /** Writes `buffer[0..length]` to the client; false when the client failed. */
  async #toClient(buffer: Uint8Array, length: number): Promise<boolean> {
    let written = 0;
    try {
      while (written < length) {
        written += await this.#client.write(
          written === 0 && length === buffer.length ? buffer : buffer.subarray(written, length),
        );
      }
      return true;
    } catch (error) {
      this.#clientFailed(error);
      return false;
    } finally {
      this.#bytesOut += written;
    }
  }

  /**
   * Checks a cookie where it stands in the channel: its produced count must be exactly the pool
   * element's output so far; its consumed count lies between the last cookie's (`previous`, one
   * of the same read not yet kept, or the kept one) and what the pool element was sent.
   *
   * @throws {DataChannelError} when it does not fit.
   */
  #checkCookie(
    channel: Channel,
    position: StreamPosition,
    previous: StreamPosition | undefined,
    offset: number,
  ): void {
    const { consumed, produced } = position;
    if (produced !== channel.produced) {
      throw new DataChannelError(
        `Cannot accept cookie frame before offset ${offset}: it covers ${produced} bytes of output, the pool element has sent ${channel.produced}`,
        offset,
      );
    }
    const floor = previous?.consumed ?? this.#replay.base;
    if (consumed < floor || consumed > channel.sent) {
      throw new DataChannelError(
        `Cannot accept cookie frame before offset ${offset}: it covers ${consumed} client bytes, outside the ${floor} of the last cookie to the ${channel.sent} sent`,
        offset,
      );
    }
  }

  /** Keeps a checked cookie once the client has every byte of output it covers. */
  #keepCookie(position: StreamPosition, cookie: Uint8Array): void {
    this.#cookie = cookie;
    this.#cookieProduced = position.produced;
    this.#replay.discardTo(position.consumed);
    this.#roomWaiter?.();
  }

  #acceptBusinessCard(channel: Channel, card: AsapBusinessCard): void {
    const handle = new TextDecoder().decode(card.poolHandle);
    if (handle !== this.pool) {
      this.#host.logger.debug(
        "Pool element {peId} of session {sessionId} named failover targets in pool {other}: ignored",
        { peer: this.#clientName, sessionId: this.id, peId: channel.member.peId, other: handle },
      );
      return;
    }
    this.#preferred = card.poolElements.slice(0, MAX_BUSINESS_CARD_TARGETS).map((pe) =>
      pe.identifier
    );
  }

  /** A read or write on `channel` failed: returns the channel to go on with, if any. */
  #channelBroke(channel: Channel, error: unknown): Promise<Channel | undefined> {
    if (channel.replaced !== undefined || this.#reason !== undefined) {
      return channel.replaced ?? Promise.resolve(undefined);
    }
    this.#report.peFailed(channel.member.peId, error);
    return this.#replace(channel, "reset");
  }

  /** Leaves `channel` once, however many pumps notice its failure. */
  #replace(channel: Channel, cause: FailoverCause): Promise<Channel | undefined> {
    // Never rejects: `failover()` callers do not await it.
    return replaceOnce(channel, () => this.#failover(channel, cause), (error) => {
      this.#report.failoverFailed(error);
      this.close("error");
    });
  }

  async #failover(channel: Channel, cause: FailoverCause): Promise<Channel | undefined> {
    const peId = channel.member.peId;
    closeQuietly(channel.conn);
    // Failed before its hello, or left the pool: connects queued for it are given up too.
    channel.turn?.(cause === "admin");
    this.#ledger.exclude.add(peId);
    this.#report.reportLeft(peId, cause);
    if (this.#reason !== undefined) return undefined;
    this.#report.lost(peId, cause);
    if (this.#downDone) {
      // The client already has our FIN: nothing more can reach it.
      this.close("pe-closed");
      return undefined;
    }
    if (this.#settings.controlFailover === "sever") {
      this.close(cause === "admin" ? "closed" : "pe-failed");
      return undefined;
    }
    return await this.#connectNext(peId, cause, undefined);
  }

  /** The next pool element: a Business Card's first, then the pool's policy (control channel only). */
  #select(): PoolMemberAddress | undefined {
    const source = this.#host.memberSource;
    for (let peId = this.#preferred.shift(); peId !== undefined; peId = this.#preferred.shift()) {
      if (this.#ledger.exclude.has(peId)) continue;
      const member = source.find?.(this.pool, peId);
      if (member?.transportUse === 1) return member;
    }
    while (true) {
      const member = source.select(this.pool, this.#ledger.exclude);
      if (member === undefined || member.transportUse === 1) return member;
      // A DATA ONLY pool element cannot take a Cookie Echo: the session's state would be lost.
      this.#ledger.exclude.add(member.peId);
    }
  }

  /**
   * Connects the next pool element (`candidate` first, when given), after `from` left for
   * `cause` (both undefined at the start), and sends it the resumption. Connect failures move
   * on to the next pool element; nothing is lost by them.
   */
  async #connectNext(
    from: number | undefined,
    cause: FailoverCause | undefined,
    candidate: PoolMemberAddress | undefined,
  ): Promise<Channel | undefined> {
    const settings = this.#settings;
    const lost = from;
    while (this.#reason === undefined) {
      if (from !== undefined && this.#ledger.failovers >= settings.maxFailovers) {
        this.close("max-failovers");
        break;
      }
      const member = candidate ?? this.#select();
      candidate = undefined;
      if (member === undefined) {
        this.close("no-pe");
        break;
      }
      if (from !== undefined && cause !== undefined) {
        this.#host.failedOver(this.#ledger.failedOver(from, member.peId, cause));
      }
      from = member.peId;
      this.#ledger.exclude.add(member.peId);
      let conn: PeConnection;
      let turn: ConnectTurn | undefined;
      try {
        turn = await this.#host.connectGate?.turn(`${member.hostname}:${member.port}`);
        conn = await connectWithin(
          this.#host.connect,
          member.hostname,
          member.port,
          settings.connectTimeoutMs,
          this.#host.deadlines,
        );
      } catch (error) {
        turn?.(false);
        cause = error instanceof Deno.errors.ConnectionRefused
          ? "connect-refused"
          : "connect-failed";
        // Another session's connect failed and reported it; this one only moves on.
        if (error instanceof PeConnectFailedError) continue;
        this.#report.connectFailed(member, error);
        continue;
      }
      if (this.#reason !== undefined) {
        closeQuietly(conn);
        turn?.(true);
        break;
      }
      const channel: Channel = {
        member,
        conn,
        decoder: new DataChannelDecoder({ peer: "pool-element" }),
        replaced: undefined,
        sent: this.#bytesIn,
        endSent: this.#clientEof,
        produced: this.#cookieProduced,
        turn,
      };
      try {
        conn.setNoDelay(true);
        await this.#writeWithin(conn, this.#resumption(), settings.connectTimeoutMs);
      } catch (error) {
        closeQuietly(conn);
        turn?.(false);
        cause = "connect-failed";
        this.#report.connectFailed(member, error);
        continue;
      }
      if (this.#reason !== undefined) {
        closeQuietly(conn);
        turn?.(true);
        break;
      }
      if (leftWhileConnecting(this.#host.memberSource, this.pool, member)) {
        closeQuietly(conn);
        // Gone from the pool: connects queued for it are given up too.
        turn?.(false);
        cause = "removed";
        continue;
      }
      const previous = this.#channel;
      this.#channel = channel;
      this.#ledger.pes.push(member.peId);
      this.#host.moved(previous?.member.peId, member.peId);
      if (lost !== undefined) {
        this.#host.logger.info(
          "Session {sessionId} moved from pool element {from} to {peId}: cookie at {consumed}/{produced}, {replayed} client bytes replayed",
          {
            peer: this.#clientName,
            sessionId: this.id,
            from: lost,
            peId: member.peId,
            consumed: this.#replay.base,
            produced: this.#cookieProduced,
            replayed: this.#replay.length,
          },
        );
      }
      return channel;
    }
    return undefined;
  }

  /**
   * What a new channel starts with, in one buffer: the hello, the last cookie as Cookie Echo
   * with its position, the client bytes after it, and the end frame once the client is done.
   */
  #resumption(): Uint8Array {
    const replay = this.#replay;
    const echo = this.#cookie === undefined ? undefined : encodeControlFrame({
      type: FrameType.cookie,
      position: { consumed: replay.base, produced: this.#cookieProduced },
      message: { type: AsapMessageType.cookieEcho, cookie: this.#cookie },
    });
    const bytes = new Uint8Array(
      HELLO_LENGTH + (echo?.length ?? 0) + replay.framedLength(replay.base, replay.end) +
        (this.#clientEof ? END_FRAME.length : 0),
    );
    let at = writeHello(bytes, 0, { version: DATA_CHANNEL_VERSION, resume: echo !== undefined });
    if (echo !== undefined) {
      bytes.set(echo, at);
      at += echo.length;
    }
    at = replay.writeFrames(bytes, at, replay.base, replay.end);
    if (this.#clientEof) bytes.set(END_FRAME, at);
    return bytes;
  }

  /** Writes all of `bytes`, closing `conn` (so that the write rejects) after `timeoutMs`. */
  async #writeWithin(conn: PeConnection, bytes: Uint8Array, timeoutMs: number): Promise<void> {
    const deadline = this.#host.deadlines.after(timeoutMs, () => closeQuietly(conn));
    try {
      await writeAll(conn, bytes);
    } finally {
      deadline.cancel();
    }
  }

  #clientFailed(error: unknown): void {
    if (this.#reason !== undefined) return;
    this.#report.clientFailed(error);
    this.close("client-gone");
  }

  #armIdleTimer(): void {
    const idleMs = this.#settings.idleTimeoutMs;
    this.#idle = this.#report.watchIdle(
      idleMs,
      () => this.#bytesIn + this.#bytesOut,
      () => this.close("idle-timeout"),
    );
  }
}
