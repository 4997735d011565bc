/**
 * Cuts a byte stream (TCP, TLS) into RSerPool messages: each starts with the 4-byte header and
 * takes `roundup4(Length)` bytes, the final padding being sent but not counted (DECISIONS.md).
 * Pure: the transport layer feeds it what a socket read returned.
 */
import { ErrorCauseCode } from "./codes.ts";
import { DEFAULT_MAX_MESSAGE_LENGTH } from "./decode_options.ts";
import { HEADER_LENGTH, roundup4 } from "./header.ts";
import { WireError } from "./wire_error.ts";

/** Bounds for a {@linkcode MessageFramer}. */
export interface MessageFramerOptions {
  /**
   * Largest message Length accepted (4..65535); a longer one fails before anything is
   * allocated for it.
   * @default {65535}
   */
  readonly maxMessageLength?: number;
}

/**
 * An incremental message framer: `push()` each chunk read from the stream and get back the
 * messages it completes. A message lying wholly inside a chunk is returned as a view of that
 * chunk (decode it before reusing the read buffer); one spread over several chunks is
 * assembled in a buffer of its own. After a framing error the stream cannot be resynchronised
 * and every later `push()` throws the same error.
 */
export class MessageFramer {
  #maxMessageLength: number;
  #header = new Uint8Array(HEADER_LENGTH);
  #headerFill = 0;
  #message: Uint8Array | undefined = undefined;
  #messageFill = 0;
  #consumed = 0;
  #failure: WireError | undefined = undefined;

  /**
   * Creates a framer.
   *
   * @throws {RangeError} when `maxMessageLength` is not an integer from 4 to 65535.
   */
  constructor(options: MessageFramerOptions = {}) {
    const max = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
    if (!Number.isInteger(max) || max < 4 || max > 65535) {
      throw new RangeError(
        `Cannot create message framer as 'maxMessageLength' must be an integer from 4 to 65535: current value is ${max}`,
      );
    }
    this.#maxMessageLength = max;
  }

  /** Bytes held of a message not yet complete (non-zero at end of stream means truncation). */
  get buffered(): number {
    return this.#message === undefined ? this.#headerFill : this.#messageFill;
  }

  /**
   * Takes the next chunk of the stream; returns the messages it completes, each with its
   * padding (`roundup4(Length)` bytes), in stream order.
   *
   * @throws {WireError} when a Length is below 4 (Invalid Values) or above the limit (Lack of
   * Resources), with the stream offset of that Length field.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#failure !== undefined) throw this.#failure;
    const messages: Uint8Array[] = [];
    let p = 0;
    const size = chunk.length;
    while (p < size) {
      const message = this.#message;
      if (message !== undefined) {
        const count = Math.min(message.length - this.#messageFill, size - p);
        message.set(chunk.subarray(p, p + count), this.#messageFill);
        this.#messageFill += count;
        p += count;
        if (this.#messageFill === message.length) {
          messages.push(message);
          this.#message = undefined;
        }
      } else if (this.#headerFill === 0 && size - p >= HEADER_LENGTH) {
        const frame = this.#frameLength(chunk, p, p);
        if (size - p >= frame) {
          messages.push(chunk.subarray(p, p + frame));
          p += frame;
        } else {
          this.#start(frame, chunk.subarray(p));
          p = size;
        }
      } else {
        const count = Math.min(HEADER_LENGTH - this.#headerFill, size - p);
        this.#header.set(chunk.subarray(p, p + count), this.#headerFill);
        this.#headerFill += count;
        p += count;
        if (this.#headerFill === HEADER_LENGTH) {
          this.#headerFill = 0;
          const frame = this.#frameLength(this.#header, 0, p - HEADER_LENGTH);
          if (frame === HEADER_LENGTH) {
            messages.push(this.#header.slice());
          } else {
            this.#start(frame, this.#header);
          }
        }
      }
    }
    this.#consumed += size;
    return messages;
  }

  #start(frame: number, head: Uint8Array): void {
    const message = new Uint8Array(frame);
    message.set(head);
    this.#message = message;
    this.#messageFill = head.length;
  }

  // `at` is where the header starts within the chunk, for the stream offset in errors.
  #frameLength(bytes: Uint8Array, offset: number, at: number): number {
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    if (length < HEADER_LENGTH || length > this.#maxMessageLength) {
      const tooLong = length > this.#maxMessageLength;
      const streamOffset = this.#consumed + at + 2;
      this.#failure = new WireError(
        `Cannot decode message header at offset ${streamOffset}: length ${length} ${
          tooLong ? `exceeds the limit ${this.#maxMessageLength}` : "is below the minimum 4"
        }`,
        tooLong ? ErrorCauseCode.lackOfResources : ErrorCauseCode.invalidValues,
        streamOffset,
      );
      throw this.#failure;
    }
    return roundup4(length);
  }
}
