/**
 * The bounds of one message connection: message size, partial-message deadline and write queue.
 * Shared by {@linkcode MessageConnection}, the server and the client so that each is checked once,
 * when the component starts.
 *
 * @module
 */
import { DEFAULT_MAX_MESSAGE_LENGTH } from "../wire/decode_options.ts";

/** Largest message Length accepted: the u16 maximum; the same constant the decoders use. */
export { DEFAULT_MAX_MESSAGE_LENGTH };
/** Milliseconds a message may take to arrive once its first byte is in. */
export const DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS = 5000;
/** Bytes that may wait in a connection's write queue before the peer counts as a slow consumer. */
export const DEFAULT_MAX_WRITE_QUEUE_BYTES = 1024 * 1024;
/** Queued bytes above which `send()` waits for the queue to drain. */
export const DEFAULT_WRITE_HIGH_WATER_BYTES = 64 * 1024;

/** Bounds of a message connection; each one has a `DEFAULT_` constant. */
export interface MessageLimits {
  /**
   * Largest message Length (header included, padding not) accepted from the peer; a larger one
   * is a framing error. The read buffer grows to at most `roundup4(maxMessageLength)` bytes.
   * From 4 to 65535. @default {DEFAULT_MAX_MESSAGE_LENGTH}
   */
  maxMessageLength?: number;
  /**
   * Milliseconds the connection waits for the rest of a message once part of it is in; time
   * spent while the reader is busy elsewhere does not count. Then the connection closes with a
   * `TransportError` "partial-message-timeout" (slow-drip defence).
   * @default {DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS}
   */
  partialMessageTimeoutMs?: number;
  /**
   * Bytes queued for writing at most; a `send()` that would go beyond closes the connection
   * with a `TransportError` "slow-consumer". @default {DEFAULT_MAX_WRITE_QUEUE_BYTES}
   */
  maxWriteQueueBytes?: number;
  /**
   * Queued bytes above which `send()` resolves only once the queue has drained to this level:
   * the backpressure a sender gets by awaiting `send()`. At most `maxWriteQueueBytes`.
   * @default {DEFAULT_WRITE_HIGH_WATER_BYTES}
   */
  writeHighWaterBytes?: number;
}

/** {@linkcode MessageLimits} with every default filled in. */
export type ResolvedMessageLimits = Readonly<Required<MessageLimits>>;

/**
 * Fills in the defaults of `limits` and checks them; `action` names what is being started, for
 * the message ("start message server").
 *
 * @throws {RangeError} when a bound is out of range.
 */
export function resolveMessageLimits(limits: MessageLimits, action: string): ResolvedMessageLimits {
  const resolved: ResolvedMessageLimits = {
    maxMessageLength: limits.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH,
    partialMessageTimeoutMs: limits.partialMessageTimeoutMs ?? DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS,
    maxWriteQueueBytes: limits.maxWriteQueueBytes ?? DEFAULT_MAX_WRITE_QUEUE_BYTES,
    writeHighWaterBytes: limits.writeHighWaterBytes ?? DEFAULT_WRITE_HIGH_WATER_BYTES,
  };
  const { maxMessageLength, writeHighWaterBytes, maxWriteQueueBytes } = resolved;
  if (!Number.isInteger(maxMessageLength) || maxMessageLength < 4 || maxMessageLength > 0xffff) {
    throw new RangeError(
      `Cannot ${action} as 'maxMessageLength' must be an integer from 4 to 65535: current value is ${maxMessageLength}`,
    );
  }
  for (
    const name of ["partialMessageTimeoutMs", "maxWriteQueueBytes", "writeHighWaterBytes"] as const
  ) {
    requirePositiveInteger(action, name, resolved[name]);
  }
  if (writeHighWaterBytes > maxWriteQueueBytes) {
    throw new RangeError(
      `Cannot ${action} as 'writeHighWaterBytes' must not exceed 'maxWriteQueueBytes': ${writeHighWaterBytes} > ${maxWriteQueueBytes}`,
    );
  }
  return resolved;
}

/** Throws the house-style RangeError unless `value` is a positive integer. */
export function requirePositiveInteger(action: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot ${action} as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
}
