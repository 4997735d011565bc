/** Why an ASAP request to a registrar failed, beyond the caller's own abort. */
export const AsapRequestErrorCode = {
  /** No registrar answered within the request timer after every allowed attempt. */
  timeout: "timeout",
  /** The registrar answered negatively: R bit or Operation Error; `causeCodes` say why. */
  rejected: "rejected",
  /** The endpoint was closed before the request could complete. */
  closed: "closed",
} as const;
/** One request error code. */
export type AsapRequestErrorCode = typeof AsapRequestErrorCode[keyof typeof AsapRequestErrorCode];

/**
 * A request to the home registrar (Registration, Deregistration, Handle Resolution) that did not
 * succeed: `code` says how, `causeCodes` carries the RFC 5354 §3.12 error causes of a rejection.
 */
export class AsapRequestError extends Error {
  /** How the request failed. */
  readonly code: AsapRequestErrorCode;
  /** The error cause codes the registrar sent with a rejection; empty otherwise. */
  readonly causeCodes: readonly number[];

  /** Builds a request error; `message` follows the Deno style ("Cannot …: …"). */
  constructor(
    message: string,
    code: AsapRequestErrorCode,
    causeCodes: readonly number[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "AsapRequestError";
    this.code = code;
    this.causeCodes = causeCodes;
  }
}
