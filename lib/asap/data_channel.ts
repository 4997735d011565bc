/**
 * The framed data channel between the proxy and a DATA PLUS CONTROL pool element (RFC 5354 §3.4
 * transport use 1), version 1: what SCTP's payload protocol identifier does for RSPLIB, over
 * TCP (`docs/data_channel.md`, spec/rserpool-wire.md §10). Pure: encoders and an incremental
 * decoder over byte arrays, no I/O.
 *
 * Each side first sends an 8-byte hello (magic "PGDC", version, flags, two reserved bytes),
 * then frames of a 4-byte header (type u8, payload length u24, big-endian) and the payload:
 * application data, an ASAP message (Business Card, Error), an ASAP Cookie or Cookie Echo with
 * the stream positions it stands for, or the end of the session.
 *
 * @module
 */
import { AsapMessageType } from "../wire/codes.ts";
import { decodeAsapMessage, encodeAsapMessage } from "../wire/asap_codec.ts";
import type {
  AsapBusinessCard,
  AsapCookie,
  AsapCookieEcho,
  AsapError,
  AsapMessage,
} from "../wire/asap_messages.ts";
import { WireError } from "../wire/wire_error.ts";

/** The first four bytes of every hello: "PGDC" (Poolgate data channel). */
export const DATA_CHANNEL_MAGIC: Uint8Array = Uint8Array.of(0x50, 0x47, 0x44, 0x43);
/** The version this code speaks. */
export const DATA_CHANNEL_VERSION = 1;
/** Bytes of a hello. */
export const HELLO_LENGTH = 8;
/** Bytes of a frame header: type (u8) and payload length (u24). */
export const FRAME_HEADER_LENGTH = 4;
/** Largest payload of a data frame (64 KiB). */
export const MAX_DATA_PAYLOAD = 64 * 1024;
/** Bytes of the two stream positions a cookie frame carries before its ASAP message. */
export const COOKIE_POSITION_LENGTH = 16;
/** Largest ASAP message a frame carries: Length 65535 plus its final padding. */
export const MAX_ASAP_MESSAGE_BYTES = 65536;
/** Largest payload of an ASAP or cookie frame. */
export const MAX_CONTROL_PAYLOAD: number = COOKIE_POSITION_LENGTH + MAX_ASAP_MESSAGE_BYTES;

/** Frame types of version 1. */
export const FrameType = {
  /** Application bytes: the client's towards the pool element, the pool element's back. */
  data: 0x00,
  /** One ASAP message without a stream position: Business Card, Error. */
  asap: 0x01,
  /** Consumed and produced counts, then an ASAP Cookie (PE → proxy) or Cookie Echo (back). */
  cookie: 0x02,
  /** The sender sends nothing more; a plain end of stream without it is a failure. */
  end: 0x03,
} as const;
/** One frame type code. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** Bits of a hello's flags byte. */
export const HelloFlag = {
  /** Proxy → PE: the next frame is a cookie frame with the Cookie Echo the session resumes from. */
  resume: 0x01,
} as const;

/** Who sent the bytes a decoder reads: each side may send only some ASAP messages. */
export type DataChannelPeer = "proxy" | "pool-element";

/** A hello: the version the sender speaks and whether a Cookie Echo follows. */
export interface DataChannelHello {
  /** The highest version the sender speaks; the channel uses the lower of the two. */
  readonly version: number;
  /** Set by the proxy when the session resumes from a Cookie Echo (the next frame). */
  readonly resume: boolean;
}

/** Where a cookie stands in the session's two byte streams. */
export interface StreamPosition {
  /** Client bytes the application had consumed when it made the cookie (from the session's start). */
  readonly consumed: number;
  /** Bytes the application had produced for the client by then (from the session's start). */
  readonly produced: number;
}

/** An ASAP frame's message: what a pool element or the proxy may send without a position. */
export type ChannelAsapMessage = AsapBusinessCard | AsapError;

/** A frame other than data. */
export type ControlFrame =
  | { readonly type: typeof FrameType.asap; readonly message: ChannelAsapMessage }
  | {
    readonly type: typeof FrameType.cookie;
    readonly position: StreamPosition;
    readonly message: AsapCookie | AsapCookieEcho;
  }
  | { readonly type: typeof FrameType.end };

/** A malformed hello or frame: the channel that carried it is closed. */
export class DataChannelError extends Error {
  /** Offset in the stream (from its first byte, the hello's) where the problem was found. */
  readonly offset: number;

  /** Builds the error; `message` follows the Deno style ("Cannot decode … at offset N: …"). */
  constructor(message: string, offset: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataChannelError";
    this.offset = offset;
  }
}

/** Writes a hello into `target` at `offset`; returns the offset after it. */
export function writeHello(target: Uint8Array, offset: number, hello: DataChannelHello): number {
  checkByte("version", hello.version, 1);
  target.set(DATA_CHANNEL_MAGIC, offset);
  target[offset + 4] = hello.version;
  target[offset + 5] = hello.resume ? HelloFlag.resume : 0;
  target[offset + 6] = 0;
  target[offset + 7] = 0;
  return offset + HELLO_LENGTH;
}

/** Encodes a hello into a new array. */
export function encodeHello(hello: DataChannelHello): Uint8Array {
  const bytes = new Uint8Array(HELLO_LENGTH);
  writeHello(bytes, 0, hello);
  return bytes;
}

/**
 * Decodes a hello from the first {@linkcode HELLO_LENGTH} bytes of `bytes`. Unknown flags and
 * the reserved bytes are ignored, so that later versions can use them.
 *
 * @throws {DataChannelError} on a wrong magic or version 0.
 */
export function decodeHello(bytes: Uint8Array): DataChannelHello {
  if (bytes.length < HELLO_LENGTH) {
    throw new DataChannelError(
      `Cannot decode hello at offset 0: ${bytes.length} bytes are below the ${HELLO_LENGTH} a hello takes`,
      0,
    );
  }
  for (let i = 0; i < DATA_CHANNEL_MAGIC.length; i++) {
    if (bytes[i] !== DATA_CHANNEL_MAGIC[i]) {
      throw new DataChannelError(
        `Cannot decode hello at offset ${i}: the magic is not "PGDC" (byte 0x${
          bytes[i]!.toString(16).padStart(2, "0")
        })`,
        i,
      );
    }
  }
  const version = bytes[4]!;
  if (version < 1) {
    throw new DataChannelError("Cannot decode hello at offset 4: version 0 does not exist", 4);
  }
  return { version, resume: (bytes[5]! & HelloFlag.resume) !== 0 };
}

/** Writes a frame header into `target` at `offset`; returns the offset after it. */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  type: FrameType,
  length: number,
): number {
  const max = type === FrameType.data
    ? MAX_DATA_PAYLOAD
    : type === FrameType.end
    ? 0
    : MAX_CONTROL_PAYLOAD;
  if (!Number.isInteger(length) || length < 0 || length > max) {
    throw new RangeError(
      `Cannot encode frame of type ${type} as its payload length must be 0 to ${max}: current value is ${length}`,
    );
  }
  target[offset] = type;
  target[offset + 1] = length >>> 16;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
  return offset + FRAME_HEADER_LENGTH;
}

/**
 * Frames `data` as data frames of at most {@linkcode MAX_DATA_PAYLOAD} bytes into `target` at
 * `offset`; returns the offset after them. {@linkcode dataFramesLength} is the room needed.
 */
export function writeDataFrames(target: Uint8Array, offset: number, data: Uint8Array): number {
  for (let at = 0; at < data.length; at += MAX_DATA_PAYLOAD) {
    const chunk = data.subarray(at, at + MAX_DATA_PAYLOAD);
    offset = writeFrameHeader(target, offset, FrameType.data, chunk.length);
    target.set(chunk, offset);
    offset += chunk.length;
  }
  return offset;
}

/** Bytes that {@linkcode writeDataFrames} takes for `dataLength` bytes of data. */
export function dataFramesLength(dataLength: number): number {
  return dataLength + Math.ceil(dataLength / MAX_DATA_PAYLOAD) * FRAME_HEADER_LENGTH;
}

/**
 * Encodes a control frame: an ASAP frame, a cookie frame (with its position) or an end frame.
 *
 * @throws {RangeError} when a position is not a non-negative safe integer, or from the ASAP
 * encoder.
 */
export function encodeControlFrame(frame: ControlFrame): Uint8Array {
  switch (frame.type) {
    case FrameType.end: {
      const bytes = new Uint8Array(FRAME_HEADER_LENGTH);
      writeFrameHeader(bytes, 0, FrameType.end, 0);
      return bytes;
    }
    case FrameType.asap: {
      const message = encodeAsapMessage(frame.message);
      const bytes = new Uint8Array(FRAME_HEADER_LENGTH + message.length);
      writeFrameHeader(bytes, 0, FrameType.asap, message.length);
      bytes.set(message, FRAME_HEADER_LENGTH);
      return bytes;
    }
    case FrameType.cookie: {
      const { consumed, produced } = frame.position;
      checkCount("consumed", consumed);
      checkCount("produced", produced);
      const message = encodeAsapMessage(frame.message);
      const length = COOKIE_POSITION_LENGTH + message.length;
      const bytes = new Uint8Array(FRAME_HEADER_LENGTH + length);
      writeFrameHeader(bytes, 0, FrameType.cookie, length);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      view.setBigUint64(FRAME_HEADER_LENGTH, BigInt(consumed));
      view.setBigUint64(FRAME_HEADER_LENGTH + 8, BigInt(produced));
      bytes.set(message, FRAME_HEADER_LENGTH + COOKIE_POSITION_LENGTH);
      return bytes;
    }
  }
}

/** What {@linkcode DataChannelDecoder.next} found. */
export const Decoded = {
  /** Nothing more in the bytes fed so far: feed more. */
  none: 0,
  /** The peer's hello: {@linkcode DataChannelDecoder.hello}. */
  hello: 1,
  /** Data payload bytes: `dataStart` to `dataEnd` of the bytes fed (part of a frame, maybe). */
  data: 2,
  /** A control frame: {@linkcode DataChannelDecoder.frame}. */
  frame: 3,
} as const;
/** One result of {@linkcode DataChannelDecoder.next}. */
export type Decoded = typeof Decoded[keyof typeof Decoded];

/** Options of {@linkcode DataChannelDecoder}. */
export interface DataChannelDecoderOptions {
  /** Who sends the bytes decoded: decides which ASAP messages are allowed. */
  readonly peer: DataChannelPeer;
}

const HELLO = 0;
const HEADER = 1;
const DATA = 2;
const CONTROL = 3;
const FAILED = 4;

/**
 * Decodes one direction of a data channel incrementally, as the bytes arrive: first the hello,
 * then frames. Data payloads are reported as ranges of the bytes fed, without copying, as soon
 * as any of their bytes are there; a control frame is reported whole (one split over feeds is
 * gathered in a buffer of its own, at most {@linkcode MAX_CONTROL_PAYLOAD} bytes).
 *
 * ```ts
 * decoder.feed(buffer.subarray(0, n));
 * for (let kind = decoder.next(); kind !== Decoded.none; kind = decoder.next()) { … }
 * ```
 *
 * Frames not allowed from `peer`, unknown frame types and lengths out of range throw a
 * {@linkcode DataChannelError} before anything is allocated for them; the decoder is then
 * unusable.
 */
export class DataChannelDecoder {
  readonly #peer: DataChannelPeer;
  #state = HELLO;
  #input: Uint8Array = new Uint8Array(0);
  #at = 0;
  /** Stream offset of `#input[0]`. */
  #base = 0;
  /** Header or hello bytes gathered across feeds. */
  readonly #small = new Uint8Array(HELLO_LENGTH);
  #smallHave = 0;
  #frameType = 0;
  #remaining = 0;
  #frameOffset = 0;
  #control: Uint8Array | undefined;
  #controlHave = 0;
  #hello: DataChannelHello | undefined;
  #frame: ControlFrame | undefined;
  #dataStart = 0;
  #dataEnd = 0;

  /** Creates a decoder for the bytes `options.peer` sends. */
  constructor(options: DataChannelDecoderOptions) {
    this.#peer = options.peer;
  }

  /** The hello, once {@linkcode next} has returned `Decoded.hello`. */
  get hello(): DataChannelHello | undefined {
    return this.#hello;
  }

  /** The control frame {@linkcode next} last returned; ASAP fields are views: `slice()` to keep. */
  get frame(): ControlFrame {
    if (this.#frame === undefined) throw new TypeError("Cannot get frame: none decoded yet");
    return this.#frame;
  }

  /** Start of the data range {@linkcode next} last returned, as an index into the bytes fed. */
  get dataStart(): number {
    return this.#dataStart;
  }

  /** End (exclusive) of the data range {@linkcode next} last returned. */
  get dataEnd(): number {
    return this.#dataEnd;
  }

  /** Bytes of the stream decoded so far, the hello included. */
  get offset(): number {
    return this.#base + this.#at;
  }

  /** True between frames: nothing of a frame (or the hello) is pending. */
  get atBoundary(): boolean {
    return this.#state === HEADER && this.#smallHave === 0;
  }

  /**
   * Hands the decoder the next bytes of the stream. Call only once {@linkcode next} has returned
   * `Decoded.none` for the bytes fed before; `bytes` must stay unchanged until then.
   */
  feed(bytes: Uint8Array): void {
    if (this.#at < this.#input.length) {
      throw new TypeError("Cannot feed data channel decoder: the bytes fed before are not decoded");
    }
    this.#base += this.#input.length;
    this.#input = bytes;
    this.#at = 0;
  }

  /**
   * Decodes the next item of the bytes fed.
   *
   * @throws {DataChannelError} on a malformed hello or frame, or a frame `peer` may not send.
   */
  next(): Decoded {
    try {
      return this.#next();
    } catch (error) {
      this.#state = FAILED;
      throw error;
    }
  }

  #next(): Decoded {
    const input = this.#input;
    while (true) {
      switch (this.#state) {
        case HELLO: {
          if (!this.#gather(HELLO_LENGTH)) return Decoded.none;
          this.#hello = decodeHello(this.#small);
          this.#smallHave = 0;
          this.#state = HEADER;
          return Decoded.hello;
        }
        case HEADER: {
          let header: Uint8Array;
          let headerAt: number;
          if (this.#smallHave === 0 && input.length - this.#at >= FRAME_HEADER_LENGTH) {
            header = input;
            headerAt = this.#at;
            this.#at += FRAME_HEADER_LENGTH;
          } else {
            if (!this.#gather(FRAME_HEADER_LENGTH)) return Decoded.none;
            header = this.#small;
            headerAt = 0;
            this.#smallHave = 0;
          }
          this.#frameOffset = this.offset - FRAME_HEADER_LENGTH;
          this.#startFrame(
            header[headerAt]!,
            (header[headerAt + 1]! << 16) | (header[headerAt + 2]! << 8) | header[headerAt + 3]!,
          );
          if (this.#state === HEADER) return Decoded.frame;
          break;
        }
        case DATA: {
          if (this.#at === input.length) return Decoded.none;
          const take = Math.min(this.#remaining, input.length - this.#at);
          this.#dataStart = this.#at;
          this.#at += take;
          this.#dataEnd = this.#at;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = HEADER;
          return Decoded.data;
        }
        case CONTROL: {
          const length = this.#remaining;
          let payload: Uint8Array;
          if (this.#control === undefined && input.length - this.#at >= length) {
            payload = input.subarray(this.#at, this.#at + length);
            this.#at += length;
          } else {
            this.#control ??= new Uint8Array(length);
            const take = Math.min(length - this.#controlHave, input.length - this.#at);
            this.#control.set(input.subarray(this.#at, this.#at + take), this.#controlHave);
            this.#controlHave += take;
            this.#at += take;
            if (this.#controlHave < length) return Decoded.none;
            payload = this.#control;
            this.#control = undefined;
            this.#controlHave = 0;
          }
          this.#frame = this.#decodeControl(payload);
          this.#state = HEADER;
          return Decoded.frame;
        }
        default:
          throw new TypeError("Cannot decode data channel: an earlier frame was malformed");
      }
    }
  }

  /** Copies header or hello bytes into `#small` until it holds `length`; false if short. */
  #gather(length: number): boolean {
    const take = Math.min(length - this.#smallHave, this.#input.length - this.#at);
    this.#small.set(this.#input.subarray(this.#at, this.#at + take), this.#smallHave);
    this.#smallHave += take;
    this.#at += take;
    return this.#smallHave === length;
  }

  #startFrame(type: number, length: number): void {
    const at = this.#frameOffset;
    switch (type) {
      case FrameType.data:
        if (length === 0 || length > MAX_DATA_PAYLOAD) {
          throw this.#lengthError("data", length, 1, MAX_DATA_PAYLOAD);
        }
        this.#remaining = length;
        this.#state = DATA;
        return;
      case FrameType.end:
        if (length !== 0) throw this.#lengthError("end", length, 0, 0);
        this.#frame = { type: FrameType.end };
        this.#state = HEADER;
        return;
      case FrameType.asap:
      case FrameType.cookie: {
        const min = type === FrameType.cookie ? COOKIE_POSITION_LENGTH + 4 : 4;
        const max = type === FrameType.cookie ? MAX_CONTROL_PAYLOAD : MAX_ASAP_MESSAGE_BYTES;
        if (length < min || length > max) {
          throw this.#lengthError(type === FrameType.cookie ? "cookie" : "ASAP", length, min, max);
        }
        this.#frameType = type;
        this.#remaining = length;
        this.#state = CONTROL;
        return;
      }
      default:
        throw new DataChannelError(
          `Cannot decode frame at offset ${at}: type 0x${type.toString(16)} is unknown`,
          at,
        );
    }
  }

  #lengthError(what: string, length: number, min: number, max: number): DataChannelError {
    const at = this.#frameOffset;
    return new DataChannelError(
      `Cannot decode ${what} frame at offset ${at}: length ${length} is outside ${min} to ${max}`,
      at + 1,
    );
  }

  #decodeControl(payload: Uint8Array): ControlFrame {
    const at = this.#frameOffset;
    if (this.#frameType === FrameType.asap) {
      const message = this.#decodeAsap(payload, at + FRAME_HEADER_LENGTH);
      if (
        message.type === AsapMessageType.error ||
        (message.type === AsapMessageType.businessCard && this.#peer === "pool-element")
      ) {
        return { type: FrameType.asap, message };
      }
      throw this.#notAllowed(message.type, "an ASAP frame", at);
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const consumed = readCount(view, 0, at + FRAME_HEADER_LENGTH);
    const produced = readCount(view, 8, at + FRAME_HEADER_LENGTH + 8);
    const message = this.#decodeAsap(
      payload.subarray(COOKIE_POSITION_LENGTH),
      at + FRAME_HEADER_LENGTH + COOKIE_POSITION_LENGTH,
    );
    const expected = this.#peer === "pool-element"
      ? AsapMessageType.cookie
      : AsapMessageType.cookieEcho;
    if (message.type !== expected) throw this.#notAllowed(message.type, "a cookie frame", at);
    return {
      type: FrameType.cookie,
      position: { consumed, produced },
      message: message as AsapCookie | AsapCookieEcho,
    };
  }

  #decodeAsap(bytes: Uint8Array, offset: number): AsapMessage {
    // The message must fill the payload: its Length (with padding) is the rest of the frame.
    const length = ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
    if (((length + 3) & ~3) !== bytes.length && length !== bytes.length) {
      throw new DataChannelError(
        `Cannot decode ASAP message at offset ${offset}: its length ${length} does not fill the ${bytes.length} bytes of its frame`,
        offset + 2,
      );
    }
    try {
      return decodeAsapMessage(bytes);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      throw new DataChannelError(
        `Cannot decode ASAP message at offset ${offset + error.offset}: ${error.message}`,
        offset + error.offset,
        { cause: error },
      );
    }
  }

  #notAllowed(messageType: number, where: string, at: number): DataChannelError {
    return new DataChannelError(
      `Cannot accept frame at offset ${at}: ASAP message type 0x${
        messageType.toString(16)
      } may not come from the ${this.#peer} in ${where}`,
      at,
    );
  }
}

function readCount(view: DataView, at: number, offset: number): number {
  const value = view.getBigUint64(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DataChannelError(
      `Cannot decode cookie frame at offset ${offset}: count ${value} exceeds 2^53 - 1`,
      offset,
    );
  }
  return Number(value);
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot encode cookie frame as '${name}' must be a non-negative integer: current value is ${value}`,
    );
  }
}

function checkByte(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > 255) {
    throw new RangeError(
      `Cannot encode hello as '${name}' must be an integer from ${min} to 255: current value is ${value}`,
    );
  }
}
