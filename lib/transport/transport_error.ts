/** Why the transport gave up on a connection, beyond framing errors (those are `WireError`s). */
export const TransportErrorCode = {
  /** A message arrived only in part and was not completed within the partial-message deadline. */
  partialMessageTimeout: "partial-message-timeout",
  /** The peer reads too slowly: the write queue would exceed its bound. */
  slowConsumer: "slow-consumer",
  /** The connection was closed before the operation could complete. */
  closed: "closed",
  /** No connection could be made within the connect timeout. */
  connectTimeout: "connect-timeout",
} as const;
/** One transport error code. */
export type TransportErrorCode = typeof TransportErrorCode[keyof typeof TransportErrorCode];

/** A connection-level failure of the message transport; `code` says which. */
export class TransportError extends Error {
  /** What went wrong, for callers that react differently to each case. */
  readonly code: TransportErrorCode;

  /** Builds a transport error; `message` follows the Deno style ("Cannot …: …"). */
  constructor(message: string, code: TransportErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransportError";
    this.code = code;
  }
}
