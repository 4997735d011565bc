import type { ErrorCauseCode } from "./codes.ts";

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

  /** Builds a wire error; `message` follows the Deno style ("Cannot decode … at offset N: …"). */
  constructor(
    message: string,
    causeCode: ErrorCauseCode,
    offset: number,
    causeInfo?: Uint8Array,
  ) {
    super(message);
    this.name = "WireError";
    this.causeCode = causeCode;
    this.offset = offset;
    this.causeInfo = causeInfo;
  }
}
