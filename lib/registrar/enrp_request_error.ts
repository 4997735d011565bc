/**
 * Why an ENRP request (List Request, Handle Table Request) got no usable answer.
 *
 * @module
 */

/** What went wrong with an ENRP request. */
export const EnrpRequestErrorCode = {
  /** The responder set the R bit: it is starting up, or serves too many downloads (RFC 5353 §2.3). */
  rejected: "rejected",
  /** No response within the timeout (MAX-TIME-NO-RESPONSE for peers). */
  timeout: "timeout",
  /** The connection closed before the response arrived. */
  closed: "closed",
} as const;
/** One ENRP request error code. */
export type EnrpRequestErrorCode = typeof EnrpRequestErrorCode[keyof typeof EnrpRequestErrorCode];

/** An ENRP request that failed; `code` says how. */
export class EnrpRequestError extends Error {
  /** How the request failed. */
  readonly code: EnrpRequestErrorCode;

  /** Builds the error; `message` follows the Deno style ("Cannot …: …"). */
  constructor(message: string, code: EnrpRequestErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.name = "EnrpRequestError";
    this.code = code;
  }
}
