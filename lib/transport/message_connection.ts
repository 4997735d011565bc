/**
 * One ASAP/ENRP connection on a byte stream: whole messages in, whole messages out, with every
 * buffer bounded and a deadline on messages that arrive only in part.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { ByteStream } from "./byte_stream.ts";
import { HEADER_LENGTH, roundup4 } from "../wire/header.ts";
import { frameLength } from "./_framing.ts";
import { formatAddress } from "./format_address.ts";
import { isPeerGone } from "./is_peer_gone.ts";
import {
  type MessageLimits,
  type ResolvedMessageLimits,
  resolveMessageLimits,
} from "./message_limits.ts";
import { TransportError } from "./transport_error.ts";

/** The LogTape category transport records go to unless a logger is given. */
export const DEFAULT_TRANSPORT_LOG_CATEGORY: readonly string[] = ["poolgate", "transport"];

/** The read buffer starts this small and grows, up to the message bound, for larger messages. */
const INITIAL_READ_BUFFER_BYTES = 4096;

/** Options of a {@linkcode MessageConnection}. */
export interface MessageConnectionOptions extends MessageLimits {
  /**
   * Where the connection logs; its records carry the property `peer` ("HOST:PORT").
   * @default {getLogger(DEFAULT_TRANSPORT_LOG_CATEGORY)}
   */
  logger?: Logger;
  /** Closes the connection when it aborts. */
  signal?: AbortSignal;
}

/**
 * ASAP/ENRP messages over one byte stream, framed by the header's Length (DECISIONS.md). Read
 * with `for await (const message of conn)` or {@linkcode MessageConnection.readMessage}; write
 * with {@linkcode MessageConnection.send}. A framing error, a partial message past its deadline,
 * a slow consumer or a failed read or write closes the connection and becomes its
 * {@linkcode MessageConnection.closeReason}, which reads then throw.
 */
export class MessageConnection implements AsyncIterable<Uint8Array>, AsyncDisposable {
  readonly #stream: ByteStream;
  readonly #limits: ResolvedMessageLimits;
  readonly #peer: string;
  readonly #logger: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.close();

  #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  /** Stream offset of `#buffer[#start]`, for framing errors. */
  #streamOffset = 0;
  /** Bytes the message at `#start` needs before it can be taken (at least its header). */
  #needed = HEADER_LENGTH;
  /** Milliseconds spent waiting on the peer for the message at `#start`. */
  #partialWaitMs = 0;
  #reading = false;
  #ended = false;

  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #pumping: Promise<void> | undefined;
  #drainWaiters: PromiseWithResolvers<void>[] = [];

  #closed = false;
  #closeReason: Error | undefined;
  readonly #finished = Promise.withResolvers<void>();

  /**
   * Takes ownership of `stream`: closing the connection closes it, and so does a constructor
   * that throws.
   *
   * @throws {RangeError} when a bound in `options` is out of range.
   */
  constructor(stream: ByteStream, options: MessageConnectionOptions = {}) {
    this.#stream = stream;
    try {
      this.#limits = resolveMessageLimits(options, "open message connection");
      options.signal?.throwIfAborted();
    } catch (error) {
      closeQuietly(stream);
      throw error;
    }
    this.#peer = formatAddress(stream.remoteAddr);
    this.#logger = (options.logger ?? getLogger(DEFAULT_TRANSPORT_LOG_CATEGORY)).with({
      peer: this.#peer,
    });
    this.#buffer = new Uint8Array(
      Math.min(INITIAL_READ_BUFFER_BYTES, roundup4(this.#limits.maxMessageLength)),
    );
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The peer's address as "HOST:PORT" ("[::1]:3863" for IPv6), as in the log records. */
  get peer(): string {
    return this.#peer;
  }

  /** The local address. */
  get localAddr(): Deno.Addr {
    return this.#stream.localAddr;
  }

  /** The peer's address. */
  get remoteAddr(): Deno.Addr {
    return this.#stream.remoteAddr;
  }

  /** True once the connection is closed, by either side or by an error. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The error that closed the connection; undefined while open or after a plain `close()`. */
  get closeReason(): Error | undefined {
    return this.#closeReason;
  }

  /** Bytes queued and not yet written. */
  get writeQueueBytes(): number {
    return this.#queuedBytes;
  }

  /** Resolves once the connection is closed and its writer has stopped. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Resolves to the next message: one `Uint8Array` holding exactly one message, padding
   * included (`roundup4(Length)` bytes), copied out of the read buffer. Resolves to null at the
   * end of the stream between messages (the connection stays open for `send()` until
   * `close()`) or once the connection is closed.
   *
   * @throws {WireError} on a Length below 4 or above `maxMessageLength` (the connection closes).
   * @throws {TransportError} "partial-message-timeout" when a message stalls mid-way.
   * @throws {Deno.errors.UnexpectedEof} when the stream ends inside a message.
   * @throws {TypeError} when another read is pending.
   */
  async readMessage(): Promise<Uint8Array | null> {
    if (this.#reading) {
      throw new TypeError("Cannot read a message: another read on this connection is pending");
    }
    this.#reading = true;
    try {
      for (;;) {
        if (this.#closed) {
          if (this.#closeReason !== undefined) throw this.#closeReason;
          return null;
        }
        const message = this.#takeMessage();
        if (message !== undefined) return message;
        if (this.#ended) return null;
        await this.#fill();
      }
    } catch (error) {
      if (this.#closed && this.#closeReason === undefined) return null;
      const reason = this.#closeReason ?? toError(error);
      this.#fail(reason);
      throw reason;
    } finally {
      this.#reading = false;
    }
  }

  /** Yields each message as {@linkcode MessageConnection.readMessage} returns it. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (let message = await this.readMessage(); message !== null;) {
      yield message;
      message = await this.readMessage();
    }
  }

  /**
   * Queues one encoded message for writing. Resolves at once while the queue holds at most
   * `writeHighWaterBytes`, else once it has drained to that level: awaiting `send()` is the
   * backpressure. A message that would take the queue beyond `maxWriteQueueBytes` closes the
   * connection (the peer reads too slowly) and rejects. `message` is written as it is, not
   * copied: do not change it afterwards.
   *
   * @throws {TransportError} "slow-consumer" when the queue bound is exceeded, "closed" when
   * the connection is (or gets) closed first.
   */
  send(message: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const { maxWriteQueueBytes, writeHighWaterBytes } = this.#limits;
    if (this.#queuedBytes + message.length > maxWriteQueueBytes) {
      const error = new TransportError(
        `Cannot queue ${message.length} bytes for ${this.#peer}: ${this.#queuedBytes} bytes are already waiting and the bound is ${maxWriteQueueBytes}; the peer reads too slowly`,
        "slow-consumer",
      );
      this.#fail(error);
      return Promise.reject(error);
    }
    this.#queue.push(message);
    this.#queuedBytes += message.length;
    this.#startPump();
    if (this.#queuedBytes <= writeHighWaterBytes) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#drainWaiters.push(waiter);
    return waiter.promise;
  }

  /**
   * Resolves once every queued message has been written to the stream.
   *
   * @throws {TransportError} "closed" when the connection closes first.
   */
  async flush(): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping;
    if (this.#closed) throw this.#closedError();
  }

  /** Closes the connection, dropping unwritten messages; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#logger.debug("Closing connection with {peer}");
    this.#shutDown(undefined);
  }

  /** Closes the connection and resolves once its writer has stopped. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return this.finished;
  }

  /** Takes the next complete message out of the buffer, or notes how many bytes it needs. */
  #takeMessage(): Uint8Array | undefined {
    const available = this.#end - this.#start;
    if (available < HEADER_LENGTH) {
      this.#needed = HEADER_LENGTH;
      return undefined;
    }
    // Checked before the buffer grows for the body (shared/STYLE.md §6).
    const frame = frameLength(
      this.#buffer,
      this.#start,
      this.#streamOffset,
      this.#limits.maxMessageLength,
    );
    if (available < frame) {
      this.#needed = frame;
      return undefined;
    }
    const message = this.#buffer.slice(this.#start, this.#start + frame);
    this.#start += frame;
    this.#streamOffset += frame;
    this.#partialWaitMs = 0;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return message;
  }

  /** Reads more bytes from the stream, under the partial-message deadline when a message is open. */
  async #fill(): Promise<void> {
    this.#makeRoom();
    const partial = this.#end > this.#start;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let began = 0;
    if (partial) {
      const remaining = this.#limits.partialMessageTimeoutMs - this.#partialWaitMs;
      if (remaining <= 0) throw this.#partialTimeoutError();
      timer = setTimeout(() => this.#fail(this.#partialTimeoutError()), remaining);
      began = performance.now();
    }
    let count: number | null;
    try {
      count = await this.#stream.read(this.#buffer.subarray(this.#end));
    } finally {
      clearTimeout(timer);
      if (partial) this.#partialWaitMs += performance.now() - began;
    }
    if (this.#closed) return;
    if (count !== null) {
      this.#end += count;
    } else if (partial) {
      throw new Deno.errors.UnexpectedEof(
        `Cannot read message at stream offset ${this.#streamOffset} from ${this.#peer}: the stream ended after ${
          this.#end - this.#start
        } of its bytes`,
      );
    } else {
      this.#ended = true;
    }
  }

  /** Makes room after `#end` for the rest of the open message, compacting or growing. */
  #makeRoom(): void {
    if (this.#start + this.#needed <= this.#buffer.length) return;
    if (this.#needed > this.#buffer.length) {
      // #needed never exceeds roundup4(maxMessageLength): frameLength() checked it.
      const size = Math.max(
        this.#needed,
        Math.min(2 * this.#buffer.length, roundup4(this.#limits.maxMessageLength)),
      );
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = grown;
    } else {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    }
    this.#end -= this.#start;
    this.#start = 0;
  }

  #partialTimeoutError(): TransportError {
    return new TransportError(
      `Cannot read message at stream offset ${this.#streamOffset} from ${this.#peer}: only ${
        this.#end - this.#start
      } of its bytes arrived within ${this.#limits.partialMessageTimeoutMs} ms`,
      "partial-message-timeout",
    );
  }

  #closedError(): TransportError {
    return new TransportError(
      `Cannot send to ${this.#peer}: the connection is closed`,
      "closed",
      this.#closeReason === undefined ? undefined : { cause: this.#closeReason },
    );
  }

  #startPump(): void {
    if (this.#pumping !== undefined) return;
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = undefined;
      // A send() may have queued after the pump's last look at the queue.
      if (this.#queue.length > 0 && !this.#closed) this.#startPump();
    });
  }

  /** Writes the queue out; never rejects: a write error closes the connection. */
  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const batch = this.#takeBatch();
        for (let written = 0; written < batch.length;) {
          written += await this.#stream.write(batch.subarray(written));
        }
        if (this.#closed) return;
        this.#queuedBytes -= batch.length;
        if (this.#queuedBytes <= this.#limits.writeHighWaterBytes) {
          for (const waiter of this.#drainWaiters.splice(0)) waiter.resolve();
        }
      }
    } catch (error) {
      this.#fail(toError(error));
    }
  }

  /** Takes queued messages up to `writeHighWaterBytes` as one write; one message is not copied. */
  #takeBatch(): Uint8Array {
    const limit = this.#limits.writeHighWaterBytes;
    let count = 0;
    let size = 0;
    for (const message of this.#queue) {
      if (count > 0 && size + message.length > limit) break;
      size += message.length;
      count += 1;
    }
    const taken = this.#queue.splice(0, count);
    if (taken.length === 1 && taken[0] !== undefined) return taken[0];
    const batch = new Uint8Array(size);
    let offset = 0;
    for (const message of taken) {
      batch.set(message, offset);
      offset += message.length;
    }
    return batch;
  }

  /** Closes with `error` as the reason and logs it with the peer; idempotent. */
  #fail(error: Error): void {
    if (this.#closed) return;
    if (isPeerGone(error)) {
      this.#logger.info("Connection with {peer} lost: {error}", { error });
    } else {
      this.#logger.warn("Closing connection with {peer}: {error}", { error });
    }
    this.#shutDown(error);
  }

  #shutDown(reason: Error | undefined): void {
    this.#closed = true;
    this.#closeReason = reason;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    closeQuietly(this.#stream);
    this.#queue = [];
    this.#queuedBytes = 0;
    const waiters = this.#drainWaiters.splice(0);
    if (waiters.length > 0) {
      const error = this.#closedError();
      for (const waiter of waiters) waiter.reject(error);
    }
    void (this.#pumping ?? Promise.resolve()).then(() => this.#finished.resolve());
  }
}

function closeQuietly(stream: ByteStream): void {
  try {
    stream.close();
  } catch {
    // Closed already (BadResource): nothing left to release.
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
