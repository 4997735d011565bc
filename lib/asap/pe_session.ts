/**
 * The pool element side of the data channel (`docs/data_channel.md`): a server built with the
 * PE library accepts the proxy's channels on its user transport (registered with
 * `transport.transportUse: TransportUse.dataPlusControl`), and serves each session through a
 * {@linkcode PeSession}: reads and writes of the client's bytes, state cookies with the stream
 * positions they cover (RFC 5352 §2.2.11), Business Cards (§2.2.13), and a `restore` hook that
 * gets the Cookie Echo (§2.2.12) of a session moved here before any replayed byte.
 *
 * ```ts
 * await using server = servePeSessions({
 *   port: 0,
 *   restore: (cookie) => cookie === undefined ? 0 : decodeCount(cookie),
 *   async serve(session, count) {
 *     const buffer = new Uint8Array(16 * 1024);
 *     for (let n = await session.read(buffer); n !== null; n = await session.read(buffer)) {
 *       await session.write(buffer.subarray(0, n));
 *       count += n;
 *       await session.sendCookie(encodeCount(count));
 *     }
 *   },
 * });
 * ```
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { AsapMessageType, ErrorCauseCode } from "../wire/codes.ts";
import type { PoolElementParameter } from "../wire/parameters.ts";
import { formatAddress } from "../transport/format_address.ts";
import type { ByteStream } from "../transport/byte_stream.ts";
import { isPeerGone } from "../transport/is_peer_gone.ts";
import { TypedEventTarget } from "../typed_event_target.ts";
import { toPoolHandle } from "./_pool_handle.ts";
import {
  DATA_CHANNEL_VERSION,
  DataChannelDecoder,
  DataChannelError,
  Decoded,
  encodeControlFrame,
  encodeHello,
  FRAME_HEADER_LENGTH,
  FrameType,
  MAX_DATA_PAYLOAD,
  type StreamPosition,
  writeFrameHeader,
} from "./data_channel.ts";
import { DEFAULT_ASAP_LOG_CATEGORY } from "./server_hunt.ts";

/** Pool elements accept channels on every interface unless told otherwise. */
export const DEFAULT_PE_SESSION_HOSTNAME = "0.0.0.0";
/** Most sessions a pool element serves at once; a channel over it is closed at once. */
export const DEFAULT_MAX_PE_SESSIONS = 10_000;
/** Longest wait for the proxy's hello (and Cookie Echo) after a channel is accepted. */
export const DEFAULT_PE_HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * How long a session whose `serve` has returned waits for the proxy's end frame before it
 * closes the channel (the client may still be sending).
 */
export const DEFAULT_PE_LINGER_MS = 30_000;
/** Bytes of each session's read buffer. */
export const DEFAULT_PE_READ_BUFFER_BYTES = 64 * 1024;

/** Options of {@linkcode servePeSessions}; `S` is the application's per-session state. */
export interface PeSessionServerOptions<S> {
  /** Address to accept on. @default {DEFAULT_PE_SESSION_HOSTNAME} */
  readonly hostname?: string;
  /** TCP port; 0 picks a free one (see `addr`). Register this port as the user transport. */
  readonly port: number;
  /**
   * Builds the session's state: from the Cookie Echo of a session that moved here from another
   * pool element, or fresh (`cookie` undefined) for a new session. Runs before any client byte
   * (replayed or new) can be read. Throwing refuses the session: the proxy gets an ASAP Error
   * (Invalid Values) and moves the session on.
   */
  restore(cookie: Uint8Array | undefined, session: PeSession): S | Promise<S>;
  /**
   * Serves one session. Returning ends the session's output (an end frame is sent if
   * {@linkcode PeSession.end} was not called); throwing closes the channel without one, which
   * makes the proxy move the session to another pool element.
   */
  serve(session: PeSession, state: S): void | Promise<void>;
  /** Most sessions at once. @default {DEFAULT_MAX_PE_SESSIONS} */
  readonly maxSessions?: number;
  /** Longest wait for the proxy's hello. @default {DEFAULT_PE_HANDSHAKE_TIMEOUT_MS} */
  readonly handshakeTimeoutMs?: number;
  /** Longest wait for the proxy's end once `serve` returned. @default {DEFAULT_PE_LINGER_MS} */
  readonly lingerMs?: number;
  /** Bytes of each session's read buffer. @default {DEFAULT_PE_READ_BUFFER_BYTES} */
  readonly readBufferBytes?: number;
  /** @default {getLogger([...DEFAULT_ASAP_LOG_CATEGORY, "session"])} */
  readonly logger?: Logger;
  /** Aborting it starts `shutdown()`. */
  readonly signal?: AbortSignal;
}

/** Why a pool element's session ended. */
export type PeSessionEndReason =
  /** Both sides sent their end frame. */
  | "completed"
  /** The proxy closed the channel or it broke (the session may continue elsewhere). */
  | "channel-lost"
  /** A malformed frame, or none in time. */
  | "protocol-error"
  /** `restore` refused the Cookie Echo. */
  | "refused"
  /** `serve` threw. */
  | "failed"
  /** `serve` returned and the proxy sent no end frame within `lingerMs`. */
  | "linger-timeout"
  /** `shutdown()` closed the channel. */
  | "shutdown";

/** The events of a {@linkcode PeSessionServer} and what each carries. */
export interface PeSessionEventDetails {
  /** A session's state is restored (or fresh) and `serve` is called. */
  "session-start": {
    readonly sessionId: number;
    readonly peer: string;
    /** The position of the Cookie Echo it resumes from; undefined for a new session. */
    readonly resumedAt: StreamPosition | undefined;
  };
  /** A session's channel is closed. */
  "session-end": {
    readonly sessionId: number;
    readonly peer: string;
    readonly reason: PeSessionEndReason;
    readonly consumed: number;
    readonly produced: number;
  };
}

/** What {@linkcode PeSession} starts from once the proxy's hello (and Cookie Echo) are read. */
export interface PeSessionInit {
  /** Identifier within the server, for logs. */
  readonly id: number;
  /** The channel. */
  readonly conn: ByteStream;
  /** The decoder of the proxy's bytes, past the hello and the Cookie Echo. */
  readonly decoder: DataChannelDecoder;
  /** The read buffer whose bytes the decoder was fed last. */
  readonly buffer: Uint8Array;
  /** Where the session resumes; zeros for a new session. */
  readonly position: StreamPosition;
}

/**
 * One client's session at a pool element. Bytes are counted from the session's start, across
 * every pool element it was on: `consumed` client bytes delivered by {@linkcode read},
 * `produced` bytes passed to {@linkcode write}. One read and any number of writes may be
 * outstanding at once; writes, cookies and Business Cards go out in call order.
 */
export class PeSession {
  /** Identifier within the server. */
  readonly id: number;
  /** The proxy's end of the channel as `host:port`. */
  readonly peer: string;
  readonly #conn: ByteStream;
  readonly #decoder: DataChannelDecoder;
  readonly #in: Uint8Array;
  readonly #out = new Uint8Array(FRAME_HEADER_LENGTH + MAX_DATA_PAYLOAD);
  #pendingStart = 0;
  #pendingEnd = 0;
  #consumed: number;
  #produced: number;
  #inputEnded = false;
  #outputEnded = false;
  #writing: Promise<void> = Promise.resolve();
  #writeError: unknown;
  #closed = false;

  /** Wraps a channel whose handshake is done; {@linkcode servePeSessions} builds these. */
  constructor(init: PeSessionInit) {
    this.id = init.id;
    this.peer = formatAddress(init.conn.remoteAddr);
    this.#conn = init.conn;
    this.#decoder = init.decoder;
    this.#in = init.buffer;
    this.#consumed = init.position.consumed;
    this.#produced = init.position.produced;
  }

  /** Client bytes delivered to the application so far, from the session's start. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Bytes the application has written for the client so far, from the session's start. */
  get produced(): number {
    return this.#produced;
  }

  /** True once the proxy sent its end frame: the client will send nothing more. */
  get inputEnded(): boolean {
    return this.#inputEnded;
  }

  /**
   * Reads client bytes into `buffer`; resolves to the count, or null once the client has
   * finished (the proxy's end frame).
   *
   * @throws {DataChannelError} when the proxy sends a malformed frame.
   * @throws {Deno.errors.UnexpectedEof} when the proxy closes the channel without an end frame
   * (the session has moved or the proxy is gone); other socket errors as they come.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    const decoder = this.#decoder;
    while (!this.#inputEnded) {
      if (this.#pendingStart < this.#pendingEnd) {
        const n = Math.min(buffer.length, this.#pendingEnd - this.#pendingStart);
        buffer.set(this.#in.subarray(this.#pendingStart, this.#pendingStart + n));
        this.#pendingStart += n;
        this.#consumed += n;
        return n;
      }
      const kind = decoder.next();
      if (kind === Decoded.data) {
        this.#pendingStart = decoder.dataStart;
        this.#pendingEnd = decoder.dataEnd;
      } else if (kind === Decoded.frame) {
        const frame = decoder.frame;
        if (frame.type === FrameType.end) this.#inputEnded = true;
        else if (frame.type === FrameType.cookie) {
          throw new DataChannelError(
            `Cannot accept frame at offset ${decoder.offset}: a Cookie Echo after the session started`,
            decoder.offset,
          );
        } // An ASAP Error from the proxy is informational: the proxy closes what it cannot use.
      } else if (kind === Decoded.none) {
        const n = await this.#conn.read(this.#in);
        if (n === null) {
          throw new Deno.errors.UnexpectedEof(
            `Cannot read at offset ${decoder.offset}: the proxy closed the channel without an end frame`,
          );
        }
        decoder.feed(this.#in.subarray(0, n));
      }
    }
    return null;
  }

  /**
   * Writes all of `data` for the client, as data frames. Counts towards `produced` at once, so
   * that a cookie sent after this call covers it.
   *
   * @throws {TypeError} after {@linkcode end}; socket errors of the channel.
   */
  write(data: Uint8Array): Promise<void> {
    if (this.#outputEnded) {
      return Promise.reject(new TypeError("Cannot write to session: its output has ended"));
    }
    this.#produced += data.length;
    return this.#enqueue(async () => {
      const out = this.#out;
      for (let at = 0; at < data.length; at += MAX_DATA_PAYLOAD) {
        const chunk = data.subarray(at, at + MAX_DATA_PAYLOAD);
        writeFrameHeader(out, 0, FrameType.data, chunk.length);
        out.set(chunk, FRAME_HEADER_LENGTH);
        await writeAll(this.#conn, out.subarray(0, FRAME_HEADER_LENGTH + chunk.length));
      }
    });
  }

  /**
   * Sends a state cookie (ASAP Cookie) standing for every client byte read and every byte
   * written so far: call it only when the application's state, as `cookie` holds it, covers
   * all of them. The proxy echoes the last one to the next pool element if this one fails.
   *
   * @throws {TypeError} after {@linkcode end}; socket errors of the channel.
   */
  sendCookie(cookie: Uint8Array): Promise<void> {
    if (this.#outputEnded) {
      return Promise.reject(new TypeError("Cannot send cookie: the session's output has ended"));
    }
    const frame = encodeControlFrame({
      type: FrameType.cookie,
      position: { consumed: this.#consumed, produced: this.#produced },
      message: { type: AsapMessageType.cookie, cookie },
    });
    return this.#enqueue(() => writeAll(this.#conn, frame));
  }

  /**
   * Sends an ASAP Business Card naming the pool elements the proxy should try first if this
   * one fails, in order of preference (RFC 5352 §2.2.13).
   *
   * @throws {RangeError} when `poolElements` is empty; socket errors of the channel.
   */
  sendBusinessCard(
    poolHandle: string | Uint8Array,
    poolElements: readonly PoolElementParameter[],
  ): Promise<void> {
    const frame = encodeControlFrame({
      type: FrameType.asap,
      message: {
        type: AsapMessageType.businessCard,
        poolHandle: toPoolHandle(poolHandle, "send Business Card"),
        poolElements,
      },
    });
    return this.#enqueue(() => writeAll(this.#conn, frame));
  }

  /** Ends the session's output (end frame) after what was written; idempotent. */
  end(): Promise<void> {
    if (this.#outputEnded) return this.#writing;
    this.#outputEnded = true;
    const frame = encodeControlFrame({ type: FrameType.end });
    return this.#enqueue(() => writeAll(this.#conn, frame));
  }

  /** Resolves once everything sent so far is written (rejects if a write failed). */
  flush(): Promise<void> {
    return this.#enqueue(() => Promise.resolve());
  }

  /** Closes the channel at once, without an end frame: the proxy moves the session on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Runs `task` after every earlier write; a failed write fails every later one. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#writing.then(() => {
      if (this.#writeError !== undefined) throw this.#writeError;
      return task();
    });
    this.#writing = run.catch((error: unknown) => {
      this.#writeError ??= error;
    });
    return run;
  }
}

/** Starts a server of DATA PLUS CONTROL sessions; binds synchronously (`addr` is real at once). */
export function servePeSessions<S>(options: PeSessionServerOptions<S>): PeSessionServer {
  return new PeSessionServer(options);
}

/** A running session server; see {@linkcode servePeSessions}. */
export class PeSessionServer extends TypedEventTarget<PeSessionEventDetails>
  implements AsyncDisposable {
  /** Where the server accepts channels. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has stopped: listener closed, every session ended. */
  readonly finished: Promise<void>;
  readonly #options: PeSessionServerOptions<unknown>;
  readonly #listener: Deno.TcpListener;
  readonly #logger: Logger;
  readonly #maxSessions: number;
  readonly #handshakeTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #readBufferBytes: number;
  readonly #open = new Map<number, ByteStream>();
  readonly #running = new Set<Promise<void>>();
  readonly #finished = Promise.withResolvers<void>();
  #nextId = 0;
  #stopping: Promise<void> | undefined;

  /** Use {@linkcode servePeSessions}. */
  constructor(options: PeSessionServerOptions<unknown>) {
    super();
    this.#options = options;
    this.#maxSessions = checkPositive("maxSessions", options.maxSessions, DEFAULT_MAX_PE_SESSIONS);
    this.#handshakeTimeoutMs = checkPositive(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs,
      DEFAULT_PE_HANDSHAKE_TIMEOUT_MS,
    );
    this.#lingerMs = checkPositive("lingerMs", options.lingerMs, DEFAULT_PE_LINGER_MS);
    this.#readBufferBytes = checkPositive(
      "readBufferBytes",
      options.readBufferBytes,
      DEFAULT_PE_READ_BUFFER_BYTES,
    );
    this.#logger = options.logger ?? getLogger([...DEFAULT_ASAP_LOG_CATEGORY, "session"]);
    this.#listener = Deno.listen({
      hostname: options.hostname ?? DEFAULT_PE_SESSION_HOSTNAME,
      port: options.port,
      transport: "tcp",
    });
    this.addr = this.#listener.addr;
    this.finished = this.#finished.promise;
    this.#acceptLoop();
    if (options.signal?.aborted) this.shutdown();
    else options.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.#open.size;
  }

  /**
   * Stops accepting and closes every channel without an end frame, so that the proxy moves
   * each session to another pool element (from its last cookie); resolves with `finished`.
   * Idempotent. Deregister the pool element first, so that the proxy does not pick it again.
   */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Same as `shutdown()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  readonly #onAbort = () => {
    this.shutdown();
  };

  async #stop(): Promise<void> {
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#open.values()) closeQuietly(conn);
    await Promise.all(this.#running);
    this.#finished.resolve();
  }

  async #acceptLoop(): Promise<void> {
    while (this.#stopping === undefined) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (
          this.#stopping !== undefined || error instanceof Deno.errors.BadResource ||
          error instanceof Deno.errors.Interrupted
        ) {
          return;
        }
        this.#logger.error("Cannot accept a channel on {address}: {error}", {
          address: formatAddress(this.addr),
          error,
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (this.#open.size >= this.#maxSessions || this.#stopping !== undefined) {
        this.#logger.warn("Closing channel at once: {count} sessions open", {
          peer: formatAddress(conn.remoteAddr),
          count: this.#open.size,
        });
        closeQuietly(conn);
        continue;
      }
      const id = ++this.#nextId;
      this.#open.set(id, conn);
      const running = this.#serveChannel(id, conn).finally(() => {
        this.#open.delete(id);
        this.#running.delete(running);
      });
      this.#running.add(running);
    }
  }

  /** Runs one channel to its end; never rejects. */
  async #serveChannel(id: number, conn: Deno.TcpConn): Promise<void> {
    const peer = formatAddress(conn.remoteAddr);
    let session: PeSession | undefined;
    let reason: PeSessionEndReason = "channel-lost";
    try {
      conn.setNoDelay(true);
      // Both hellos at once; a failure of either is the channel's (neither is left unawaited).
      const [opened] = await Promise.all([
        openChannel(conn, this.#readBufferBytes, this.#handshakeTimeoutMs),
        writeAll(conn, encodeHello({ version: DATA_CHANNEL_VERSION, resume: false })),
      ]);
      session = new PeSession({ id, conn, ...opened });
      let state: unknown;
      try {
        state = await this.#options.restore(opened.cookie, session);
      } catch (error) {
        reason = "refused";
        this.#logger.warn("Session {sessionId} refused its Cookie Echo: {error}", {
          peer,
          sessionId: id,
          error: error instanceof Error ? error.message : String(error),
        });
        await writeAll(conn, refusal());
        return;
      }
      this.emit("session-start", {
        sessionId: id,
        peer,
        resumedAt: opened.cookie === undefined ? undefined : opened.position,
      });
      this.#logger.debug("Session {sessionId} started ({resumed})", {
        peer,
        sessionId: id,
        resumed: opened.cookie === undefined
          ? "new"
          : `resumed at consumed=${opened.position.consumed} produced=${opened.position.produced}`,
      });
      try {
        await this.#options.serve(session, state);
      } catch (error) {
        reason = this.#stopping !== undefined
          ? "shutdown"
          : error instanceof DataChannelError
          ? "protocol-error"
          : isPeerGone(error) || error instanceof Deno.errors.BadResource
          ? "channel-lost"
          : "failed";
        if (reason === "failed") {
          this.#logger.error("Session {sessionId} failed: {error}", { peer, sessionId: id, error });
        }
        return;
      }
      await session.end();
      reason = await linger(session, this.#lingerMs);
    } catch (error) {
      reason = this.#stopping !== undefined
        ? "shutdown"
        : error instanceof DataChannelError || error instanceof HandshakeTimeoutError
        ? "protocol-error"
        : "channel-lost";
      if (reason === "protocol-error") {
        this.#logger.warn("Closing channel {sessionId}: {error}", {
          peer,
          sessionId: id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    } finally {
      if (session === undefined) closeQuietly(conn);
      else session.close();
      this.emit("session-end", {
        sessionId: id,
        peer,
        reason,
        consumed: session?.consumed ?? 0,
        produced: session?.produced ?? 0,
      });
    }
  }
}

/** The proxy's hello did not come in time. */
class HandshakeTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Cannot open channel: no hello from the proxy within ${timeoutMs} ms`);
    this.name = "HandshakeTimeoutError";
  }
}

/** Reads the proxy's hello and, when it says so, the Cookie Echo that follows. */
async function openChannel(
  conn: ByteStream,
  bufferBytes: number,
  timeoutMs: number,
): Promise<Omit<PeSessionInit, "id" | "conn"> & { cookie: Uint8Array | undefined }> {
  const buffer = new Uint8Array(bufferBytes);
  const decoder = new DataChannelDecoder({ peer: "proxy" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, timeoutMs);
  try {
    let resume: boolean | undefined;
    while (true) {
      const kind = decoder.next();
      if (kind === Decoded.hello) {
        resume = decoder.hello?.resume ?? false;
        if (!resume) {
          return { decoder, buffer, position: { consumed: 0, produced: 0 }, cookie: undefined };
        }
        continue;
      }
      if (kind === Decoded.frame) {
        const frame = decoder.frame;
        if (frame.type === FrameType.cookie) {
          return {
            decoder,
            buffer,
            position: frame.position,
            cookie: frame.message.cookie.slice(),
          };
        }
      }
      if (kind !== Decoded.none) {
        throw new DataChannelError(
          `Cannot open channel at offset ${decoder.offset}: the hello promised a Cookie Echo, another frame came`,
          decoder.offset,
        );
      }
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        if (timedOut) throw new HandshakeTimeoutError(timeoutMs);
        throw error;
      }
      if (n === null) {
        throw new DataChannelError(
          `Cannot open channel at offset ${decoder.offset}: the proxy closed it during the handshake`,
          decoder.offset,
        );
      }
      decoder.feed(buffer.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for the proxy's end frame, dropping unread client bytes, for at most `ms`. */
async function linger(session: PeSession, ms: number): Promise<PeSessionEndReason> {
  if (session.inputEnded) return "completed";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expired = false;
  const scratch = new Uint8Array(16 * 1024);
  const drained = (async () => {
    while ((await session.read(scratch)) !== null) {
      // The application is done with the input.
    }
  })();
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      expired = true;
      resolve();
    }, ms);
  });
  try {
    await Promise.race([drained, timeout]);
  } catch {
    return "channel-lost";
  } finally {
    clearTimeout(timer);
  }
  if (expired) {
    session.close();
    await drained.catch(() => {});
    return "linger-timeout";
  }
  return "completed";
}

function refusal(): Uint8Array {
  return encodeControlFrame({
    type: FrameType.asap,
    message: {
      type: AsapMessageType.error,
      errorCauses: [{ code: ErrorCauseCode.invalidValues, info: new Uint8Array(0) }],
    },
  });
}

async function writeAll(conn: ByteStream, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function checkPositive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 1) {
    throw new RangeError(
      `Cannot serve sessions as '${name}' must be a positive integer: current value is ${resolved}`,
    );
  }
  return resolved;
}
