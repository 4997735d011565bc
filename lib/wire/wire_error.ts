import type { ErrorCauseCode } from "./codes.ts";

/** What a {@linkcode WireError} says beyond its cause and offset. */
export interface WireErrorOptions {
  /**
   * Whether the receiver should answer with an ASAP/ENRP Error carrying this cause. False for
   * an unrecognized parameter or message whose action bits say "discard silently"
   * (RFC 5354 §3, §4).
   * @default {true}
   */
  readonly report?: boolean;
  /** The type code of an unrecognized message (cause 0x2 Unrecognized Message). */
  readonly messageType?: number;
}

/**
 * A malformed or unacceptable RSerPool message: carries the RFC 5354 error cause to answer with
 * and the byte offset where decoding stopped.
 */
export class WireError extends Error {
  /** The error cause an ASAP/ENRP Error message reports for this problem. */
  readonly causeCode: ErrorCauseCode;
  /** Byte offset into the decoded buffer where the problem was found. */
  readonly offset: number;
  /** The offending TLV or message, when the cause carries one (RFC 5354 §3.12). */
  readonly causeInfo: Uint8Array | undefined;
  /** False when the action bits say to discard without answering (RFC 5354 §3, §4). */
  readonly report: boolean;
  /** The type code of an unrecognized message, with cause 0x2 Unrecognized Message. */
  readonly messageType: number | undefined;

  /** Builds a wire error; `message` follows the Deno style ("Cannot decode … at offset N: …"). */
  constructor(
    message: string,
    causeCode: ErrorCauseCode,
    offset: number,
    causeInfo?: Uint8Array,
    options?: WireErrorOptions,
  ) {
    super(message);
    this.name = "WireError";
    this.causeCode = causeCode;
    this.offset = offset;
    this.causeInfo = causeInfo;
    this.report = options?.report ?? true;
    this.messageType = options?.messageType;
  }
}
