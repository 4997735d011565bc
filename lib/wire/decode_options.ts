/** Limits every decoder enforces, with their defaults. */

/**
 * Largest message Length accepted: the u16 maximum, so a message with its final padding takes
 * at most 64 KiB on the wire.
 */
export const DEFAULT_MAX_MESSAGE_LENGTH = 65535;

/**
 * Longest pool handle accepted, in bytes. RFC 5354 sets no limit and RSPLIB stops at 32; 255
 * leaves room for DNS-like names while keeping handlespace keys short.
 */
export const DEFAULT_MAX_POOL_HANDLE_LENGTH = 255;

/**
 * Most parameters (TLVs at any depth, error causes included) one message may hold. Every TLV
 * takes at least 4 bytes, so this default never rejects a message within
 * {@linkcode DEFAULT_MAX_MESSAGE_LENGTH}; lower it to bound the work one untrusted message costs.
 */
export const DEFAULT_MAX_PARAMETERS = 16384;

/** Bounds for {@linkcode decodeAsapMessage} and {@linkcode decodeEnrpMessage}. */
export interface DecodeOptions {
  /**
   * Largest message Length accepted (4..65535).
   * @default {65535}
   */
  readonly maxMessageLength?: number;
  /**
   * Longest pool handle accepted, in bytes (1..65531).
   * @default {255}
   */
  readonly maxPoolHandleLength?: number;
  /**
   * Most parameters one message may hold, nested ones and error causes included (1..).
   * @default {16384}
   */
  readonly maxParameters?: number;
}

/** The limits with every default filled in. */
export interface DecodeLimits {
  readonly maxMessageLength: number;
  readonly maxPoolHandleLength: number;
  readonly maxParameters: number;
}

/** The limits used when no options are given. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxMessageLength: DEFAULT_MAX_MESSAGE_LENGTH,
  maxPoolHandleLength: DEFAULT_MAX_POOL_HANDLE_LENGTH,
  maxParameters: DEFAULT_MAX_PARAMETERS,
});

function checkLimit(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot decode as '${name}' must be an integer from ${min} to ${max}: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Fills in the defaults of `options`.
 *
 * @throws {RangeError} when a limit is out of its range.
 */
export function resolveDecodeOptions(options: DecodeOptions | undefined): DecodeLimits {
  if (options === undefined) return DEFAULT_DECODE_LIMITS;
  return {
    maxMessageLength: checkLimit(
      "maxMessageLength",
      options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH,
      4,
      65535,
    ),
    maxPoolHandleLength: checkLimit(
      "maxPoolHandleLength",
      options.maxPoolHandleLength ?? DEFAULT_MAX_POOL_HANDLE_LENGTH,
      1,
      65531,
    ),
    maxParameters: checkLimit(
      "maxParameters",
      options.maxParameters ?? DEFAULT_MAX_PARAMETERS,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
  };
}
