/** Pool handles as the endpoints take them (text or bytes) and compare them. */
import { DEFAULT_MAX_POOL_HANDLE_LENGTH } from "../wire/decode_options.ts";

const encoder = new TextEncoder();

/**
 * The pool handle's bytes: UTF-8 for text, a copy for bytes.
 *
 * @throws {RangeError} when the handle is empty or longer than the decoders accept.
 */
export function toPoolHandle(handle: string | Uint8Array, action: string): Uint8Array {
  const bytes = typeof handle === "string" ? encoder.encode(handle) : handle.slice();
  if (bytes.length === 0 || bytes.length > DEFAULT_MAX_POOL_HANDLE_LENGTH) {
    throw new RangeError(
      `Cannot ${action} as the pool handle must have from 1 to ${DEFAULT_MAX_POOL_HANDLE_LENGTH} bytes: current length is ${bytes.length}`,
    );
  }
  return bytes;
}

/** A map key for the handle's bytes (one character per byte). */
export function poolHandleKey(handle: Uint8Array): string {
  let key = "";
  for (const byte of handle) key += String.fromCharCode(byte);
  return key;
}

/** True when both byte strings are the same. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}
